"""Connect the host terminal to a serial line's pseudo-terminal, like a terminal program.

The host terminal goes raw (every key goes through at once, ^C included), bytes flow
both ways until the escape key Ctrl-] or the line hangs up.
"""
from __future__ import annotations

import os
import select
import sys
import termios
import tty

__all__ = ["relay", "ESCAPE"]

ESCAPE = b"\x1d"          # Ctrl-]


def relay(pty_path: str, stdin: int | None = None, stdout: int | None = None,
          stop_fd: int | None = None) -> str:
    """Copy stdin -> the line and the line -> stdout until Ctrl-] or the end of stdin
    ("left"), the line hangs up ("line"), or `stop_fd` becomes readable ("stop": the
    session behind the line ended); which of them."""
    fin = sys.stdin.fileno() if stdin is None else stdin
    fout = sys.stdout.fileno() if stdout is None else stdout
    line = os.open(pty_path, os.O_RDWR | os.O_NOCTTY)
    saved = termios.tcgetattr(fin) if os.isatty(fin) else None
    try:
        if saved is not None:
            tty.setraw(fin)
        watch = [fin, line] + ([stop_fd] if stop_fd is not None else [])
        while True:
            ready, _, _ = select.select(watch, [], [])
            if stop_fd is not None and stop_fd in ready:
                _drain(line, fout)
                return "stop"
            if fin in ready:
                data = _read(fin)
                if not data or ESCAPE in data:
                    os.write(line, data.split(ESCAPE)[0])
                    return "left"
                os.write(line, data)
            if line in ready and not _copy(line, fout):
                return "line"
    finally:
        if saved is not None:
            try:
                termios.tcsetattr(fin, termios.TCSADRAIN, saved)
            except termios.error:
                pass                              # the terminal is gone
        os.close(line)


def _read(fin: int) -> bytes:
    """What was typed; b"" when the terminal is gone."""
    try:
        return os.read(fin, 1024)
    except OSError:
        return b""


def _drain(line: int, fout: int) -> None:
    """Copy what the line still has to say (the shell's last words) without waiting."""
    while select.select([line], [], [], 0.05)[0] and _copy(line, fout):
        pass


def _copy(line: int, fout: int) -> bool:
    """Copy one read's worth from the line; False when it hung up."""
    try:
        data = os.read(line, 4096)
    except OSError:
        return False
    if data:
        os.write(fout, data)
    return bool(data)
