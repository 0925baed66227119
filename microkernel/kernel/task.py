"""Tasks: an address space, 128 lthreads, a chief, and one host process.

Each active task is a host process: normally forked by the task factory (factory.py),
else started as `python -m microkernel.user.task`, which reads its spawn record (who it
is, the one-time secret, the shared-memory name, the entry point) from a pipe on stdin,
so nothing secret shows in its argument list. When the process exits for any reason the
task is cleaned up (`tasks.task_exited`): the factory reports it, or a pidfd shows it.

A task may instead be created empty (entry "fork:"): its chief gets the secret and hands
it to a process forked from another task's process, which then says HELLO with its pid;
the kernel adopts that process (the Unix personality's fork is built on this).

Clans & chiefs (V2 §6): the task that creates another is its chief; a chief's clan is
the tasks it created. Inactive task numbers belong to a chief, which may create them.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from microkernel.abi import ThreadId, encode_header
from microkernel.abi.threadid import MAX_LTHREADS

from .thread import Thread

if TYPE_CHECKING:
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
        self.proc: subprocess.Popen | None = None
        self.pidfd: int | None = None
        self.exit_status: int | None = None
        self.log_path = ""
        self.host_pid: int | None = None         # forked by the factory, or adopted
        self.watch_pidfd = False                 # poll the pidfd (no one reports the exit)
        if chief is not None:
            chief.clan.add(self)

    def tid(self, lthread: int = 0) -> int:
        """The raw V2 id of one of this task's threads (lthread in bits 10..16)."""
        return self.base | (lthread & 0x7F) << 10

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

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else self.host_pid

    def __repr__(self) -> str:
        return f"<Task {self.no} v{self.version}>"


def spawn_process(task: Task, record: dict, log_path: str, factory=None) -> None:
    """Start the task's host process: forked by the task factory if there is one (it
    reports the exit), else a fresh interpreter reading `record` from its stdin. The
    log of the previous incarnation of this task number is kept as `.prev.log` (the
    traceback of a driver that crashed and was restarted stays readable)."""
    if os.path.exists(log_path) and os.path.getsize(log_path):
        os.replace(log_path, log_path[:-4] + ".prev.log")
    if factory is not None:
        task.host_pid = factory.spawn(record, log_path)
        task.log_path = log_path
        task.pidfd = os.pidfd_open(task.host_pid)
        return
    log = open(log_path, "wb", buffering=0)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "microkernel.user.task"],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            close_fds=True, start_new_session=False,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        log.close()
    assert proc.stdin is not None
    proc.stdin.write(encode_header([record]))
    proc.stdin.close()
    task.proc = proc
    task.log_path = log_path
    task.pidfd = os.pidfd_open(proc.pid)
    task.watch_pidfd = True


def kill_process(task: Task) -> None:
    """Stop the task's host process now (SIGKILL) and reap it."""
    proc = task.proc
    if proc is not None and proc.poll() is None:
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    elif proc is None and task.pidfd is not None:       # a forked or adopted process
        try:
            signal.pidfd_send_signal(task.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    close_pidfd(task)


def close_pidfd(task: Task) -> None:
    if task.pidfd is not None:
        os.close(task.pidfd)
        task.pidfd = None
