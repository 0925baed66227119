"""Tasks: an address space, 128 lthreads, a chief, and one host process.

Each active task is a host process forked by the task factory (factory.py), which is
handed the spawn record (who the task is, the one-time secret, the shared-memory name,
the entry point) over its socket pair, so nothing secret shows in an argument list.
When the process exits for any reason the task is cleaned up (`tasks.task_exited`):
the factory reports it. The kernel keeps a pidfd per process to kill it safely.

A task may instead be created empty (entry "fork:"): its chief gets the secret and hands
it to a process forked from another task's process, which then says HELLO with its pid;
the kernel adopts that process and watches its pidfd, as no factory reports its exit
(the Unix personality's fork is built on this).

Clans & chiefs (V2 §6): the task that creates another is its chief; a chief's clan is
the tasks it created. Inactive task numbers belong to a chief, which may create them.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
from typing import TYPE_CHECKING

from microkernel.abi import ThreadId
from microkernel.abi.threadid import LTHREAD_MASK, LTHREAD_SHIFT, MAX_LTHREADS

from .thread import Thread

if TYPE_CHECKING:
    from .factory import Factory
    from .space import AddressSpace

__all__ = ["Task", "spawn_process"]


class Task:
    """An active task. Threads are made on demand (all 128 exist implicitly in V2)."""

    def __init__(self, no: int, version: int, chief: "Task | None", mcp: int,
                 space: "AddressSpace", site: int):
        self.no = no
        self.version = version
        self.chief = chief
        self.clan: set[Task] = set()
        self.mcp = mcp
        self.space = space
        self.site = site
        self.nest = 0 if chief is None else min(chief.nest + 1, 15)
        self.threads: dict[int, Thread] = {}
        # the raw id of lthread 0, fixed for the task's life (thread_of compares it)
        self.base = int(ThreadId.make(no, 0, version, site, chief.no if chief else 0,
                                      self.nest))
        self.secret = secrets.token_bytes(16)
        self.entry = ""
        self.pid: int | None = None              # forked by the factory, or adopted
        self.pidfd: int | None = None
        self.exit_status: int | None = None
        self.log_path = ""
        self.watch_pidfd = False                 # poll the pidfd (no one reports the exit)
        if chief is not None:
            chief.clan.add(self)

    def tid(self, lthread: int = 0) -> int:
        """The raw V2 id of one of this task's threads (lthread in bits 10..16)."""
        return self.base | (lthread & LTHREAD_MASK) << LTHREAD_SHIFT

    def thread(self, lthread: int) -> Thread:
        """The TCB of lthread (created on first use)."""
        t = self.threads.get(lthread)
        if t is None:
            if not 0 <= lthread < MAX_LTHREADS:
                raise ValueError(f"lthread {lthread} outside 0..127")
            t = self.threads[lthread] = Thread(self, lthread, self.tid(lthread))
        return t

    def ancestors(self):
        """The chain of chiefs above this task, nearest first."""
        c = self.chief
        while c is not None:
            yield c
            c = c.chief

    def __repr__(self) -> str:
        return f"<Task {self.no} v{self.version}>"


def spawn_process(task: Task, record: dict, log_path: str, factory: "Factory") -> None:
    """Start the task's host process, forked by the task factory (which reports its
    exit), its output to `log_path` (the previous one's kept: _keep_previous)."""
    _keep_previous(log_path)
    task.pid = factory.spawn(record, log_path)
    task.log_path = log_path
    task.pidfd = os.pidfd_open(task.pid)


def _keep_previous(log_path: str) -> None:
    """Keep the log of the previous incarnation of this task number as `.prev.log`, and
    its `.traceback` (microkernel/user/task.py) as `.prev.traceback`: why a driver that
    crashed and was restarted crashed stays readable."""
    if not (os.path.exists(log_path) and os.path.getsize(log_path)):
        return
    base = log_path[:-4]
    os.replace(log_path, base + ".prev.log")
    if os.path.exists(base + ".traceback"):
        os.replace(base + ".traceback", base + ".prev.traceback")
    else:                                          # it ended well: no stale one either
        with contextlib.suppress(FileNotFoundError):
            os.unlink(base + ".prev.traceback")


def kill_process(task: Task) -> None:
    """Stop the task's host process now (SIGKILL); its parent (the factory, or the
    task it was forked from) reaps it."""
    if task.pidfd is not None:
        try:
            signal.pidfd_send_signal(task.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    close_pidfd(task)


def close_pidfd(task: Task) -> None:
    if task.pidfd is not None:
        os.close(task.pidfd)
        task.pidfd = None
