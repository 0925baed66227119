"""The IPC fast path: the two calls an RPC is made of, in one straight line.

Every L4 kernel has one (Liedtke's hand-coded short IPC; seL4's `fastpath_call` and
`fastpath_reply_recv`, tried at system-call entry before the general handler): the
common case is checked with a few tests, done in a straight line, and everything else
falls through to the general path, which does the same thing more slowly. Here the
common case is a send of words (and strings the receiver accepts) to a thread of the
same clan (so of this node) that already waits for the sender, followed by a receive that must block at
once:

  * a call: closed receive from that same thread, nobody queued to send to the caller;
  * a reply_and_wait: open receive with nothing queued, pending or attached.

No items, no deceit, no receive window or limits, a receive timeout of never. The
kernel loop offers each request here first (`Kernel.run`); a False answer means
nothing was done, and the request goes to `Kernel.dispatch` and the system-call
table, where `ipc.sys_ipc` takes anything else, malformed requests included, and
answers them with their errors.

Why one function with the kernel's tables bound in a closure: a message wakes the
kernel on a CPU whose caches hold other processes' data, and there every call,
attribute and global lookup costs several times what it costs warm. The general path
spends its work in `dispatch`, `decode_header`, `thread_of`, `waiting_receiver`,
`receive_now`, `deliver` and `send`; this does the same checks inline, reading only
what it must. `ipc.waiting_receiver` states the receiver rule once for the other
paths; the test `test_fast_path_refuses_what_the_general_path_refuses` keeps the two
in agreement.
"""
from __future__ import annotations

from array import array as _u32
from typing import TYPE_CHECKING, Callable

import msgpack
import zmq

from microkernel.abi import NEVER
from microkernel.abi import timeouts as _timeouts
from microkernel.abi.codec import MAX_HEADER
from microkernel.abi.layout import IPC_REQUEST_PREFIX
from microkernel.abi.message import MAX_STRINGS, MAX_WORDS
from microkernel.abi.threadid import (LTHREAD_FIELD, LTHREAD_MASK, LTHREAD_SHIFT, TASK_MASK,
                                      TASK_SHIFT)

from .faultpath import PF_PREFIX, fault_call_path, fault_reply_path
from .ipc import CLOSED, OPEN, RECEIVING, RUNNING, over_limits

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["fast_path"]

# timeout words whose receive timeout is never: a call's (never, never) and a server's
# reply_and_wait (0, never); any other word takes the general path
_RCV_NEVER = frozenset({_timeouts.encode(NEVER, NEVER), _timeouts.encode(0, NEVER)})
_SNDMORE = int(zmq.SNDMORE)
_TASK_ID_BITS = ~LTHREAD_FIELD     # a raw id without its lthread: its task's id (lthread 0)


def fast_path(k: "Kernel") -> Callable[["Thread", bytes, list], bool]:
    """`fast(t, header, frames)`: carry out thread `t`'s request if it is the common
    IPC case and return True; else return False having changed nothing."""
    tasks, send, pack, unpack = k.tasks, k._snd, k.encode, msgpack.unpackb
    fault_reply = fault_reply_path(k, _RCV_NEVER)
    fault_call = fault_call_path(k)

    def fast(t: "Thread", header: bytes, frames) -> bool:
        # a request that does not begin as an IpcRequest does (or another encoding of
        # one) takes the general path
        if (header[:2] != IPC_REQUEST_PREFIX or t.state is not RUNNING or t.pf
                or len(header) > MAX_HEADER):
            # declined; a page fault has a way of its own (faultpath.py)
            return (header[:2] == PF_PREFIX and t.state is RUNNING and not t.pf
                    and len(header) <= MAX_HEADER and fault_call(t, header))
        try:
            _, dest, words, items, timeouts, rcv_mode, rcv_from, window, limits, deceit = \
                unpack(header)              # an IpcRequest
        except Exception:                   # malformed: the general path says why
            return False
        # exact types, as sys_ipc demands them: a bool or a float here is refused there
        if (type(dest) is not int or type(items) is not list or items
                or type(window) is not int or window or limits is not None or deceit is not None
                or type(timeouts) is not int or timeouts not in _RCV_NEVER
                or type(rcv_mode) is not int or type(rcv_from) is not int
                or type(words) is not list or len(words) > MAX_WORDS
                or len(frames) > MAX_STRINGS):
            # declined; a pager's map reply to a fault has a way of its own (faultpath.py)
            return type(items) is list and len(items) == 1 and fault_reply(
                t, dest, words, items, timeouts, rcv_mode, rcv_from, window, limits, deceit,
                frames)
        if rcv_mode == CLOSED:              # a call: blocks on its partner's reply
            if rcv_from != dest or t.senders:
                return False
        elif rcv_mode != OPEN or t.senders or t.pending or t.irq is not None:
            return False
        # the receiver: `dest` exactly (version included), waiting for t, in t's clan
        # or its chief or a task whose chief t is (V2's id_nearest is dest itself),
        # taking the strings whole (ipc.waiting_receiver, same_clan=True). An off-site
        # id leaves here: its site is in the base compared, so remote IPC adds no test
        task = tasks.get((dest >> TASK_SHIFT) & TASK_MASK)
        if task is None or task.base != dest & _TASK_ID_BITS:
            return False
        r = task.threads.get((dest >> LTHREAD_SHIFT) & LTHREAD_MASK)
        if (r is None or r.state is not RECEIVING or r.pf or r.ident is None
                or (task.chief is not t.task.chief and task is not t.task.chief
                    and task.chief is not t.task)
                or (r.rcv_mode != OPEN and r.rcv_from != t.tid)
                or (frames and over_limits(frames, r.rcv_limits))):
            return False
        try:                                # one C pass: ints in 0..2**32-1, bools as 0/1
            words = _u32("I", words).tolist()
        except (TypeError, OverflowError):
            return False                    # which refuses it
        # the send: the rendezvous with r, delivered as Kernel.deliver does
        if r.timer is not None:
            r.cancel_timer()
        r.state = RUNNING
        out = pack([0, t.tid, words, (), None, len(frames)])     # a Delivery
        try:                                # Kernel.send's frames, without its call
            send(r.ident, _SNDMORE)
            if frames:
                send(out, _SNDMORE)
                *head, last = frames
                for f in head:
                    send(f, _SNDMORE, False)
                send(last, 0, False)
            else:
                send(out)
        except zmq.ZMQError:                # EHOSTUNREACH: r's socket is gone
            pass
        # the receive: t blocks, with no timeout (V2: the send->receive switch is atomic)
        t.rcv_mode, t.rcv_from, t.rcv_timeout, t.rcv_window, t.rcv_limits = \
            rcv_mode, rcv_from, None, None, None
        t.state, t.partner = RECEIVING, rcv_from if rcv_mode == CLOSED else 0
        return True
    return fast
