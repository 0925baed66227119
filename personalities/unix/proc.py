"""The process table: pids, parents, groups, zombies, and calls not answered yet.

A process is an L4 task of the Unix server's clan (`tid` is its lthread 0). It has a
pid, a parent, a process group, a state (running, zombie; a running one may be
stopped: `stopped` is the signal that stopped it), an fd table, a cwd, signal
dispositions and pending signals, and at most two calls that wait for an answer: one of
its main thread (a blocking read, wait, sleep or pause: `blocked`) and one of its signal
thread (`sigwait`). Pid 1 is init, the server itself: orphans go to it and it reaps
them at once.

`Call` is such a waiting request: the server answers it later (`reply` with the values
of its operation's reply layout, or `fail` with an errno) with send timeout 0. A signal
interrupts a blocked call (its `on_cancel` undoes what it queued, and may turn the
answer into a partial result); a call whose process is gone is just dropped.
"""
from __future__ import annotations

import errno
from typing import Callable

from microkernel.abi import Msg, ThreadId
from protocols.interface import error
from protocols.unix import SIG_DFL, UNIX, WUNTRACED

from .fd import FdTable

__all__ = ["Call", "Interrupted", "Proc", "ProcTable", "INIT_PID"]

INIT_PID = 1


class Interrupted(OSError):
    """A blocking call met a handled signal: EINTR, the signal as the reply's detail
    (libc runs the handler, then calls again)."""

    def __init__(self, sig: int):
        super().__init__(errno.EINTR, "interrupted by a signal")
        self.detail = (sig,)


class Call:
    """A request of operation `op` whose reply comes later (`reply`, `fail`), or never
    (`drop`)."""

    def __init__(self, send: Callable[[ThreadId, Msg], object], proc: "Proc | None",
                 sender: ThreadId, op: int):
        self.send, self.proc, self.sender, self.op = send, proc, sender, op
        self.on_cancel: Callable[[], tuple | None] | None = None
        self.answered = False

    def reply(self, *values) -> None:
        """Success: `values` in the order of the operation's reply layout."""
        self._answer(UNIX.reply(self.op, values))

    def fail(self, err: int, *detail: int) -> None:
        """The errno `err` (and detail words)."""
        self._answer(error(err, *detail))

    def _answer(self, msg: Msg) -> None:
        if self.answered:
            return
        self.answered = True
        if self.proc is not None:
            if self.proc.blocked is self:
                self.proc.blocked = None
            if self.proc.sigwait is self:
                self.proc.sigwait = None
        self.send(self.sender, msg)

    def interrupt(self, sig: int) -> None:
        """A handled signal came: EINTR, or the partial result `on_cancel` gives."""
        partial = self.on_cancel() if self.on_cancel else None
        if partial is not None:
            self.reply(*partial)
        else:
            self.fail(errno.EINTR, sig)

    def drop(self) -> None:
        """The caller is gone: undo what it queued, answer nobody."""
        if not self.answered and self.on_cancel:
            self.on_cancel()
        self.answered = True


class Proc:
    def __init__(self, pid: int, ppid: int, pgrp: int, tid: ThreadId, name: str,
                 session: int = 0):
        self.pid, self.ppid, self.pgrp, self.tid, self.name = pid, ppid, pgrp, tid, name
        self.session = session or pid    # the spawned process its line of forks began with
        self.state = "running"           # running, zombie
        self.stopped = 0                 # the signal that stopped it (0: not stopped)
        self.stop_told = False           # a WUNTRACED wait has reported the stop
        self.parked: list = []           # its requests while stopped, for SIGCONT
        self.status = 0                  # the wait status, once a zombie
        self.fds = FdTable()
        self.cwd: tuple[int, str] = (2, "/")
        self.umask = 0o022               # cleared from the mode of what open/mkdir make
        self.disp: dict[int, int] = {}   # sig -> SIG_DFL / SIG_IGN / SIG_HANDLE
        self.pending: list[int] = []
        self.blocked: Call | None = None
        self.sigwait: Call | None = None
        self.waiting: list[tuple[Call, int, int]] = []   # (call, pid, options)
        self.children: set[int] = set()

    @property
    def task(self) -> int:
        return self.tid.task

    def disposition(self, sig: int) -> int:
        return self.disp.get(sig, SIG_DFL)

    def __repr__(self) -> str:
        return f"<Proc {self.pid} {self.name} {self.state} task {self.task}>"


