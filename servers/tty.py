"""The tty server (task 17, name "tty"): a line discipline over serial lines.

It serves the tty protocol (protocols/tty.py) through `protocols.serve` with a
`Dispatch` of TTY, each operation a method of `TtyServer` named after it. Each line is
a UART reached through its char driver by name (protocols/char.py). A reader thread per
line (lthread 16 + line) blocks in the driver's READ and posts what arrives to the main
thread as an INPUT request (Who.SELF, no reply); the main thread edits the line
(lineedit.py: cursor keys, history, at most MAX_CANON bytes), completes it on CR or NL,
answers readers (a READ with nothing to read
simply gets no reply yet: V2 style), and turns ^C, ^\\ and ^Z into signals for the
line's foreground process group, told to the Unix server (its TTY_SIGNAL, a send with
no reply), dropping the line and what was typed ahead. FLUSH (a hang-up) also forgets
the line's history and ends the reads waiting on it. Output NL goes out as CR NL. Raw mode passes bytes untouched.
"""
from __future__ import annotations

import errno
import logging
import signal
from collections import deque
from dataclasses import dataclass, field

from microkernel.abi import IpcError, Msg
from protocols import Dispatch, ServiceError, send_reply, serve, wellknown
from protocols.char import CharDevice
from protocols.names import Names
from protocols.tty import TTY, Op
from protocols.unix import UNIX, Unix, Op as UnixOp

from .lineedit import LineEditor

__all__ = ["main", "Line", "TtyServer"]

log = logging.getLogger("mk.tty")
READER_BASE = 16
MAX_LINES = 64                      # lthreads 16..79 are the readers
OPEN_PATIENCE = 5.0                 # seconds OPEN waits for the line's driver (else ENODEV)
EOF = 4
SIGNALS = {3: signal.SIGINT, 28: signal.SIGQUIT, 26: signal.SIGTSTP}


@dataclass
class Line:
    """One serial line's discipline state."""
    name: str
    dev: CharDevice
    raw: bool = False
    pgrp: int = 0
    edit: LineEditor = field(default_factory=LineEditor)
    ready: deque = field(default_factory=deque)        # completed lines (or b"" = EOF)
    readers: deque = field(default_factory=deque)      # (client id, max) waiting

    def feed(self, data: bytes) -> tuple[bytes, list[int]]:
        """Typed bytes in: what to echo, and the signals to send."""
        if self.raw:
            self.ready.append(bytes(data))
            return b"", []
        echo, sigs = bytearray(), []
        for b in data:
            if b in SIGNALS:                  # as ISIG without NOFLSH: input is dropped
                sigs.append(int(SIGNALS[b]))
                echo += b"^" + bytes([b + 64]) + b"\r\n"
                self.edit.reset()
                self.ready.clear()
            elif b in (13, 10):
                self.ready.append(self.edit.enter() + b"\n")
                echo += b"\r\n"
            elif b == EOF:
                self.ready.append(bytes(self.edit.buf))   # empty: end of file
                self.edit.reset()
            else:
                echo += self.edit.key(b)
        return bytes(echo), sigs


class TtyServer:
    """The tty protocol's handlers: (request, message) -> the reply values, a reply
    Msg, or None (the client waits for a line)."""

    def __init__(self, rt, names: int):
        self.rt = rt
        self.names = names
        self.lines: list[Line] = []
        self.unix = Unix(rt, names=names, patience=1.0)    # for TTY_SIGNAL

    def open(self, req, msg):
        """The line number of `line_name`, starting its reader thread the first time."""
        name = req.line_name.decode()
        for i, line in enumerate(self.lines):
            if line.name == name:
                return (i,)
        if len(self.lines) >= MAX_LINES:
            raise OSError(errno.ENFILE, "too many lines")
        dev = CharDevice(self.rt, name, names=self.names, patience=OPEN_PATIENCE)
        dev.server()                                    # ENODEV if there is no driver
        self.lines.append(Line(name, dev))
        no = len(self.lines) - 1
        self.rt.lthread_ex_regs(READER_BASE + no, reader, args=(self.names, name, no))
        return (no,)

    def read(self, req, msg):
        """The next completed line, now or (no reply yet) when one is typed."""
        line = self.lines[req.line]
        line.readers.append((msg.sender, max(1, req.most)))
        return self.serve_readers(line, reply_to=msg.sender)

    def write(self, req, msg):
        line = self.lines[req.line]
        line.dev.write(req.data if line.raw else req.data.replace(b"\n", b"\r\n"))
        return (len(req.data),)

    def setpgrp(self, req, msg):
        self.lines[req.line].pgrp = req.pgrp
        return ()

    def mode(self, req, msg):
        self.lines[req.line].raw = bool(req.raw)
        return ()

    def flush(self, req, msg):
        """The line was hung up: typed input and history go, waiting reads end (EOF)."""
        line = self.lines[req.line]
        line.ready.clear()
        line.edit.forget()
        while line.readers:
            client, _ = line.readers.popleft()
            send_reply(self.rt, client, TTY.reply(Op.READ, (b"",)))
        return ()

    def input(self, req, msg):
        """A reader thread's bytes: edit, echo, signal, answer readers; no reply."""
        line = self.lines[req.line]
        echo, sigs = line.feed(req.data)
        if echo:
            line.dev.write(echo)
        for sig in sigs:
            self.signal(req.line, sig)
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
            reply = TTY.reply(Op.READ, (data,))
            if client == reply_to:
                own = reply
            else:
                send_reply(self.rt, client, reply)       # False: the reader went away
        return own

    def signal(self, no: int, sig: int) -> None:
        """Tell the Unix server to signal line `no`'s foreground process group."""
        pgrp = self.lines[no].pgrp
        if not pgrp:
            return
        try:
            self.rt.send(self.unix.server(), UNIX.request(UnixOp.TTY_SIGNAL, no, pgrp, sig),
                         timeout=1.0)
        except (ServiceError, IpcError) as e:
            log.warning("tty: could not signal pgrp %d: %s", pgrp, e)
            self.unix.tid = None                         # look it up again next time


def reader(rt, names: int, name: str, no: int) -> None:
    """lthread 16 + no: block in the driver's READ, post each chunk to the main thread."""
    dev = CharDevice(rt, name, names=names, retry_for=3600.0)
    main_thread = rt.myself().lthread_id(0)
    while True:
        data = dev.read(4096)
        if data:
            rt.send(main_thread, TTY.request(Op.INPUT, no, data))


def main(rt, name, names_id) -> None:
    """Register as "tty" and serve."""
    names = int(names_id)
    server = TtyServer(rt, names)
    Names(rt, tid=names).register(wellknown.TTY)
    serve(rt, Dispatch(TTY, server, rt))
