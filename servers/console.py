"""The serial console's monitor: a tiny line-oriented program on COM1.

Root starts it at boot. It reaches COM1 only through the UART driver (the char
protocol, protocols/char.py, by name), so what a person types on `mk console` arrives
at the driver as receive interrupts, and what it writes appears on their terminal. It
echoes and edits the line itself (backspace, ^U) and knows a few words; the Unix
personality's tty server and shell take the console over when they exist.
"""
from __future__ import annotations

import os
import time

from protocols.char import CharDevice
from protocols.wellknown import CONSOLE_LINE

__all__ = ["main", "Monitor"]

PROMPT = b"mk> "
HELP = b"commands: help, echo TEXT, uptime, uname\r\n"


class Monitor:
    """Line editing and the commands; `feed` returns what to write back."""

    def __init__(self, node: str = "mk"):
        self.line = bytearray()
        self.node = node
        self.started = time.monotonic()

    def feed(self, data: bytes) -> bytes:
        """Typed bytes in: the echo, and each completed line's answer and prompt."""
        out = bytearray()
        for b in data:
            if b in (10, 13):
                out += b"\r\n" + self.command(bytes(self.line).decode(errors="replace")) + PROMPT
                self.line.clear()
            elif b in (8, 127):
                if self.line:
                    self.line.pop()
                    out += b"\b \b"
            elif b == 21:                                # ^U: kill the line
                out += b"\b \b" * len(self.line)
                self.line.clear()
            elif 32 <= b < 127:
                self.line.append(b)
                out.append(b)
        return bytes(out)

    def command(self, text: str) -> bytes:
        """The answer to one command line."""
        word, _, rest = text.strip().partition(" ")
        if not word:
            return b""
        if word == "help":
            return HELP
        if word == "echo":
            return rest.encode() + b"\r\n"
        if word == "uptime":
            return f"up {time.monotonic() - self.started:.1f}s\r\n".encode()
        if word == "uname":
            return f"mk {self.node} (L4 V2 on a simulated 486)\r\n".encode()
        return f"{word}: not a monitor command (try help)\r\n".encode()


def main(rt, name: str = "console", names_id=None) -> None:
    """Greet on COM1, then answer each line typed there (root keeps it, as a server)."""
    node = os.path.basename(rt.rundir.rstrip("/")) or "mk"
    com = CharDevice(rt, CONSOLE_LINE, names=None if names_id is None else int(names_id),
                     retry_for=30.0)
    mon = Monitor(node)
    com.write(f"\r\nmk node {node}: console on COM1. Type help.\r\n".encode() + PROMPT)
    while True:
        out = mon.feed(com.read(256))
        if out:
            com.write(out)
