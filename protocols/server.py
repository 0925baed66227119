"""One way to serve: the V2 server loop, and a protocol's dispatch by table.

    serve(rt, handle, timeout=NEVER, on_idle=None, after=None, window=None, limits=None)

waits openly, calls `handle(msg)`, and answers with V2's atomic reply-and-receive (send
timeout 0). `handle` returns the reply Msg; None (no reply now: the client stays blocked
in its call until the server answers it later with `send_reply`); or a `Forward` (send
that message elsewhere, then wait: a chief passing its clan's message on). `after()` runs
after each message, `on_idle()` when `timeout` (seconds, NEVER, or a function giving
either, asked before each wait) passes with no message. An IPC error in the reply (the
client went away, or did not wait) or in the receive (a message the server cannot take,
like a map item with no window: MSG_CUT) costs that one message, never the server.

    Dispatch(interface, server, rt, irq=..., fault=..., notice=..., redirected=...)

is the usual `handle`: every operation of the interface goes to the method of `server`
named after it (Op.READ -> `server.read(req, msg)`, req the decoded request), each
exactly once, checked when the table is built. Before a handler runs, the request's
layout is checked (EINVAL) and its sender against the operation's `Who` (EPERM); an
unknown operation is ENOSYS. A handler returns the reply values (in the reply layout's
order), a `Reply` (values and map items), a Msg, None or a Forward, and may raise
OSError(errno) anywhere; a `detail` attribute on it (a tuple of words) follows the errno.
Messages that are no request of the protocol go to the keyword handlers: `irq` (an
interrupt), `fault` (a page fault, to this thread as pager), `notice` (a task of the clan
ended; the kernel sends it in the dead task's name, so one from a live sender is a
forgery, and is handled as the request it then is), `redirected` (a message of the clan to outside it, to its chief); without one
they are dropped.
"""
from __future__ import annotations

import errno
import logging
from typing import Callable, NamedTuple

from microkernel.abi import (NEVER, IpcCode, IpcError, KernelError, Msg, Phase, RcvMode,
                             ResultFlag, ThreadId)
from microkernel.abi.ops import PAGE_FAULT_EIP, TASK_EXIT_NOTICE

from .interface import Interface, MalformedError, Who, admitted, error

__all__ = ["serve", "Dispatch", "Forward", "Reply", "send_reply"]

log = logging.getLogger("mk.serve")
_OPEN = int(RcvMode.OPEN)
_BAD_INPUT = (MalformedError, ValueError, IndexError, UnicodeError)
_ANY = Who.ANY.value
_REDIRECTED = int(ResultFlag.REDIRECTED)
_LAST_IRQ = 16                   # thread ids 1..16 are interrupts (V2: irq n is n + 1)
_and = int.__and__


def _drop(msg: Msg) -> None:
    """The handler of a message nobody handles: no reply."""
    return None


class Forward(NamedTuple):
    """Send `msg` to `dest` (in the name of `deceit`, if a chief), then wait."""
    dest: ThreadId
    msg: Msg
    deceit: ThreadId | None = None
    timeout: float | None = NEVER


class Reply(NamedTuple):
    """A handler's success reply with map or grant items."""
    values: tuple
    items: tuple = ()


def serve(rt, handle: Callable[[Msg], object], timeout=NEVER, on_idle=None, after=None,
          window=None, limits=None) -> None:
    """Serve forever (see the module docstring)."""
    wait_for = timeout if callable(timeout) else (lambda: timeout)
    msg: Msg | None = None
    while True:
        try:
            if msg is None:
                msg = rt.wait(wait_for(), window=window, limits=limits)
            out = handle(msg)
            if after is not None:
                after()
            if out is None:
                msg = None
            elif type(out) is Forward:
                msg = rt.ipc(out.dest, out.msg, out.timeout, _OPEN, 0, wait_for(), window,
                             limits, out.deceit)
            else:
                msg = rt.reply_and_wait(msg.sender, out, wait_for(), window=window,
                                        limits=limits)
        except IpcError as e:
            msg = None
            if e.code == IpcCode.TIMEOUT and e.phase is Phase.RECEIVE:
                if on_idle is not None:
                    on_idle()
            elif e.phase is Phase.RECEIVE:
                log.warning("dropped a message the server cannot take: %s", e)
        except KernelError as e:          # the kernel refused our reply: a server bug
            log.error("the kernel refused a reply: %s", e)
            msg = None


