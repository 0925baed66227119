"""An interactive /bin/sh on a tty line (COM2, typed into from the host's
pseudo-terminal): prompt, commands, ^C to the foreground process group (the shell
survives, the command dies with SIGINT), a program reading the terminal until ^D, and
the shell's exit status."""
import json
import os
import select
import time

import pytest

pytestmark = pytest.mark.timeout(60)


def read_until(fd, marker: bytes, timeout: float = 15.0) -> bytes:
    out, deadline = b"", time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            out += os.read(fd, 4096)
    return out


def test_an_interactive_shell_on_a_serial_line(node):
    with open(node.path("com2.pty")) as f:
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)
    try:
        t = node.start("unix_tasks.py", "tty_shell", "com2")
        assert read_until(fd, b"$ ").endswith(b"$ ")
        os.write(fd, b"echo a b c | wc -w\r")
        assert read_until(fd, b"$ ") == b"echo a b c | wc -w\r\n3\r\n$ "
        os.write(fd, b"sleep 20\r")
        read_until(fd, b"sleep 20\r\n")
        time.sleep(0.5)
        t0 = time.monotonic()
        os.write(fd, b"\x03")                                   # ^C: SIGINT to the group
        assert read_until(fd, b"$ ").endswith(b"$ ")
        assert time.monotonic() - t0 < 5
        os.write(fd, b"echo $?\r")
        assert b"130\r\n" in read_until(fd, b"$ ")              # 128 + SIGINT
        os.write(fd, b"cat > /tmp/typed\r")
        read_until(fd, b"/tmp/typed\r\n")
        os.write(fd, b"one line\r")
        read_until(fd, b"one line\r\n")
        os.write(fd, b"\x04")                                   # ^D: end of file for cat
        read_until(fd, b"$ ")
        os.write(fd, b"cat /tmp/typed; exit 4\r")
        assert b"one line\r\n" in read_until(fd, b"one line\r\n")
        status = node.wait(t["task"], timeout=20)
    finally:
        os.close(fd)
    assert status == 0
    r = json.loads(node.output(t["task"]).splitlines()[-1])
    assert os.WIFEXITED(r["status"]) and os.WEXITSTATUS(r["status"]) == 4
