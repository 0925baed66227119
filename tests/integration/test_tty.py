"""The tty server's line discipline on COM2, typed into from the host's pseudo-terminal:
echo, erase, kill, CR/NL, end of file, NL -> CR NL on output."""
import pytest

from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(120)


def test_line_discipline_over_com2(node):
    with node.pty("com2") as com2:
        t = node.start("tty_tasks.py", "reader", "com2", 3)
        assert com2.read_until(b"ready\r\n").endswith(b"ready\r\n")  # NL -> CR NL
        com2.type(b"helo\x7flo world\r")                            # DEL erases one
        assert com2.read_until(b"world\r\n") == b"helo\b \blo world\r\n"
        com2.type(b"junk\x15ok\n")                                  # ^U kills the line
        com2.read_until(b"ok\r\n")
        com2.type(b"\x04")                                          # ^D: end of file
        assert node.wait(t["task"], timeout=30) == 0
    got = facts(node.output(t["task"]))
    assert got["lines"] == ["hello world\n", "ok\n", ""], got
