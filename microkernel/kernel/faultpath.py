"""The page-fault reply path: a pager's one-page map reply, in one straight line.

A page fault is two IPCs through the kernel, as a null RPC is: the fault to the pager
and the pager's map reply. The fault is sent as the fast path sends (ipc.page_fault_call);
the reply carries a map item, which the IPC fast path declines, and so it went through
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
null RPC's path runs not one test more.
"""
from __future__ import annotations

from array import array as _u32
from typing import TYPE_CHECKING, Callable

from microkernel.abi import KernelError
from microkernel.abi.fpage import Fpage
from microkernel.abi.message import MAX_WORDS
from microkernel.abi.threadid import (LTHREAD_FIELD, LTHREAD_MASK, LTHREAD_SHIFT, TASK_MASK,
                                      TASK_SHIFT)

from .ipc import OPEN, RECEIVING, RUNNING

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["fault_reply_path"]


def fault_reply_path(k: "Kernel", rcv_never: frozenset) -> Callable[..., bool]:
    """`reply(t, dest, words, items, timeouts, rcv_mode, rcv_from, window, limits,
    deceit, frames)`: carry out pager `t`'s map reply to a faulting thread if it is the common
    case (module docstring) and return True; else False, nothing changed."""
    tasks, vm, send, ok = k.tasks, k.vm, k.send, k.ok_header

    def reply(t: "Thread", dest, words, items, timeouts, rcv_mode, rcv_from, window, limits,
              deceit, frames) -> bool:
        if (frames or deceit is not None or limits is not None or type(window) is not int
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
