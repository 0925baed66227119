"""Task code for the tty server tests: open a line, write to it, read cooked lines
(reported as facts: `lines`, every line read so far)."""
from microkernel.user.testing import report
from protocols.tty import TtyClient


def reader(rt, line_name, count):
    """Write "ready\\n" to `line_name`, then read `count` lines from it."""
    tty = TtyClient(rt)
    line = tty.open(line_name)
    tty.write(line, b"ready\n")
    lines = []
    for _ in range(int(count)):
        lines.append(tty.read(line, 1024))
        report(lines=lines)