class ProcTable:
    """Every process by pid and by task number; the lifecycle rules."""

    def __init__(self):
        self.by_pid: dict[int, Proc] = {}
        self.by_task: dict[int, Proc] = {}
        self.next_pid = INIT_PID + 1
        self.free_tasks: list[int] = []

    def in_session(self, session: int) -> int:
        """How many processes (zombies too, as RLIMIT_NPROC counts) the session has."""
        return sum(p.session == session for p in self.by_pid.values())

    def new_pid(self) -> int:
        while self.next_pid in self.by_pid or any(p.pgrp == self.next_pid
                                                 for p in self.by_pid.values()):
            self.next_pid = self.next_pid + 1 if self.next_pid < 30000 else INIT_PID + 1
        pid = self.next_pid
        self.next_pid += 1
        return pid

    def add(self, proc: Proc) -> Proc:
        self.by_pid[proc.pid] = proc
        self.by_task[proc.task] = proc
        parent = self.by_pid.get(proc.ppid)
        if parent is not None:
            parent.children.add(proc.pid)
        return proc

    def of_sender(self, sender: ThreadId) -> Proc | None:
        """The live process whose task sent this (any lthread), or None."""
        proc = self.by_task.get(sender.task)
        if proc is None or proc.tid.version != sender.version or proc.state != "running":
            return None
        return proc

    def caller(self, sender: ThreadId) -> Proc:
        """The live process that sent a call; EPERM for a task that is none."""
        proc = self.of_sender(sender)
        if proc is None:
            raise OSError(errno.EPERM, "not a process")
        return proc

    def group(self, pgrp: int) -> list[Proc]:
        return [p for p in self.by_pid.values() if p.pgrp == pgrp and p.state == "running"]

    # -- exit, wait, reap -------------------------------------------------------------

    def zombify(self, proc: Proc, status: int) -> list[Proc]:
        """`proc` has ended with wait status `status`: close what it held, give its
        children to init; returns the processes whose waits may now be answered."""
        if proc.state == "zombie":
            return []
        proc.state, proc.status = "zombie", status
        for call in (proc.blocked, proc.sigwait):
            if call is not None:
                call.drop()
        proc.blocked = proc.sigwait = None
        for call, _, _ in proc.waiting:
            call.drop()
        proc.waiting.clear()
        proc.fds.close_all()
        for cpid in list(proc.children):
            child = self.by_pid.get(cpid)
            if child is not None:
                child.ppid = INIT_PID
                if child.state == "zombie":       # init reaps its zombies at once
                    del self.by_pid[cpid]
        proc.children.clear()
        self.by_task.pop(proc.task, None)
        return [p for p in (self.by_pid.get(proc.ppid),) if p is not None]

    def match(self, parent: Proc, pid: int, options: int) -> tuple[int, Proc | None]:
        """What a wait(pid, options) of `parent` finds now: (errno, zombie, or with
        WUNTRACED a stopped child not yet told, or None). pid -1: any child; pid > 0:
        that child; 0: my group; < -1: group -pid."""
        kids = [self.by_pid[c] for c in parent.children if c in self.by_pid]
        if pid > 0:
            kids = [k for k in kids if k.pid == pid]
        elif pid == 0:
            kids = [k for k in kids if k.pgrp == parent.pgrp]
        elif pid < -1:
            kids = [k for k in kids if k.pgrp == -pid]
        if not kids:
            return errno.ECHILD, None
        for k in sorted(kids, key=lambda k: k.pid):
            if k.state == "zombie" or (options & WUNTRACED and k.stopped and
                                       not k.stop_told):
                return 0, k
        return 0, None

    def collect(self, child: Proc) -> int:
        """The wait status of a child `match` found: a zombie's (reaped), or a stop's
        (told once, as WIFSTOPPED reads it)."""
        if child.state == "zombie":
            return self.reap(child)
        child.stop_told = True
        return 0x7F | (child.stopped << 8)

    def reap(self, zombie: Proc) -> int:
        """Remove a waited-for zombie; its wait status."""
        self.by_pid.pop(zombie.pid, None)
        parent = self.by_pid.get(zombie.ppid)
        if parent is not None:
            parent.children.discard(zombie.pid)
        return zombie.status

    def answer_waits(self, parent: Proc) -> None:
        """Answer the parent's blocked waits that a zombie child now satisfies."""
        still = []
        for call, pid, options in parent.waiting:
            err, z = self.match(parent, pid, options)
            if err:
                call.fail(err)
            elif z is not None:
                call.reply(z.pid, self.collect(z))
            else:
                still.append((call, pid, options))
        parent.waiting = still
