"""The pager protocol: page faults (V2 §5), and the default pager's two requests.

A page fault reaches a thread's pager as a two-word message the kernel sends in the
faulting thread's name: `(address | write << 1 | present, PAGE_FAULT_EIP)`. The pager
answers with a map item whose hot spot is the fault address (the kernel's receive window
for it is the whole space), or with nothing mapped (the access faults again: for the
task, a MemoryFault). No request of a protocol served by a pager is exactly two words.

The default pager (task 5, servers/pager.py) also takes:

    COPY     dst:64      share every page of the sender's space with the task of thread
                         `dst` (a thread id) copy-on-write (both get a private copy at
                         their next write); only into a task of the sender's clan: EPERM
    FORGET   tid:64      the task of thread `tid` (that incarnation: its version) is gone:
                         its pages go back to the pool (only from root, the chief of the
                         tasks it pages)

The default pager keeps each task incarnation's pages apart (a task's id carries its
version), so a new task with the number of one that ended never sees its pages, even
before root's FORGET of the old one arrives; a fresh page is zero.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

from microkernel.abi import Msg
from microkernel.abi.ops import PAGE_FAULT_EIP, PF_WRITE

from .interface import Interface, Who, call

__all__ = ["Op", "PAGER", "PAGE", "PAGE_FAULT_EIP", "Fault", "fault_of"]

PAGE = 0x1000


class Op(enum.IntEnum):
    COPY = 0xFFFF_0C01
    FORGET = 0xFFFF_0C02


PAGER = Interface("pager", Op, {
    Op.COPY: call("dst:64"),
    Op.FORGET: call("tid:64", who=Who.CHIEF | Who.ROOT),
})


class Fault(NamedTuple):
    """A decoded page fault: the faulting task, the page's address, a write or not."""
    task: int
    page: int
    write: bool


def fault_of(msg: Msg) -> Fault:
    """The fault a page-fault message reports (the sender is the faulting thread)."""
    w = msg.words[0]
    return Fault(msg.sender.task, w & ~(PAGE - 1), bool(w & PF_WRITE))
