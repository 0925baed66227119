"""Pipes: a bounded buffer between writers and readers that never blocks the server.

A read of an empty pipe that still has writers, or a write to a full one, does not get
its reply yet: the caller's pending `Call` waits in the pipe's queue and is answered
when data, room, or the end comes. A read returns what is there (at least one byte);
a blocking write returns once all its bytes are in (or with the count so far when a
signal interrupts it after some went in). The last writer's close gives readers end of
file (an empty read); the last reader's close makes every write fail with EPIPE, and
the writer gets SIGPIPE (`on_epipe`).
"""
from __future__ import annotations

import errno
from collections import deque
from typing import Callable

__all__ = ["Pipe", "PIPE_SIZE"]

PIPE_SIZE = 256 << 10


class Pipe:
    """One pipe; `readers`/`writers` count the open descriptions of each end."""

    def __init__(self, on_epipe: Callable[[object], None] = lambda proc: None,
                 size: int = PIPE_SIZE):
        self.buf = bytearray()
        self.size = size
        self.readers = 0
        self.writers = 0
        self.rq: deque = deque()        # (call, count) waiting for data
        self.wq: deque = deque()        # [call, data, done] waiting for room
        self.on_epipe = on_epipe

    # -- the calls --------------------------------------------------------------------

    def read(self, count: int, call) -> bytes | None:
        """Up to `count` bytes now, b"" at end of file, or None: `call` waits."""
        if self.buf and not self.rq:
            data = self._take(count)
            self._feed_writers()
            return data
        if self.writers == 0 or count == 0:
            return b""
        self.rq.append((call, count))
        call.on_cancel = lambda: self._drop_reader(call)
        return None

    def write(self, data: bytes, call) -> int | None:
        """All of `data` in now (its length), or None: `call` waits for room.
        No readers: raises OSError(EPIPE) after SIGPIPE went to the caller."""
        if self.readers == 0:
            self.on_epipe(call.proc)
            raise OSError(errno.EPIPE, "broken pipe")
        room = self.size - len(self.buf)
        if not self.wq and len(data) <= room:
            self.buf += data
            self._feed_readers()
            return len(data)
        entry = [call, memoryview(bytes(data)), 0]
        self.wq.append(entry)
        call.on_cancel = lambda: self._drop_writer(entry)
        self._feed_writers()
        return None

    def close_read(self) -> None:
        self.readers -= 1
        if self.readers == 0:
            while self.wq:
                call, data, done = self.wq.popleft()
                if done:
                    call.reply(done)
                else:
                    self.on_epipe(call.proc)
                    call.fail(errno.EPIPE)

    def close_write(self) -> None:
        self.writers -= 1
        if self.writers == 0:
            while self.rq and not self.buf:
                call, _ = self.rq.popleft()
                call.reply(b"")
            self._feed_readers()

    # -- moving bytes -----------------------------------------------------------------

    def _take(self, count: int) -> bytes:
        data = bytes(self.buf[:count])
        del self.buf[:count]
        return data

    def _feed_readers(self) -> None:
        while self.rq and (self.buf or self.writers == 0):
            call, count = self.rq.popleft()
            call.reply(self._take(count))
        self._feed_writers()

    def _feed_writers(self) -> None:
        moved = False
        while self.wq and len(self.buf) < self.size:
            entry = self.wq[0]
            call, data, done = entry
            n = min(len(data) - done, self.size - len(self.buf))
            self.buf += data[done:done + n]
            entry[2] = done = done + n
            moved = True
            if done == len(data):
                self.wq.popleft()
                call.reply(done)
        if moved and self.rq:
            self._feed_readers()

    def _drop_reader(self, call):
        self.rq = deque(e for e in self.rq if e[0] is not call)
        return None

    def _drop_writer(self, entry):
        """A signal interrupts a waiting write: its count so far, or None for EINTR."""
        self.wq = deque(e for e in self.wq if e is not entry)
        return (entry[2],) if entry[2] else None

    def __repr__(self) -> str:
        return f"<Pipe {len(self.buf)}B r{self.readers} w{self.writers}>"
