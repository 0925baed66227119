"""The task factory: one process, its imports done, that forks every task's process.

Starting a Python interpreter and importing ZeroMQ, msgpack and the runtime costs a
few hundred milliseconds of CPU; forking a process that has done it once costs a few.
The kernel starts this factory at boot and asks it, over a socket pair, for each new
task process: the request carries the spawn record and the log path; the factory forks,
the child sends its output to the log and runs the task (`task.run`), and the factory
answers with the child's pid. It reaps its children and reports each exit status to the
kernel. It dies with the kernel, and its children die with it.

A spare process waits ready: forked after each answer (off the kernel's path), its
ZeroMQ socket already connected to the kernel, it blocks on a pipe until the next
request's record comes down it; the factory answers with its pid at once. So creating
a task (an exec above all) costs the kernel a pipe write instead of a fork, and the
task one HELLO instead of making a context, a socket and a connection first. While it
waits, the spare rehearses what every task's start does before it knows its task (each
preloaded module's `rehearse()`), so the pages that work writes are copied from the
factory's then, not on the way to the task's first instruction.

No ZeroMQ context exists here before a fork: each child makes its own.
"""
from __future__ import annotations

import gc
import importlib
import os
import select
import signal
import socket
import sys

import msgpack

from microkernel.abi.codec import recv_framed as recv_msg, send_framed as send_msg

from . import runtime as _runtime  # noqa: F401  (imported once, here, for every task)
from . import task as _task

__all__ = ["main"]

_preloaded: list = []                         # the modules MK_PRELOAD named, imported


def _cut_ties(sock: socket.socket, wake: int) -> None:
    """In a forked child: die with the factory, drop its socket and signal set-up."""
    _task._die_with_parent()                  # not inherited across fork: set it again
    sock.close()
    os.close(wake)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _spare(sock: socket.socket, wake: int, endpoint: str) -> tuple[int, int]:
    """Fork the spare process: (its pid, the pipe's end its request goes down)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(r)
        return pid, w
    os.close(w)
    try:
        _cut_ties(sock, wake)
        _runtime.preconnect(endpoint)
        _call_hooks("rehearse")
        req = _read_request(r)
        os.close(r)
        if req is not None:
            _child(req["record"], req["log"])
    finally:
        os._exit(1)


def _read_request(fd: int) -> dict | None:
    """The request the factory writes down a spare's pipe; None when it closes it."""
    data = bytearray()
    while chunk := os.read(fd, 65536):
        data += chunk
    return msgpack.unpackb(bytes(data), raw=False) if data else None


def _child(record: dict, log_path: str) -> None:
    """In the forked child, its ties cut: log to the task's file, run."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    code = 1
    try:
        code = _task.run(record, log_path)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _preload() -> None:
    """Import what most tasks import (MK_PRELOAD, comma-separated: the Unix
    personality's crt0 and libc), once here rather than in every forked task; then
    call each one's `preloaded()`, if it has one, for the rest of the work its tasks
    would each repeat (and a spare process calls its `rehearse()`: see _spare). Then
    freeze the heap: the garbage collector of a task never walks (and so never copies
    the pages of) what the factory made."""
    done = []
    for name in filter(None, os.environ.get("MK_PRELOAD", "").split(",")):
        try:
            done.append(importlib.import_module(name))
        except Exception:                     # a preload is an optimisation only
            pass
    _preloaded.extend(done)
    _call_hooks("preloaded")
    gc.collect()
    gc.freeze()


def _call_hooks(name: str) -> None:
    """Call each preloaded module's function `name`, where it has one."""
    for module in _preloaded:
        try:
            getattr(module, name, lambda: None)()
        except Exception:                     # a hook is an optimisation only
            pass


def main() -> None:
    _task._die_with_parent()
    _preload()
    sock = socket.socket(fileno=int(sys.argv[1]))
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    spare = None                              # (pid, pipe) of the process waiting ready
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
            pid = _hand(spare, req) if spare is not None else 0
            if not pid:                       # no spare, or it died: fork one now
                pid = os.fork()
                if pid == 0:
                    _cut_ties(sock, rfd)
                    _child(req["record"], req["log"])
            send_msg(sock, ["pid", pid])
            spare = _spare(sock, rfd, req["record"]["kernel"])


def _hand(spare: tuple[int, int], req: dict) -> int:
    """Give `req` to the spare process: its pid, or 0 if it is gone."""
    pid, pipe = spare
    view = memoryview(msgpack.packb(req))
    try:
        while view:
            view = view[os.write(pipe, view):]
    except OSError:                           # BrokenPipeError: it died unused
        pid = 0
    finally:
        os.close(pipe)
    return pid


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
