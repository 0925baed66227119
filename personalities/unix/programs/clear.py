#!mk
"""clear: clear the terminal screen (the ANSI sequences for home and erase)."""
from personalities.unix.progargs import options, out

__all__ = ["main"]


def main(argv, envp):
    options("clear", argv[1:], "", "clear")
    out("\x1b[H\x1b[2J\x1b[3J")
    return 0