def send_reply(rt, client: int, msg: Msg, patience: float = 0) -> bool:
    """Answer a client that waits in its call (send timeout 0); False if it no longer
    waits (gone, or gave up), which is no error of the server's. With `patience`, a
    client on another node is answered with that send timeout instead: the comm task
    may be busy longer than the kernel's grace, and some replies must not be lost."""
    try:
        off_site = patience and ThreadId(client).site != rt.site
        rt.send(client, msg, timeout=patience if off_site else 0)
        return True
    except IpcError:
        return False


class Dispatch:
    """A protocol's table: operation code -> (declaration, handler); see the module
    docstring."""

    def __init__(self, iface: Interface, server, rt, *, irq=None, fault=None, notice=None,
                 redirected=None):
        self.iface = iface
        self.table = {}
        for code, op in iface.ops.items():
            name = iface.codes(code).name.lower()
            fn = getattr(server, name, None)
            if not callable(fn):
                raise TypeError(f"{type(server).__name__} has no handler for "
                                f"{iface.name}.{name.upper()}")
            self.table[code] = (fn, op.rule, op.request, op.reply)
        self.me = rt.myself()
        self.my_task, self.my_site = self.me.task, self.me.site
        self.alive = rt.alive
        chief = rt.chief()
        self.chief = chief.task if chief else -1
        self.irq, self.fault, self.notice, self.redirected = irq, fault, notice, redirected

    def __call__(self, msg: Msg):
        """Route one message to its handler; the reply (or None, or a Forward)."""
        sender, w = msg.sender, msg.words
        # the rare kinds first, each test a C-level int operation (ThreadId's and
        # IntFlag's own properties cost a microsecond or more on every request)
        if sender <= _LAST_IRQ or len(w) == 2 or _and(msg.flags, _REDIRECTED):
            handler = self.kind_of(msg)
            if handler is not None:
                return self.other(handler, msg)
        entry = self.table.get(w[0]) if w else None
        if entry is None:
            return error(errno.ENOSYS)
        fn, rule, layout, reply = entry
        if rule != _ANY and not admitted(rule, sender, self.my_task, self.my_site,
                                         self.chief):
            return error(errno.EPERM)
        code = w[0]
        try:
            words = w[1:]
            if len(words) != layout.nwords:
                words = self.iface.unpad(w, layout.nwords)
            out = fn(layout.decode(words, msg.strings), msg)
            if type(out) is tuple:                    # the usual answer: reply values
                words, strings = reply.encode(out)
                return Msg((0, *words), strings)
            return self.answer(code, out)
        except OSError as e:
            return error(e.errno or errno.EIO, *getattr(e, "detail", ()))
        except _BAD_INPUT as e:
            log.info("%s: bad %s from %s: %s", self.iface.name,
                     self.iface.codes(code).name, sender, e)
            return error(errno.EINVAL)
        except Exception:                 # a bug, or a server behind this one failed:
            log.exception("%s: %s from %s failed", self.iface.name,   # one request's EIO
                          self.iface.codes(code).name, sender)
            return error(errno.EIO)

    def kind_of(self, msg: Msg):
        """The handler of a message that is no request (an interrupt, a redirected
        message, a death notice, a page fault), or None: a request, or no handler."""
        sender, w = msg.sender, msg.words
        if sender <= _LAST_IRQ:
            return self.irq or _drop
        if _and(msg.flags, _REDIRECTED):
            return self.redirected or _drop
        # a notice comes from the dead task's id: one from a live sender is forged
        if w[0] == TASK_EXIT_NOTICE and self.notice is not None and not self.alive(sender):
            return self.notice
        if w[1] == PAGE_FAULT_EIP and self.fault is not None:
            return self.fault
        return None

    def other(self, handler, msg: Msg):
        """A message that is no request, to its handler (dropped without one); a
        handler that fails is logged, and the message is dropped, not the server."""
        if handler is None:
            return None
        try:
            return handler(msg)
        except Exception:
            log.exception("%s: a message from %s failed", self.iface.name, msg.sender)
            return None

    def answer(self, code: int, out):
        """A handler's return value as the message to send (None stays None)."""
        kind = type(out)
        if out is None or kind is Msg or kind is Forward:
            return out
        if kind is Reply:
            return self.iface.reply(code, out.values, out.items)
        return self.iface.reply(code, out)
