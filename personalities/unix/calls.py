"""System calls about processes and signals: getpid, exit, wait, kill, signal
dispositions, the signal thread's SIGWAIT, pause, sleep, process groups, uname, ps,
memory (anonymous or a mapped file: memory.py), and the tty server's TTY_SIGNAL.

`ProcessCalls` is mixed into the server (server.py): each method is the handler of the
operation it is named after, `(req, msg)` -> the reply values, or None when the call
waits (a `Call` parked, answered later); an OSError is the reply's errno.
"""
from __future__ import annotations

import errno
import stat as S

from protocols.unix import WNOHANG, wait_status_exit

from . import signals
from .fd import File
from .proc import Interrupted
from .signals import pending_for_main

__all__ = ["ProcessCalls", "UNAME"]

UNAME = (b"mk", b"mk", b"0.1", b"L4 V2 Unix personality", b"i486")
PAGE = 0x1000
PS_ROWS = 30                     # rows per PS reply (at most 31 strings a message)
MMAP_MAX = 64 << 20


class ProcessCalls:
    """The handlers of processes, signals and memory (see the module docstring)."""

    def getpid(self, req, msg):
        proc = self.procs.caller(msg.sender)
        return proc.pid, proc.ppid, proc.pgrp

    def exit(self, req, msg):
        self.finish(self.procs.caller(msg.sender), wait_status_exit(req.status))
        return ()

    def wait(self, req, msg):
        """A zombie child now, (0, 0) with WNOHANG, or the call waits for one."""
        proc = self.procs.caller(msg.sender)
        err, zombie = self.procs.match(proc, req.pid, req.options)
        if err:
            raise OSError(err, "no such child")
        if zombie is not None:
            return zombie.pid, self.procs.collect(zombie)
        if req.options & WNOHANG:
            return 0, 0
        sig = pending_for_main(proc)
        if sig:
            raise Interrupted(sig)
        call = self.later(msg, proc)
        entry = (call, req.pid, req.options)
        proc.waiting.append(entry)
        proc.blocked = call

        def cancel():
            if entry in proc.waiting:
                proc.waiting.remove(entry)
        call.on_cancel = cancel
        return None

    def kill(self, req, msg):
        signals.kill(self, self.procs.of_sender(msg.sender), req.pid, req.sig)
        return ()

    def tty_signal(self, req, msg):
        """The tty server saw ^C (^\\, ^Z) on a line: signal its foreground group. It
        sent this without waiting for an answer, so none goes back; a process may not."""
        if self.procs.of_sender(msg.sender) is not None:
            raise OSError(errno.EPERM, "only the tty server signals a line")
        if req.pgrp > 1:
            try:
                signals.kill(self, None, -req.pgrp, req.sig)
            except OSError:
                pass                              # nobody in the group any more
        return None

    def sigaction(self, req, msg):
        return (signals.sigaction(self.procs.caller(msg.sender), req.sig, req.disposition),)

    def sigwait(self, req, msg):
        proc = self.procs.caller(msg.sender)
        sig = signals.sigwait(proc, self.later(msg, proc))
        return None if sig is None else (sig,)

    def pause(self, req, msg):
        """Wait for a handled signal: EINTR with it."""
        proc = self.procs.caller(msg.sender)
        sig = pending_for_main(proc)
        if sig:
            raise Interrupted(sig)
        proc.blocked = self.later(msg, proc)
        return None

    def sleep(self, req, msg):
        """Sleep `ms` milliseconds; a handled signal ends it early with EINTR."""
        proc = self.procs.caller(msg.sender)
        sig = pending_for_main(proc)
        if sig:
            raise Interrupted(sig)
        call = proc.blocked = self.later(msg, proc)
        timer = self.timers.after(req.ms / 1000.0, call.reply)
        call.on_cancel = lambda: self.timers.cancel(timer)
        return None

    def setpgid(self, req, msg):
        """setpgid(pid, pgid): 0 means the caller / the pid itself; me or my children."""
        proc = self.procs.caller(msg.sender)
        target = proc if req.pid in (0, proc.pid) else self.procs.by_pid.get(req.pid)
        if target is None or (target is not proc and target.ppid != proc.pid):
            raise OSError(errno.ESRCH, "no such process")
        if req.pgid < 0:
            raise OSError(errno.EINVAL, "negative group")
        target.pgrp = req.pgid or target.pid
        return ()

    def tcsetpgrp(self, req, msg):
        """Make `pgrp` the foreground group of the tty line behind `fd` (for ^C)."""
        proc = self.procs.caller(msg.sender)
        desc = proc.fds.get(req.fd)
        if not desc.isatty:
            raise OSError(errno.ENOTTY, "not a tty")
        call = self.later(msg, proc)

        def done(result):
            if isinstance(result, BaseException):
                call.fail(getattr(result, "errno", None) or errno.EIO)
            else:
                call.reply()
        self.slow(lambda: self.tty.setpgrp(desc.line, req.pgrp), done)   # never on lthread 0
        return None

    def uname(self, req, msg):
        self.procs.caller(msg.sender)
        return UNAME

    def ps(self, req, msg):
        """Every process: "pid ppid pgrp state name", from pid `start` on; the next
        reply's start (0: the end)."""
        rows = [(1, 0, 1, "running", "init")] if req.start <= 1 else []   # the server
        rows += [(p.pid, p.ppid, p.pgrp, "stopped" if p.stopped else p.state, p.name)
                 for pid, p in sorted(self.procs.by_pid.items()) if pid >= req.start]
        nxt = rows[PS_ROWS][0] if len(rows) > PS_ROWS else 0
        return nxt, tuple(" ".join(map(str, r)).encode() for r in rows[:PS_ROWS])

    def mmap(self, req, msg):
        """Anonymous memory, or (file 1) the file open on fd from offset `off`: EBADF,
        ENODEV (no regular file), EACCES (not open for reading), EINVAL (offset not
        page-aligned, length 0 or over 64 MiB)."""
        proc = self.procs.caller(msg.sender)
        if not 0 < req.length <= MMAP_MAX:
            raise OSError(errno.EINVAL, "bad length")
        if not req.file:
            return (self.memory.mmap(proc.task, req.length),)
        desc = proc.fds.get(req.fd)
        if not isinstance(desc, File) or not S.S_ISREG(desc.mode):
            raise OSError(errno.ENODEV, "not a regular file")
        if not desc.readable():
            raise OSError(errno.EACCES, "not open for reading")
        if req.off % PAGE:
            raise OSError(errno.EINVAL, "offset not page-aligned")
        return (self.memory.mmap_file(proc.task, req.length, desc.ino, req.off),)

    def munmap(self, req, msg):
        proc = self.procs.caller(msg.sender)
        if req.address % PAGE or not 0 < req.length <= 1 << 31:
            raise OSError(errno.EINVAL, "bad range")
        self.memory.munmap(proc.task, req.address, req.length)
        return ()
