#!mk
"""mv SRC DST / mv SRC... DIR: rename (into DIR, keeping the names). A source and
destination that are the same file are refused, and a DST ending in / must be a
directory."""
from personalities.unix import libc
from personalities.unix.progargs import exists, fail, options, same_file, targets

__all__ = ["main"]

USAGE = "mv SRC DST | mv SRC... DIR"


def main(argv, envp):
    _, args = options("mv", argv[1:], "", USAGE)
    pairs = targets("mv", args, USAGE)
    if pairs is None:
        return 1
    status = 0
    for src, target in pairs:
        if same_file(src, target):
            status = fail("mv", f"'{src}' and '{target}' are the same file")
            continue
        try:
            libc.rename(src, target)
        except OSError as e:
            status = fail("mv", target if exists(src) else src, e)
    return status

