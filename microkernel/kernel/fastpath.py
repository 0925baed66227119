"""The IPC fast path: the two calls an RPC is made of, in one function.

Every L4 kernel has one (Liedtke's hand-coded short IPC; seL4's `fastpath_call` and
`fastpath_reply_recv`): the common case is checked with a few tests, done in a
straight line, and everything else falls through to the general path, which does the
same thing more slowly. Here the common case is a send of words (and strings the
receiver accepts) to a thread of the same clan that already waits for the sender,
followed by a receive that must block at once:

  * a call: closed receive from that same thread, nobody queued to send to the caller;
  * a reply_and_wait: open receive with nothing queued, pending or attached.

No items, no deceit, no receive window or limits, a receive timeout of never. The
general path (`ipc.sys_ipc`) takes anything else, malformed requests included, and
answers them with their errors.

The kernel process spends most of a message switching in and out of the host
kernel; what is left is Python, and a shorter path of fewer calls touches less of it.
"""
from __future__ import annotations

from array import array as _u32
from typing import TYPE_CHECKING

from microkernel.abi import NEVER
from microkernel.abi import timeouts as _timeouts
from microkernel.abi.message import MAX_STRINGS, MAX_WORDS

from .ipc import CLOSED, OPEN, RECEIVING, receive_now, sys_ipc, waiting_receiver

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["ipc"]

# timeout words whose receive timeout is never: a call's (never, never) and a server's
# reply_and_wait (0, never); any other word takes the general path
_RCV_NEVER = frozenset({_timeouts.encode(NEVER, NEVER), _timeouts.encode(0, NEVER)})


def ipc(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """The IPC system call: the fast path when it applies, else `ipc.sys_ipc`."""
    if len(h) != 10:
        return sys_ipc(k, t, h, frames)
    _, dest, words, items, tword, rmode, rfrom, window, limits, deceit = h
    # exact types, as sys_ipc demands them: a bool or a float here is refused there
    if (type(items) is not list or items or type(window) is not int or window
            or limits is not None or deceit is not None or t.pf
            or type(tword) is not int or tword not in _RCV_NEVER
            or type(rmode) is not int or type(rfrom) is not int
            or type(dest) is not int or type(words) is not list or len(words) > MAX_WORDS
            or len(frames) > MAX_STRINGS):
        return sys_ipc(k, t, h, frames)
    if rmode == CLOSED:                      # a call: blocks on its partner's reply
        if rfrom != dest or t.senders:
            return sys_ipc(k, t, h, frames)
    elif rmode != OPEN or t.senders or t.pending or t.irq is not None:
        return sys_ipc(k, t, h, frames)
    r = waiting_receiver(k, t, dest, frames)
    if r is None:
        return sys_ipc(k, t, h, frames)
    try:                                     # one C pass: ints in 0..2**32-1, bools as 0/1
        words = _u32("I", words).tolist()
    except (TypeError, OverflowError):
        return sys_ipc(k, t, h, frames)     # which refuses it
    receive_now(k, r, t.tid, words, frames)  # the send: the rendezvous with r
    # the receive: t blocks, with no timeout (V2: the send->receive switch is atomic)
    t.rcv_mode, t.rcv_from, t.rcv_timeout, t.rcv_window, t.rcv_limits = \
        rmode, rfrom, None, None, None
    t.state, t.partner = RECEIVING, rfrom if rmode == CLOSED else 0
