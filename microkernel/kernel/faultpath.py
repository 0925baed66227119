"""The page-fault paths: a thread's fault to a waiting pager, and the pager's one-page map
reply, each in one straight line.

A page fault is two IPCs through the kernel, as a null RPC is: the fault to the pager
and the pager's map reply. The fault (`PAGE_FAULT`, which the fast path declines: it is
no IPC request) went through `dispatch`, `sys_page_fault`, `page_fault_call`,
`waiting_receiver`, `receive_now` and `deliver`; `fault_call_path` does what they do
when the pager waits and nobody waits to send to the faulting thread, with the same
checks, and leaves everything else (sigma0's faults, a pager that does not wait, a bad
request) to them. The reply carries a map item, which the IPC fast path declines, and
so it went through
`dispatch`, `sys_ipc`, `send_phase`, `resolve`, `transfer`, `map_items`, `VM.transfer`,
`after_send` and `receive_phase`: measured in the kernel (cProfile, `mk bench paper`),
that walk was two thirds of the reply's Python. This does the common case directly:
an open reply_and_wait (receive timeout never, nothing queued, pending or attached)
whose send is one map item of one page, no grant, no words beyond MAX_WORDS, no strings,
no deceit, window or limits, to a thread of this node that waits in a page fault on the
sender; the page mapped by `VM._map_page` (a free place under a page table that exists).
Anything else, or a page `_map_page` declines, returns False having changed nothing,
and the request goes to the general path, which does the same thing more slowly.

The fast path (fastpath.py) hands a request here only after it declined it, so the
null RPC's path runs not one test more. While `mk trace` records (docs/trace.md), both
decline: the general path notes each step (the fault, the map, the replies), which a
fast-path entry in the trace could not say.
"""
from __future__ import annotations

from array import array as _u32
from typing import TYPE_CHECKING, Callable

import msgpack
import zmq

from microkernel.abi import SIGMA0_TASK, USER_TOP, KernelError, Op
from microkernel.abi.fpage import Fpage
from microkernel.abi.message import MAX_WORDS
from microkernel.abi.ops import PAGE_FAULT_EIP, PF_PRESENT, PF_WRITE
from microkernel.abi.threadid import (LTHREAD_FIELD, LTHREAD_MASK, LTHREAD_SHIFT, TASK_MASK,
                                      TASK_SHIFT)

from .ipc import _WHOLE, CLOSED, OPEN, RECEIVING, RUNNING

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["fault_reply_path", "fault_call_path", "PF_PREFIX"]

PF_PREFIX = msgpack.packb([int(Op.PAGE_FAULT), 0, 0, 0])[:2]     # how its header begins
_PF_OP = int(Op.PAGE_FAULT)
_SNDMORE = int(zmq.SNDMORE)


def fault_call_path(k: "Kernel") -> Callable[["Thread", bytes], bool]:
    """`call(t, header)`: send running thread `t`'s page fault to its pager if the pager
    waits for it and nobody waits to send to `t` (sys_page_fault + page_fault_call's
    fast case) and return True; else False, nothing changed."""
    tasks, send, pack, unpack = k.tasks, k._snd, k.encode, msgpack.unpackb

    def call(t: "Thread", header: bytes) -> bool:
        if k.tracer is not None:            # traced: the general path, event by event
            return False
        try:
            h = unpack(header)
        except Exception:                   # malformed: the general path says why
            return False
        if type(h) is not list or len(h) != 4 or h[0] != _PF_OP:
            return False
        _, addr, write, present = h
        pager = t.pager
        if (type(addr) is not int or not 0 <= addr < USER_TOP or write not in (0, 1)
                or present not in (0, 1) or t.task.no == SIGMA0_TASK or t.senders
                or type(pager) is not int or not pager):
            return False
        task = tasks.get((pager >> TASK_SHIFT) & TASK_MASK)
        if task is None or task.base != pager & ~LTHREAD_FIELD:
            return False
        r = task.threads.get((pager >> LTHREAD_SHIFT) & LTHREAD_MASK)
        if (r is None or r.state is not RECEIVING or r.pf or r.ident is None
                or (r.rcv_mode != OPEN and r.rcv_from != t.tid)):
            return False
        word = ((addr & ~(PF_WRITE | PF_PRESENT)) | (PF_WRITE if write else 0)
                | (PF_PRESENT if present else 0))
        # the pager receives the V2 fault message (ipc.receive_now, Kernel.deliver)
        if r.timer is not None:
            r.cancel_timer()
        r.state = RUNNING
        send(r.ident, _SNDMORE)
        send(pack([0, t.tid, [word, PAGE_FAULT_EIP], (), None, 0]))
        # the thread waits for the pager's map reply, into its whole space
        t.pf = True
        t.rcv_mode, t.rcv_from, t.rcv_timeout, t.rcv_window, t.rcv_limits = \
            CLOSED, pager, None, _WHOLE, (0, 0)
        t.state, t.partner = RECEIVING, pager
        return True
    return call


def fault_reply_path(k: "Kernel", rcv_never: frozenset) -> Callable[..., bool]:
    """`reply(t, dest, words, items, timeouts, rcv_mode, rcv_from, window, limits,
    deceit, frames)`: carry out pager `t`'s map reply to a faulting thread if it is the common
    case (module docstring) and return True; else False, nothing changed."""
    tasks, vm, send, ok = k.tasks, k.vm, k.send, k.ok_header

    def reply(t: "Thread", dest, words, items, timeouts, rcv_mode, rcv_from, window, limits,
              deceit, frames) -> bool:
        if (k.tracer is not None or frames or deceit is not None or limits is not None or type(window) is not int
                or window or type(timeouts) is not int or timeouts not in rcv_never
                or type(rcv_mode) is not int or rcv_mode != OPEN
                or type(rcv_from) is not int or t.senders or t.pending or t.irq is not None
                or type(dest) is not int or type(words) is not list
                or len(words) > MAX_WORDS or len(items) != 1):
            return False
        item = items[0]
        if type(item) is not list or len(item) != 3 or item[2] not in (0, 1) or item[2]:
            return False                    # (a map is grant 0 or False, as sys_ipc reads it)
        word, snd_base = item[0], item[1]
        if type(snd_base) is not int or not 0 <= snd_base < 1 << 32:
            return False
        task = tasks.get((dest >> TASK_SHIFT) & TASK_MASK)
        if task is None or task.base != dest & ~LTHREAD_FIELD:
            return False
        r = task.threads.get((dest >> LTHREAD_SHIFT) & LTHREAD_MASK)
        if (r is None or not r.pf or r.state is not RECEIVING or r.rcv_from != t.tid
                or r.ident is None):
            return False
        try:
            _u32("I", words)
            fp = Fpage.decode(word)
            if fp.io or fp.log2size != 12:
                return False
            if vm._map_page(t.task.space, fp, snd_base, r.task.space, r.rcv_window) is None:
                return False
        except (TypeError, ValueError, OverflowError, KernelError):
            return False                    # the general path says why
        # the send: the faulting thread's access retries (ipc.transfer for r.pf)
        if r.timer is not None:
            r.cancel_timer()
        r.state, r.pf = RUNNING, False
        send(r.ident, ok)
        # the receive: the pager waits openly again, with no timeout
        t.rcv_mode, t.rcv_from, t.rcv_timeout, t.rcv_window, t.rcv_limits = \
            OPEN, rcv_from, None, None, None
        t.state, t.partner = RECEIVING, 0
        return True
    return reply
