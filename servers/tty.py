"""The tty server (task 17, name "tty"): a line discipline over serial lines.

Each line is a UART reached through its driver by name (the char protocol). A reader
thread per line (lthread 16 + line) blocks in the driver's READ and posts what arrives
to the main thread as an IPC; the main thread edits the line (echo, backspace, ^U),
completes it on CR or NL, answers readers (a READ with nothing to read simply gets no
reply yet: V2 style), and turns ^C, ^\\ and ^Z into signals for the line's foreground
process group, told to the Unix server. Output NL goes out as CR NL. Raw mode passes
bytes untouched.
"""
from __future__ import annotations

import errno
import logging
import time
from collections import deque
from dataclasses import dataclass, field

from drivers.client import CharDevice, lookup
from microkernel.abi import IpcError, Msg, ThreadId
from microkernel.user.serve import serve

from . import ttyproto as P
from .names import register

__all__ = ["main", "Line", "TtyServer"]

log = logging.getLogger("mk.tty")
READER_BASE = 16
INPUT = 0x54F0                      # reader thread -> main: bytes typed on a line
EOF, ERASE, BACKSPACE, KILL = 4, 127, 8, 21
SIGNALS = {3: P.SIGINT, 28: P.SIGQUIT, 26: P.SIGTSTP}


@dataclass
class Line:
    """One serial line's discipline state."""
    name: str
    dev: CharDevice
    raw: bool = False
    pgrp: int = 0
    edit: bytearray = field(default_factory=bytearray)
    ready: deque = field(default_factory=deque)        # completed lines (or b"" = EOF)
    readers: deque = field(default_factory=deque)      # (client id, max) waiting

    def feed(self, data: bytes) -> tuple[bytes, list[int]]:
        """Typed bytes in: what to echo, and the signals to send."""
        if self.raw:
            self.ready.append(bytes(data))
            return b"", []
        echo, sigs = bytearray(), []
        for b in data:
            if b in SIGNALS:
                sigs.append(SIGNALS[b])
                echo += b"^" + bytes([b + 64]) + b"\r\n"
                self.edit.clear()
            elif b in (13, 10):
                self.ready.append(bytes(self.edit) + b"\n")
                self.edit.clear()
                echo += b"\r\n"
            elif b in (ERASE, BACKSPACE):
                if self.edit:
                    self.edit.pop()
                    echo += b"\b \b"
            elif b == KILL:
                echo += b"\b \b" * len(self.edit)
                self.edit.clear()
            elif b == EOF:
                self.ready.append(bytes(self.edit))      # empty: end of file
                self.edit.clear()
            elif b >= 32 or b == 9:
                self.edit.append(b)
                echo.append(b)
        return bytes(echo), sigs


class TtyServer:
    def __init__(self, rt, names: int):
        self.rt = rt
        self.names = names
        self.lines: list[Line] = []
        self.unix: ThreadId | None = None

    def handle(self, msg: Msg) -> Msg | None:
        w = msg.words
        op = w[0] if w else None
        try:
            if op == INPUT and msg.sender.same_task(self.rt.myself()):
                return self.input(self.lines[w[1]], bytes(msg.strings[0]))
            if op == P.OPEN:
                return Msg(words=(0, self.open(bytes(msg.strings[0]).decode())))
            line = self.lines[w[1]]
            if op == P.READ:
                line.readers.append((msg.sender, max(1, w[2])))
                return self.serve_readers(line, reply_to=msg.sender)
            if op == P.WRITE:
                data = bytes(msg.strings[0]) if msg.strings else b""
                line.dev.write(data if line.raw else data.replace(b"\n", b"\r\n"))
                return Msg(words=(0, len(data)))
            if op == P.SETPGRP:
                line.pgrp = w[2]
            elif op == P.MODE:
                line.raw = bool(w[2])
            elif op == P.FLUSH:
                line.ready.clear()
                line.edit.clear()
            else:
                return Msg(words=(errno.EINVAL,))
            return Msg(words=(0,))
        except (IndexError, UnicodeDecodeError, ValueError):
            return Msg(words=(errno.EINVAL,))
        except OSError as e:
            return Msg(words=(e.errno or errno.EIO,))

    def open(self, name: str) -> int:
        """The line number of `name`, starting its reader thread the first time."""
        for i, line in enumerate(self.lines):
            if line.name == name:
                return i
        if len(self.lines) >= 64:
            raise OSError(errno.ENFILE, "too many lines")
        dev = CharDevice(self.rt, self.names, name)
        dev.driver(deadline=time.monotonic() + 5)          # ENODEV if there is no driver
        self.lines.append(Line(name, dev))
        no = len(self.lines) - 1
        self.rt.lthread_ex_regs(READER_BASE + no, reader, args=(self.names, name, no))
        return no

    def input(self, line: Line, data: bytes) -> None:
        echo, sigs = line.feed(data)
        if echo:
            line.dev.write(echo)
        for sig in sigs:
            self.signal(line, sig)
        self.serve_readers(line)
        return None

    def serve_readers(self, line: Line, reply_to=None) -> Msg | None:
        """Answer waiting readers from completed input; `reply_to`'s own answer, if it
        is among them, is returned for the serve loop to send."""
        own = None
        while line.readers and line.ready:
            client, most = line.readers.popleft()
            data = line.ready.popleft()
            if len(data) > most:
                line.ready.appendleft(data[most:])
                data = data[:most]
            reply = Msg(words=(0,), strings=(data,) if data else ())
            if client == reply_to:
                own = reply
            else:
                try:
                    self.rt.send(client, reply, timeout=0)
                except IpcError:                  # the reader went away
                    pass
        return own

    def signal(self, line: Line, sig: int) -> None:
        """Tell the Unix server to signal the line's foreground process group."""
        if not line.pgrp:
            return
        if self.unix is None:
            self.unix = lookup(self.rt, self.names, "unix")
        if self.unix is None:
            return
        try:
            self.rt.send(self.unix, Msg(words=(P.SIGNAL, self.lines.index(line), line.pgrp, sig)),
                         timeout=1.0)
        except IpcError as e:
            log.warning("tty: could not signal pgrp %d: %s", line.pgrp, e)
            self.unix = None


def reader(rt, names: int, name: str, no: int) -> None:
    """lthread 16 + no: block in the driver's READ, post each chunk to the main thread."""
    dev = CharDevice(rt, names, name, retry_for=3600.0)
    main_thread = rt.myself().lthread_id(0)
    while True:
        data = dev.read(4096)
        if data:
            rt.send(main_thread, Msg(words=(INPUT, no), strings=(data,)))


def main(rt, name, names_id) -> None:
    names = int(names_id)
    server = TtyServer(rt, names)
    register(rt, names, P.TTY_NAME)
    serve(rt, server.handle)
