"""An interactive /bin/sh on a tty line (COM2, typed into from the host's
pseudo-terminal): prompt, commands, ^C to the foreground process group (the shell
survives, the command dies with SIGINT), a program reading the terminal until ^D, and
the shell's exit status."""
import os
import time

import pytest

from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(60)


def test_an_interactive_shell_on_a_serial_line(node):
    with node.pty("com2") as com2:
        t = node.start("unix_tasks.py", "tty_shell", "com2")
        assert com2.read_until(b"$ ").endswith(b"$ ")
        com2.type(b"echo a b c | wc -w\r")
        assert com2.read_until(b"$ ") == b"echo a b c | wc -w\r\n3\r\n$ "
        com2.type(b"sleep 20\r")
        com2.read_until(b"sleep 20\r\n")
        node.wait_for(lambda: node.process_running("sleep"),
                      what="sleep to run (its SIGINT no longer ignored, as the shell's is)")
        t0 = time.monotonic()
        com2.type(b"\x03")                                          # ^C: SIGINT to the group
        assert com2.read_until(b"$ ").endswith(b"$ ")
        assert time.monotonic() - t0 < 5
        com2.type(b"echo $?\r")
        assert com2.read_until(b"$ ") == b"echo $?\r\n130\r\n$ "    # 128 + SIGINT
        com2.type(b"cat > /tmp/typed\r")
        com2.read_until(b"/tmp/typed\r\n")
        com2.type(b"one line\r")
        com2.read_until(b"one line\r\n")
        com2.type(b"\x04")                                          # ^D: end of file for cat
        com2.read_until(b"$ ")
        com2.type(b"cat /tmp/typed; exit 4\r")
        assert com2.read_until(b"one line\r\n") == b"cat /tmp/typed; exit 4\r\none line\r\n"
        assert node.wait(t["task"], timeout=20) == 0
    status = facts(node.output(t["task"]))["status"]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4, status
