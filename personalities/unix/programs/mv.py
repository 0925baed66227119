#!mk
"""mv SRC DST / mv SRC... DIR: rename (into DIR, keeping the names)."""
import sys

from personalities.unix import libc
from personalities.unix.progargs import targets

__all__ = ["main"]


def main(argv, envp):
    pairs = targets("mv", argv[1:])
    if pairs is None:
        return 1
    status = 0
    for src, target in pairs:
        try:
            libc.rename(src, target)
        except OSError as e:
            print(f"mv: {src}: {e.strerror}", file=sys.stderr)
            status = 1
    return status
