"""Signals: dispositions, default actions, and delivery to a process's handlers.

The server does the default actions itself: terminate (the task is deleted and the
wait status records the signal), ignore, or stop. SIGKILL and SIGSTOP can be neither
caught nor ignored.

Stopping (SIGTSTP, SIGSTOP, SIGTTIN, SIGTTOU by default): the process is marked
stopped, its parent's WUNTRACED wait is answered, and from then on every request it
makes is parked, unanswered, so it stops at its next system call (or page fault) and
stays there; what it computes without one goes on until then — the server is a
process's only way to the world, so that is where a microkernel's Unix stops it.
SIGCONT, whatever its disposition, continues it: the parked requests are served in
order and handled signals that waited are delivered. A fatal signal ends a stopped
process at once.

A process with a handler (libc.signal told the server SIG_HANDLE) gets the signal in
its main thread, by one of two paths:
- its main thread waits in a blocking call (read of a pipe or tty, wait, sleep,
  pause): that call is answered (EINTR, sig) and libc runs the handler, then restarts
  the call (Python's PEP 475 behaviour);
- otherwise its signal thread (lthread 1, waiting in SIGWAIT) is answered with the
  signal and raises it in the main thread with the host's own machinery
  (`_thread.interrupt_main`), so the handler runs between two Python bytecodes.
A signal that finds neither waiting stays pending until one of them asks. A process
waiting in ON (the shell's `on`) passes a handled signal on to its remote process
group first (remote.py): its handler runs once ON has returned.
"""
from __future__ import annotations

import errno
import signal as _host

from protocols.unix import SIG_DFL, SIG_HANDLE, SIG_IGN

__all__ = ["SIGNALS", "IGNORED_BY_DEFAULT", "post", "deliver", "kill", "sigaction",
           "sigwait", "pending_for_main"]

SIGNALS = {int(s): s.name for s in _host.Signals if 0 < s < 32}
IGNORED_BY_DEFAULT = {_host.SIGCHLD, _host.SIGWINCH, _host.SIGURG, _host.SIGCONT}
STOPPING = {_host.SIGTSTP, _host.SIGSTOP, _host.SIGTTIN, _host.SIGTTOU}
UNCATCHABLE = {_host.SIGKILL, _host.SIGSTOP}


def post(srv, proc, sig: int) -> None:
    """Send `sig` to `proc`: default action, ignore, or deliver to its handler."""
    if sig == 0 or proc.state != "running":
        return
    if sig == _host.SIGCONT:
        srv.resume(proc)
    disp = SIG_DFL if sig in UNCATCHABLE else proc.disposition(sig)
    if disp == SIG_IGN or (disp == SIG_DFL and sig in IGNORED_BY_DEFAULT):
        return
    if disp == SIG_DFL:
        if sig in STOPPING:
            srv.stop(proc, sig)
        else:
            srv.terminate(proc, sig)
        return
    srv.on_signalled(proc, sig)            # an `on` passes it to its remote process
    proc.pending.append(sig)
    if not proc.stopped:
        deliver(proc)


def deliver(proc) -> None:
    """Hand pending signals to whichever of the process's threads waits for them."""
    while proc.pending:
        if proc.blocked is not None:
            proc.blocked.interrupt(proc.pending.pop(0))
        elif proc.sigwait is not None:
            proc.sigwait.reply(proc.pending.pop(0))
        else:
            return


def pending_for_main(proc) -> int:
    """A pending handled signal to answer a new blocking call with at once (or 0)."""
    return proc.pending.pop(0) if proc.pending else 0


def targets(srv, proc, pid: int) -> list:
    """kill's pid: > 0 one process, 0 my group, -1 every process but init, < -1 a group."""
    table = srv.procs
    if pid > 0:
        p = table.by_pid.get(pid)
        return [p] if p is not None and p.state == "running" else []
    if pid == 0:
        return table.group(proc.pgrp) if proc is not None else []
    if pid == -1:
        return [p for p in table.by_pid.values() if p.state == "running" and p is not proc]
    return table.group(-pid)


def kill(srv, proc, pid: int, sig: int) -> None:
    """kill(pid, sig) by `proc` (None: a task that is no process): EINVAL, ESRCH."""
    if sig not in SIGNALS and sig != 0:
        raise OSError(errno.EINVAL, "no such signal")
    victims = targets(srv, proc, pid)
    if not victims:
        raise OSError(errno.ESRCH, "no such process")
    for p in victims:
        post(srv, p, sig)


def sigaction(proc, sig: int, disp: int) -> int:
    """Set the disposition of `sig`; the old one (EINVAL for SIGKILL, SIGSTOP)."""
    if sig not in SIGNALS or sig in UNCATCHABLE or disp not in (SIG_DFL, SIG_IGN, SIG_HANDLE):
        raise OSError(errno.EINVAL, "bad signal or disposition")
    old = proc.disposition(sig)
    proc.disp[sig] = disp
    if disp != SIG_HANDLE:
        proc.pending = [s for s in proc.pending if s != sig]
    return old


def sigwait(proc, call) -> int | None:
    """The signal thread asks for the next signal: now, or (None) when one comes."""
    if proc.pending and proc.blocked is None:
        return proc.pending.pop(0)
    if proc.sigwait is not None:
        proc.sigwait.drop()
    proc.sigwait = call
    return None
