"""The tty server's line discipline on COM2, typed into from the host's pseudo-terminal:
echo, erase, kill, CR/NL, end of file, NL -> CR NL on output."""
import os
import select
import time

import pytest

pytestmark = pytest.mark.timeout(120)


def _read_until(fd, marker: bytes, timeout: float = 15.0) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            out += os.read(fd, 4096)
    return out


def test_line_discipline_over_com2(node):
    with open(node.path("com2.pty")) as f:
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)
    try:
        t = node.start("tty_tasks.py", "reader", "com2", 3)
        assert b"ready\r\n" in _read_until(fd, b"ready\r\n")       # NL -> CR NL
        os.write(fd, b"helo\x7flo world\r")                        # DEL erases one
        echo = _read_until(fd, b"world\r\n")
        assert b"helo\b \blo world\r\n" in echo
        os.write(fd, b"junk\x15ok\n")                              # ^U kills the line
        _read_until(fd, b"ok\r\n")
        os.write(fd, b"\x04")                                      # ^D: end of file
        assert node.wait(t["task"], timeout=30) == 0
    finally:
        os.close(fd)
    out = node.output(t["task"])
    assert "line b'hello world\\n'" in out
    assert "line b'ok\\n'" in out
    assert "line b''" in out
