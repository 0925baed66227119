"""The task factory: one process, its imports done, that forks every task's process.

Starting a Python interpreter and importing ZeroMQ, msgpack and the runtime costs a
few hundred milliseconds of CPU; forking a process that has done it once costs a few.
The kernel starts this factory at boot and asks it, over a socket pair, for each new
task process: the request carries the spawn record and the log path; the factory forks,
the child sends its output to the log and runs the task (`task.run`), and the factory
answers with the child's pid. It reaps its children and reports each exit status to the
kernel. It dies with the kernel, and its children die with it.

No ZeroMQ context exists here before a fork: each child makes its own.
"""
from __future__ import annotations

import importlib
import os
import select
import signal
import socket
import sys

from microkernel.abi.codec import recv_framed as recv_msg, send_framed as send_msg

from . import runtime as _runtime  # noqa: F401  (imported once, here, for every task)
from . import task as _task

__all__ = ["main"]

def _child(sock: socket.socket, wake: int, record: dict, log_path: str) -> None:
    """In the forked child: cut the factory's ties, log to the task's file, run."""
    _task._die_with_parent()                  # not inherited across fork: set it again
    sock.close()
    os.close(wake)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    code = 1
    try:
        code = _task.run(record)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _preload() -> None:
    """Import what most tasks import (MK_PRELOAD, comma-separated: the Unix
    personality's crt0 and libc), once here rather than in every forked task."""
    for name in filter(None, os.environ.get("MK_PRELOAD", "").split(",")):
        try:
            importlib.import_module(name)
        except Exception:                     # a preload is an optimisation only
            pass


def main() -> None:
    _task._die_with_parent()
    _preload()
    sock = socket.socket(fileno=int(sys.argv[1]))
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        ready, _, _ = select.select([sock, rfd], [], [])
        if rfd in ready:
            os.read(rfd, 512)
        try:
            _reap(sock)
        except OSError:                       # the kernel went away (mk down)
            return
        if sock in ready:
            try:
                req = recv_msg(sock)
            except OSError:                   # the kernel went away (mk down)
                return
            if req is None:
                return
            pid = os.fork()
            if pid == 0:
                _child(sock, rfd, req["record"], req["log"])
            send_msg(sock, ["pid", pid])


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        send_msg(sock, ["exit", pid, os.waitstatus_to_exitcode(status)])


if __name__ == "__main__":
    main()
