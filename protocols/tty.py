"""The tty protocol: a line discipline over serial lines (servers/tty.py, task 17,
name "tty"). Each line is a UART reached through its char driver by name ("com1"...).

    OPEN      | line_name        -> line       the line's number (its reader starts)
    READ      line most          -> | data?    blocks until a line is complete; no data:
                                               end of file (^D on an empty line)
    WRITE     line | data        -> written    NL goes out as CR NL (not in raw mode)
    SETPGRP   line pgrp          ->            the foreground process group (for ^C)
    MODE      line raw           ->            raw: no echo, no editing, no signals
    FLUSH     line               ->            hang-up: drop typed input not yet read
                                               and the history; waiting READs get EOF
    INPUT     line | data        (Who.SELF: a reader thread posts typed bytes; no reply)

^C, ^\\ and ^Z on a line become a TTY_SIGNAL message to the Unix server
(protocols/unix.py) for the line's foreground process group.
"""
from __future__ import annotations

import enum

from .client import Service
from .interface import Interface, Who, call

__all__ = ["Op", "TTY", "TtyClient", "MAX_IO"]

MAX_IO = 64 << 10


class Op(enum.IntEnum):
    OPEN = 0x5401
    READ = 0x5402
    WRITE = 0x5403
    SETPGRP = 0x5404
    MODE = 0x5405
    FLUSH = 0x5406
    INPUT = 0x54F0


TTY = Interface("tty", Op, {
    Op.OPEN: call("| line_name", "line", retry=True),
    Op.READ: call("line most", "| data?"),
    Op.WRITE: call("line | data", "written"),
    Op.SETPGRP: call("line pgrp", retry=True),
    Op.MODE: call("line raw", retry=True),
    Op.FLUSH: call("line", retry=True),
    Op.INPUT: call("line | data", who=Who.SELF, doc="one-way"),
})


class TtyClient(Service):
    """The tty protocol as methods; failures are OSError (ServiceError)."""

    iface = TTY
    name = "tty"

    def open(self, line: str) -> int:
        return self.call(Op.OPEN, line.encode()).line

    def read(self, line: int, most: int = 4096) -> bytes:
        """The next completed line (at most `most` bytes); b"" at end of file."""
        return self.call(Op.READ, line, most).data

    def write(self, line: int, data: bytes) -> int:
        done = 0
        while done < len(data):
            done += self.call(Op.WRITE, line, bytes(data[done:done + MAX_IO])).written
        return done

    def setpgrp(self, line: int, pgrp: int) -> None:
        self.call(Op.SETPGRP, line, pgrp)

    def mode(self, line: int, raw: bool) -> None:
        self.call(Op.MODE, line, int(raw))

    def flush(self, line: int) -> None:
        self.call(Op.FLUSH, line)
