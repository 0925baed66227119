#!mk
"""sleep SECONDS: wait that long (fractions allowed)."""
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    if len(argv) < 2:
        print("usage: sleep SECONDS", file=sys.stderr)
        return 1
    try:
        seconds = sum(float(a) for a in argv[1:])
    except ValueError:
        print(f"sleep: invalid time interval {' '.join(argv[1:])!r}", file=sys.stderr)
        return 1
    libc.sleep(seconds)
    return 0
