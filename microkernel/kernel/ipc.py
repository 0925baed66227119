"""IPC: the synchronous rendezvous at the heart of L4 (V2 §3).

A message moves only when its receiver is in a matching receive; until then the
sender is SENDING, queued at the receiver in priority order, its message held in its
TCB. One `ipc` may have a send phase, a receive phase, or both; the switch from send
to receive happens inside one kernel step, so it is atomic and a server can reply with
send timeout 0 (V2 §3.1). An error in the send phase ends the whole operation.

A request is an `abi.IpcRequest`; a delivery is one ZeroMQ message to the receiver's
socket (`Kernel.deliver`), an `abi.Delivery` and then its string frames, which are
the sender's own frames, forwarded untouched. A message waiting for its receiver is an
`InFlight` in its sender's TCB.

Interrupts arrive as empty messages from `irq_id(n)` (see irq.py); death notices of
clan members wait in the chief's `pending` list for an open wait. An off-site
destination resolves to the comm task, and the comm task's messages in an off-site
thread's name skip the chiefs, or end a waiter with an error (remote.py).
"""
from __future__ import annotations

from array import array as _u32
from typing import TYPE_CHECKING

from microkernel.abi import Fault, Fpage, IpcCode, KernelError, RcvMode, ResultFlag
from microkernel.abi import timeouts as _timeouts
from microkernel.abi.errors import SEND_PHASE_BIT
from microkernel.abi.message import MAX_STRING, MAX_STRINGS, MAX_WORDS
from microkernel.abi.ops import PAGE_FAULT_EIP

from .remote import error_notice, grace, route, speaks_for
from .thread import InFlight, Thread, ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["sys_ipc", "fast_send", "waiting_receiver", "receive_now", "deliver_pending",
           "abort_ipc", "page_fault_call", "fail_waiter"]

RUNNING, SENDING, RECEIVING = ThreadState.RUNNING, ThreadState.SENDING, ThreadState.RECEIVING
# receive modes and result flags as plain ints: enum arithmetic goes through the enum
# machinery; _SE is or-ed into a result for an error in the send phase (V2's SE* codes)
NO_RECEIVE, CLOSED, OPEN = int(RcvMode.NONE), int(RcvMode.CLOSED), int(RcvMode.OPEN)
_SE = SEND_PHASE_BIT
_DECEITED, _FPAGE_RECEIVED = int(ResultFlag.DECEITED), int(ResultFlag.FPAGE_RECEIVED)
_WHOLE = Fpage.whole()        # a page fault's receive window (fpages are immutable)
if _u32("I").itemsize != 4:   # "I" is a C unsigned int: 32 bits on every host we run on
    raise ImportError("array('I') is not 32-bit on this host")
_decode_timeouts = _timeouts.decode


def sys_ipc(k: "Kernel", t: Thread, h: list, frames: list) -> None:
    """An `abi.IpcRequest` from `t`: its send phase, then its receive phase."""
    _, dest, words, items, timeouts, rcv_mode, rcv_from, window, limits, deceit = h
    if type(timeouts) is not int or type(rcv_mode) is not int or type(window) is not int:
        raise KernelError(Fault.BAD_REQUEST, "timeouts, receive mode, window are ints")
    snd_to, rcv_to, _, _ = _decode_timeouts(timeouts)
    if rcv_mode:
        if rcv_mode != OPEN and rcv_mode != CLOSED:
            raise KernelError(Fault.BAD_REQUEST, f"receive mode {rcv_mode!r}")
        t.rcv_mode, t.rcv_from, t.rcv_timeout = rcv_mode, rcv_from, rcv_to
        t.rcv_window = Fpage.decode(window) if window else None
        t.rcv_limits = None if limits is None else _limits(limits)
        if type(rcv_from) is not int:
            raise KernelError(Fault.BAD_REQUEST, "receive source must be a thread id")
    else:
        t.rcv_mode = NO_RECEIVE
    if dest is None:
        if not rcv_mode:
            raise KernelError(Fault.BAD_REQUEST, "an IPC needs a send or a receive phase")
        receive_phase(k, t)
        return
    if type(words) is not list or len(words) > MAX_WORDS or type(items) is not list:
        raise KernelError(Fault.BAD_REQUEST, "words and items must be lists")
    try:                                        # one C pass: ints in 0..2**32-1, bools as 0/1
        words = _u32("I", words).tolist()
    except (TypeError, OverflowError):
        raise KernelError(Fault.BAD_REQUEST, "a word is not a 32-bit unsigned int") from None
    if len(frames) > MAX_STRINGS:
        raise KernelError(Fault.BAD_REQUEST, f"more than {MAX_STRINGS} strings")
    for it in items:
        if type(it) is not list or len(it) != 3 or it[2] not in (0, 1):
            raise KernelError(Fault.BAD_REQUEST, "an item is [fpage, snd_base, grant]")
        Fpage.decode(it[0])
    if not items and deceit is None and not t.pf and fast_send(k, t, dest, words, frames):
        return
    send_phase(k, t, dest, words, items, frames, deceit, snd_to)


