"""The tty protocol (docs/unix.md, "tty protocol"): opcodes, once, and a small client.

The tty server (task 17, name "tty") runs a line discipline over serial lines, each
reached through its UART driver by name ("com1", "com2", ...).

    OPEN      | line name                 -> line no
    READ      line, max                   -> | data     blocks until a line is complete;
                                                        EOF (^D on an empty line): no data
    WRITE     line | data                 -> written    NL goes out as CR NL
    SETPGRP   line, pgrp                  ->            the foreground process group
    MODE      line, raw                   ->            raw: no echo, no editing, no signals
    FLUSH     line                        ->            drop typed input not yet read

The tty server tells the Unix server about ^C / ^Z / ^\\ with a message (no reply):

    SIGNAL    line, pgrp, signo           (tty -> unix)
"""
from __future__ import annotations

import errno
import os

from microkernel.abi import IpcCode, IpcError, Msg, ThreadId

__all__ = ["OPEN", "READ", "WRITE", "SETPGRP", "MODE", "FLUSH", "SIGNAL", "TTY_TASK",
           "TTY_NAME", "TtyClient", "SIGINT", "SIGQUIT", "SIGTSTP"]

OPEN, READ, WRITE, SETPGRP, MODE, FLUSH = range(0x5401, 0x5407)
SIGNAL = 0x5410
TTY_TASK = 17
TTY_NAME = "tty"
SIGINT, SIGQUIT, SIGTSTP = 2, 3, 20
MAX_IO = 64 << 10


class TtyClient:
    """The tty protocol as methods; failures are OSError(errno)."""

    def __init__(self, rt, tty_id: int | None = None, names: int | None = None):
        self.rt = rt
        self.tty = None if tty_id is None else ThreadId(int(tty_id))
        self.names = names

    def _server(self) -> ThreadId:
        if self.tty is None:
            from drivers.client import lookup, names_id
            names = names_id(self.rt) if self.names is None else self.names
            for _ in range(200):
                self.tty = lookup(self.rt, names, TTY_NAME)
                if self.tty is not None:
                    break
                self.rt.sleep(0.05)
            else:
                raise OSError(errno.ENODEV, "no tty server registered")
        return self.tty

    def call(self, words: tuple, strings: tuple = (), timeout=None) -> Msg:
        try:
            r = self.rt.call(self._server(), Msg(words=words, strings=strings), timeout=timeout)
        except IpcError as e:
            if e.code in (IpcCode.NOT_EXISTENT, IpcCode.CANCELED):
                self.tty = None
            raise OSError(errno.EIO, f"tty server: {e}") from None
        if not r.words:
            raise OSError(errno.EIO, "empty reply from the tty server")
        if r.words[0]:
            raise OSError(r.words[0], os.strerror(r.words[0]))
        return r

    def open(self, line: str) -> int:
        return self.call((OPEN,), (line.encode(),)).words[1]

    def read(self, line: int, most: int = 4096) -> bytes:
        r = self.call((READ, line, most))
        return bytes(r.strings[0]) if r.strings else b""

    def write(self, line: int, data: bytes) -> int:
        done = 0
        while done < len(data):
            done += self.call((WRITE, line), (bytes(data[done:done + MAX_IO]),)).words[1]
        return done

    def setpgrp(self, line: int, pgrp: int) -> None:
        self.call((SETPGRP, line, pgrp))

    def mode(self, line: int, raw: bool) -> None:
        self.call((MODE, line, int(raw)))
