"""System calls about processes and signals: getpid, exit, wait, kill, signal
dispositions, the signal thread's SIGWAIT, pause, sleep, process groups, uname, ps,
and memory (anonymous or a mapped file: memory.py). Each handler is
`(srv, proc, msg, call) -> Msg | None`; None means the reply comes later (`call` was
parked)."""
from __future__ import annotations

import errno
import stat as S

from microkernel.abi import Msg

from . import proto as P
from .fd import File
from .proc import ok
from .proto import signed
from .signals import (handle_kill, handle_pause, handle_sigaction, handle_sigwait,
                      pending_for_main)

__all__ = ["HANDLERS", "FOREIGN", "UNAME"]

HANDLERS: dict = {}
TTY_SIGNAL = 0x5410                      # servers.ttyproto.SIGNAL: ^C and friends
FOREIGN = {P.KILL, P.PS, TTY_SIGNAL}     # also accepted from tasks that are no process
UNAME = (b"mk", b"mk", b"0.1", b"L4 V2 Unix personality", b"i486")
PAGE = 0x1000


def _op(code):
    def reg(f):
        HANDLERS[code] = f
        return f
    return reg


@_op(P.GETPID)
def getpid(srv, proc, msg, call):
    return ok(proc.pid, proc.ppid, proc.pgrp)


@_op(P.EXIT)
def exit_(srv, proc, msg, call):
    srv.finish(proc, P.wait_status_exit(msg.words[1]))
    return ok()


@_op(P.WAIT)
def wait(srv, proc, msg, call):
    pid, options = signed(msg.words[1]), msg.words[2]
    err, zombie = srv.procs.match(proc, pid, options)
    if err:
        return Msg(words=(err,))
    if zombie is not None:
        return ok(zombie.pid, srv.procs.reap(zombie))
    if options & P.WNOHANG:
        return ok(0, 0)
    sig = pending_for_main(proc)
    if sig:
        return Msg(words=(errno.EINTR, sig))
    entry = (call, pid, options)
    proc.waiting.append(entry)
    proc.blocked = call

    def cancel():
        if entry in proc.waiting:
            proc.waiting.remove(entry)
    call.on_cancel = cancel
    return None


@_op(P.KILL)
def kill(srv, proc, msg, call):
    return Msg(words=handle_kill(srv, proc, signed(msg.words[1]), msg.words[2]))


@_op(TTY_SIGNAL)
def tty_signal(srv, proc, msg, call):
    """The tty server saw ^C (^\\, ^Z) on a line: signal its foreground group. It
    sent this without waiting for an answer, so none goes back."""
    if proc is None and len(msg.words) >= 4 and msg.words[2] > 1:
        handle_kill(srv, None, -msg.words[2], msg.words[3])
    return None


@_op(P.SIGACTION)
def sigaction(srv, proc, msg, call):
    return Msg(words=handle_sigaction(srv, proc, msg.words[1], msg.words[2]))


@_op(P.SIGWAIT)
def sigwait(srv, proc, msg, call):
    r = handle_sigwait(srv, proc, call)
    return None if r is None else Msg(words=r)


@_op(P.PAUSE)
def pause(srv, proc, msg, call):
    r = handle_pause(srv, proc, call)
    return None if r is None else Msg(words=r)


@_op(P.SLEEP)
def sleep(srv, proc, msg, call):
    """Sleep `ms` milliseconds; a handled signal ends it early with EINTR."""
    sig = pending_for_main(proc)
    if sig:
        return Msg(words=(errno.EINTR, sig))
    proc.blocked = call
    timer = srv.after(msg.words[1] / 1000.0, lambda: call.reply(0))
    call.on_cancel = lambda: srv.cancel(timer)
    return None


@_op(P.SETPGID)
def setpgid(srv, proc, msg, call):
    """setpgid(pid, pgid): 0 means the caller / the pid itself; me or my children."""
    pid, pgid = signed(msg.words[1]), signed(msg.words[2])
    target = proc if pid in (0, proc.pid) else srv.procs.by_pid.get(pid)
    if target is None or (target is not proc and target.ppid != proc.pid):
        return Msg(words=(errno.ESRCH,))
    if pgid < 0:
        return Msg(words=(errno.EINVAL,))
    target.pgrp = pgid or target.pid
    return ok()


@_op(P.TCSETPGRP)
def tcsetpgrp(srv, proc, msg, call):
    """Make `pgrp` the foreground group of the tty line behind `fd` (for ^C)."""
    desc = proc.fds.get(msg.words[1])
    if not desc.isatty:
        return Msg(words=(errno.ENOTTY,))

    def done(result):
        if isinstance(result, BaseException):
            call.reply(getattr(result, "errno", None) or errno.EIO)
        else:
            call.reply(0)
    srv.slow(lambda: srv.tty.setpgrp(desc.line, msg.words[2]), done)  # never block lthread 0
    return None


@_op(P.UNAME)
def uname(srv, proc, msg, call):
    return ok(strings=UNAME)


@_op(P.PS)
def ps(srv, proc, msg, call):
    """Every process: "pid ppid pgrp state name" (paged: from words[1] = first pid)."""
    start = msg.words[1] if len(msg.words) > 1 else 0
    rows = [(1, 0, 1, "running", "init")] if start <= 1 else []     # the server itself
    rows += [(p.pid, p.ppid, p.pgrp, p.state, p.name)
             for pid, p in sorted(srv.procs.by_pid.items()) if pid >= start]
    nxt = rows[30][0] if len(rows) > 30 else 0
    return ok(nxt, strings=tuple(" ".join(map(str, r)).encode() for r in rows[:30]))


@_op(P.MMAP)
def mmap(srv, proc, msg, call):
    """Anonymous memory, or (words[2] = 1) the file open on fd words[3] from offset
    words[4..5]: EBADF, ENODEV (no regular file), EACCES (not open for reading),
    EINVAL (offset not page-aligned, length 0 or over 64 MiB)."""
    length = msg.words[1]
    if not 0 < length <= 64 << 20:
        return Msg(words=(errno.EINVAL,))
    if len(msg.words) < 6 or not msg.words[2]:
        return ok(srv.memory.mmap(proc.task, length))
    desc = proc.fds.get(msg.words[3])
    offset = msg.words[4] | msg.words[5] << 32
    if not isinstance(desc, File) or not S.S_ISREG(desc.mode):
        return Msg(words=(errno.ENODEV,))
    if not desc.readable():
        return Msg(words=(errno.EACCES,))
    if offset % PAGE:
        return Msg(words=(errno.EINVAL,))
    return ok(srv.memory.mmap_file(proc.task, length, desc.ino, offset))


@_op(P.MUNMAP)
def munmap(srv, proc, msg, call):
    addr, length = msg.words[1], msg.words[2]
    if addr % PAGE or not 0 < length <= 1 << 31:
        return Msg(words=(errno.EINVAL,))
    srv.memory.munmap(proc.task, addr, length)
    return ok()