def fast_send(k: "Kernel", t: Thread, dest, words: list, frames) -> bool:
    """L4's IPC fast path: words and strings within the receiver's limits, no items, to
    a thread of the same clan that already waits for `t`. The steps of send_phase +
    transfer + after_send for that case, with fewer calls and checks; False (nothing
    done) sends the general way."""
    r = waiting_receiver(k, t, dest, frames) if type(dest) is int else None
    if r is None:
        return False
    receive_now(k, r, t.tid, words, frames)
    after_send(k, t, r)
    return True


def waiting_receiver(k: "Kernel", t: Thread, dest: int, frames=(),
                     same_clan: bool = True) -> Thread | None:
    """Thread `dest` if it already waits for `t` (openly, or closed on `t`), in `t`'s
    clan, its chief or a task whose chief `t` is (V2's id_nearest is `dest` itself;
    unless not `same_clan`), not in a page fault, and takes `frames` whole (no
    MSG_CUT); else None."""
    r = k.thread_of(dest)
    if (r is None or r.state is not RECEIVING or r.pf
            or (same_clan and r.task.chief is not t.task.chief and r.task is not t.task.chief
                and r.task.chief is not t.task)
            or (r.rcv_mode != OPEN and r.rcv_from != t.tid)
            or (frames and over_limits(frames, r.rcv_limits))):
        return None
    return r


def receive_now(k: "Kernel", r: Thread, sender: int, words, frames=()) -> None:
    """End `r`'s waiting receive with a plain message (no items, no flags)."""
    if r.timer is not None:
        r.cancel_timer()
    r.state = RUNNING
    k.deliver(r.ident, 0, sender, words, (), None, frames)


def send_phase(k: "Kernel", t: Thread, dest: int, words: list, items: list, frames,
               deceit: int | None, snd_to) -> None:
    """Deliver now if the destination waits for us, else queue (or time out)."""
    if t.pf:                                   # the pager its chief chose: never redirected
        r, flags, intended = k.thread_of(dest), 0, None
    elif deceit is not None and speaks_for(k, t, deceit):
        # the comm task in an off-site thread's name: past any chief, as the message it
        # answers went to it past them (remote.py); an error notice ends a waiter instead
        r, flags, intended = k.thread_of(dest), 0, None
        result = None if r is None else error_notice(words, items, frames)
        if result is not None:
            fail_waiter(k, t, r, deceit, result)
            return
    else:
        r, flags, intended = k.resolve(t, dest)
    if r is None:
        if type(dest) is int and 1 <= dest <= 16 and k.irq.hand(t, dest - 1, words, items, frames):
            after_send(k, t)                   # an interrupt line handed down (irq.py)
            return
        k.ipc_error(t, IpcCode.NOT_EXISTENT)
        return
    seen = t.tid
    if deceit is not None and k.may_deceive(t, deceit, r):
        seen, flags = deceit, flags | _DECEITED
    t.snd = InFlight(words, items, frames, seen, flags, intended)
    if r.state is RECEIVING and (r.rcv_mode == OPEN or r.rcv_from == seen):
        if transfer(k, t, r):
            after_send(k, t, r)
        return
    if snd_to == 0:
        snd_to = grace(k, intended)            # a reply to a remote caller (remote.py)
        if snd_to == 0:
            t.snd = None
            k.ipc_error(t, IpcCode.TIMEOUT, _SE)
            return
    t.state, t.partner = SENDING, r.tid
    _enqueue(r.senders, t)
    if snd_to is not None:
        t.timer = k.clock.call_later(snd_to, lambda: timed_out(k, t, SENDING))


