#!mk
"""more [FILE...]: show files (or standard input) a screen (23 lines) at a time when
standard output is a terminal, else copy them. At `--More--` the reply is a line
(the terminal is line-buffered): Enter or space for the next screen, q to stop;
it is read from standard input, or from fd 2 when standard input is the text."""
from personalities.unix import libc
from personalities.unix.progargs import Inputs, options, out

__all__ = ["main"]

PAGE = 23


def main(argv, envp):
    _, paths = options("more", argv[1:], "", "more [FILE...]")
    inputs = Inputs("more", paths)
    if not libc.isatty(1):
        for _, data in inputs:
            out(data)
        return inputs.status
    keys = 0 if paths and libc.isatty(0) else 2
    lines = [ln for _, d in inputs for ln in d.splitlines(keepends=True)]
    for at in range(0, len(lines), PAGE):
        out(b"".join(lines[at:at + PAGE]))
        if at + PAGE < len(lines):
            out("--More--")
            try:
                reply = libc.read(keys, 256)
            except OSError:
                reply = b"q"
            if reply[:1] in (b"q", b"Q", b""):
                break
    return inputs.status
