"""The kernel loop's host-side sources, watched by one helper thread.

The kernel's main thread waits in a plain blocking `recv` on its socket: the cheapest
wait ZeroMQ has, and the one the relay floor of `mk bench ipc` uses. A `zmq.Poller`
over twenty descriptors cost every system call a poll of all of them. Everything
else that can wake the kernel (the pidfds of task processes, the task factory's pipe,
a UART's pty, a NIC cable and the operator's control socket) is watched here instead,
with epoll in a helper thread. Each source is armed one-shot; when one is ready the
helper sends its descriptor number to the kernel socket over inproc, under a routing
id no task can know, and the main thread runs the source's callback and re-arms it.
So every callback still runs on the main thread, with the kernel's tables.

A report is a hint: the main thread checks the source is still watched and really
ready (a zero-timeout poll; for a ZeroMQ socket, its EVENTS) before the callback
runs, so a late report for a descriptor that was closed and reused does nothing.
A ZeroMQ socket is watched through its ZMQ_FD, which only says "look": its callback
runs until the socket has no message left, then it is re-armed.
"""
from __future__ import annotations

import logging
import os
import select
import threading
from typing import Any, Callable

import zmq

__all__ = ["Sources"]

log = logging.getLogger("mk.kernel")
_ARM = select.EPOLLIN | select.EPOLLONESHOT
_WAKE = -1                          # a report that only wakes the main thread


def _fileno(src: Any) -> int:
    """The descriptor to watch: a raw fd, a ZeroMQ socket's ZMQ_FD, or `fileno()`."""
    if type(src) is int:
        return src
    if isinstance(src, zmq.Socket):
        return src.getsockopt(zmq.FD)
    return src.fileno()


def _readable(fd: int) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


class Sources:
    """The watched sources (`update`), their helper thread, and `ready(report)`."""

    def __init__(self, ctx: zmq.Context, endpoint: str):
        self.ident = os.urandom(16)              # the helper's routing id: unguessable
        self._epoll = select.epoll()
        self._watch: dict[int, tuple[Any, Callable[[], None]]] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._sock = ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.ROUTING_ID, self.ident)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.connect(endpoint)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mk-sources", daemon=True)
        self._thread.start()

    def update(self, sources: dict[Any, Callable[[], None]]) -> None:
        """Watch exactly `sources` (source -> callback) from now on."""
        new = {_fileno(src): (src, cb) for src, cb in sources.items()}
        for fd in self._watch.keys() - new.keys():
            self._forget(fd)
        added = new.keys() - self._watch.keys()
        self._watch = new
        for fd in new:
            if fd in added and isinstance(new[fd][0], zmq.Socket):
                self.ready(fd.to_bytes(4, "little", signed=True))   # what came before we watched
            else:
                self._arm(fd)

    def ready(self, report: bytes) -> None:
        """The helper reported a descriptor: run its callback if it is really ready."""
        fd = int.from_bytes(report, "little", signed=True) if len(report) == 4 else _WAKE
        entry = self._watch.get(fd)
        if entry is None:
            return
        src, cb = entry
        if isinstance(src, zmq.Socket):
            # ZMQ_FD is edge-like: take every message, or none will be reported again
            while not src.closed and src.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                cb()
        elif _readable(fd):
            cb()
        if self._watch.get(fd) is entry:         # the callback may have removed it
            self._arm(fd)

    def wake(self) -> None:
        """Make the main thread's `recv` return (a signal handler's `stop()` uses it)."""
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass

    def close(self) -> None:
        self._stopping = True
        self.wake()
        self._thread.join(timeout=2)
        self._sock.close(0)
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the helper thread -------------------------------------------------------------

    def _run(self) -> None:
        send, poll = self._sock.send, self._epoll.poll
        while not self._stopping:
            try:
                events = poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == self._wake_r:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    send(b"")
                else:
                    send(fd.to_bytes(4, "little", signed=True))

    def _arm(self, fd: int) -> None:
        try:
            self._epoll.modify(fd, _ARM)
        except FileNotFoundError:                 # new, or its old file was closed
            try:
                self._epoll.register(fd, _ARM)
            except OSError as e:
                log.warning("cannot watch descriptor %d: %s", fd, e)
        except OSError as e:                      # EBADF: closed by its callback
            log.debug("descriptor %d is gone: %s", fd, e)

    def _forget(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except OSError:                           # already closed: epoll dropped it
            pass