def fail_waiter(k: "Kernel", t: Thread, r: Thread, virtual: int, result: int) -> None:
    """The comm task's error notice in off-site `virtual`'s name: `r`'s closed receive
    from `virtual` ends with V2 error `result` and `t`'s send is done; if `r` is not
    waiting so, the notice is dropped, never queued: `t` gets a send timeout."""
    if r.state is RECEIVING and r.rcv_mode == CLOSED and r.rcv_from == virtual and not r.pf:
        r.cancel_timer()
        k.ipc_error(r, result)                 # the result byte: its code and its phase
        after_send(k, t)
    else:
        k.ipc_error(t, IpcCode.TIMEOUT, _SE)


def after_send(k: "Kernel", t: Thread, r: Thread | None = None) -> None:
    """The send phase is done (`r` took the message): go on to the receive phase, or
    return to the sender."""
    if t.rcv_mode == CLOSED and r is not None and t.rcv_from == r.tid and not t.senders:
        block_receive(k, t)                    # a call: its partner exists, no one queued
    elif t.rcv_mode:
        receive_phase(k, t)
    else:
        t.state = RUNNING
        k.send(t.ident, k.ok_header)


def receive_phase(k: "Kernel", t: Thread) -> None:
    """Take a waiting sender (or interrupt, or notice) or block until one comes."""
    if t.rcv_mode == OPEN:
        if t.pending or (t.irq is not None and k.irq.pending[t.irq]):
            deliver_pending(k, t)
            return
        if t.irq is not None:
            if k.tracer:                   # a driver's open wait acknowledges its line
                k.tracer.note("irq", line=t.irq, what="acknowledged", tid=t.tid)
            k.irq.unmask(t.irq)
        if t.senders:
            s = t.senders.pop(0)
            _take(k, s, t)
            return
    else:
        src = t.rcv_from
        if 1 <= src <= 16:
            k.irq.receive(t, src - 1)
            return
        if src == 0:                       # receive from nil: sleep, or detach an IRQ
            if t.rcv_timeout == 0 and t.irq is not None:
                k.irq.detach(t)
        else:
            for i, s in enumerate(t.senders):
                if s.snd.sender == src:
                    del t.senders[i]
                    _take(k, s, t)
                    return
            if not k.exists(src) and route(k, t, src) is None:   # off-site: the comm task
                k.ipc_error(t, IpcCode.NOT_EXISTENT)                  # may come in its name
                return
    block_receive(k, t)


def block_receive(k: "Kernel", t: Thread) -> None:
    """Wait in the receive phase until a sender comes or the timeout runs out."""
    to = t.rcv_timeout
    if to == 0:
        k.ipc_error(t, IpcCode.TIMEOUT)
        return
    t.state, t.partner = RECEIVING, t.rcv_from if t.rcv_mode == CLOSED else 0
    if to is not None:
        t.timer = k.clock.call_later(to, lambda: timed_out(k, t, RECEIVING))


def _take(k: "Kernel", s: Thread, r: Thread) -> None:
    """Receiver `r` takes queued sender `s`; `s` goes on with its own receive phase."""
    s.cancel_timer()
    if transfer(k, s, r):
        after_send(k, s, r)


def transfer(k: "Kernel", s: Thread, r: Thread) -> bool:
    """Move `s`'s held message to receiver `r`; False if the send phase failed."""
    m = s.snd
    s.snd = None
    frames, items, flags = m.frames, m.items, m.flags
    code = 0
    lim = r.rcv_limits
    if frames and over_limits(frames, lim):
        frames = [f.bytes[:lim[1]] for f in frames[:lim[0]]]
        code = IpcCode.MSG_CUT
    if items:
        try:
            if k.map_items(s, r, items):
                flags |= _FPAGE_RECEIVED
        except KernelError as e:
            code = IpcCode.MAP_FAILED if e.fault == Fault.NO_MEMORY else IpcCode.MSG_CUT
    r.cancel_timer()
    r.state = RUNNING
    if r.pf:
        r.pf = False
        k.send(r.ident, k.ok_header)             # the faulting access retries
    else:
        k.deliver(r.ident, code | flags, m.sender, m.words, items, m.intended, frames)
    if code:
        s.state = RUNNING
        k.ipc_error(s, code, _SE)
        return False
    return True


