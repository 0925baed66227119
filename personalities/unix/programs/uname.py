#!mk
"""uname [-asnrvm]: print system information (default -s)."""
import sys

from personalities.unix import libc

__all__ = ["main"]

FIELDS = {"s": 0, "n": 1, "r": 2, "v": 3, "m": 4}


def main(argv, envp):
    u = libc.uname()
    want = set()
    for a in argv[1:]:
        if not a.startswith("-") or any(c not in "asnrvm" for c in a[1:]):
            print(f"uname: invalid option {a!r}", file=sys.stderr)
            return 1
        want |= set("snrvm") if "a" in a else set(a[1:])
    keys = [k for k in "snrvm" if k in want] or ["s"]
    print(" ".join(u[FIELDS[k]] for k in keys))
    return 0
