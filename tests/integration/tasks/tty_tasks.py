"""Task code for the tty server tests: open a line, read cooked lines, write."""
from protocols.tty import TtyClient


def reader(rt, line_name, count):
    tty = TtyClient(rt)
    line = tty.open(line_name)
    tty.write(line, b"ready\n")
    for _ in range(int(count)):
        data = tty.read(line, 1024)
        print("line", repr(data), flush=True)