def deliver_pending(k: "Kernel", t: Thread) -> None:
    """Hand an open-waiting `t` its oldest notice, or one interrupt of its IRQ."""
    t.cancel_timer()
    t.state = RUNNING
    if t.irq is not None and k.irq.pending[t.irq]:
        k.irq.pending[t.irq] -= 1
        k.irq.delivered[t.irq] += 1
        if k.tracer:
            k.tracer.note("irq", line=t.irq, what="delivered", tid=t.tid)
        k.deliver(t.ident, 0, t.irq + 1, ())
        return
    sender, words = t.pending.pop(0)
    k.deliver(t.ident, 0, sender, words)


def timed_out(k: "Kernel", t: Thread, state: ThreadState) -> None:
    """A send or receive timeout ran out while `t` was still blocked in that phase."""
    if t.state is not state or t.timer is None:
        return
    t.timer = None
    if state is SENDING:
        _dequeue(k, t)
        k.ipc_error(t, IpcCode.TIMEOUT, _SE)
    else:
        k.ipc_error(t, IpcCode.TIMEOUT)


def abort_ipc(k: "Kernel", t: Thread, code: IpcCode) -> None:
    """End `t`'s blocked IPC with `code` in the phase it is in (cancel, partner death)."""
    if t.state is SENDING:
        _dequeue(k, t)
        phase = _SE
    elif t.state is RECEIVING:
        phase = 0
    else:
        return
    t.cancel_timer()
    if t.pf:
        t.pf = False
        k.fault(t.ident, Fault.NOT_EXISTENT, "the pager is gone")
        t.state = RUNNING
        return
    k.ipc_error(t, code, phase)


def page_fault_call(k: "Kernel", t: Thread, word: int) -> None:
    """V2 §5: call the pager on `t`'s behalf; its map reply lands in the whole space."""
    t.pf = True
    t.rcv_mode, t.rcv_from, t.rcv_timeout = CLOSED, t.pager, None
    t.rcv_window, t.rcv_limits = _WHOLE, (0, 0)
    # the pager its chief chose is never redirected: any clan
    r = waiting_receiver(k, t, t.pager, same_clan=False)
    if r is not None and not t.senders:                    # the pager waits: fast path
        receive_now(k, r, t.tid, [word, PAGE_FAULT_EIP])
        block_receive(k, t)
        return
    send_phase(k, t, t.pager, [word, PAGE_FAULT_EIP], [], [], None, None)


def _dequeue(k: "Kernel", t: Thread) -> None:
    partner = k.thread_of(t.partner)
    if partner is not None and t in partner.senders:
        partner.senders.remove(t)
    t.snd = None


def _enqueue(queue: list, t: Thread) -> None:
    """Insert by priority, first come first served within one priority."""
    if not queue or queue[-1].prio >= t.prio:
        queue.append(t)
        return
    for i, other in enumerate(queue):
        if other.prio < t.prio:
            queue.insert(i, t)
            return


def over_limits(frames, lim: tuple[int, int] | None) -> bool:
    """More strings, or a longer one, than the receiver's StringLimits allow."""
    return lim is not None and (len(frames) > lim[0] or any(len(f) > lim[1] for f in frames))


def _limits(limits) -> tuple[int, int] | None:
    if limits is None:
        return None
    if type(limits) is not list or len(limits) != 2:
        raise KernelError(Fault.BAD_REQUEST, f"string limits {limits!r}")
    count, size = limits
    if type(count) is not int or type(size) is not int or not (
            0 <= count <= MAX_STRINGS and 0 <= size <= MAX_STRING):
        raise KernelError(Fault.BAD_REQUEST, f"string limits {limits!r}")
    return count, size
