#!mk
"""mkdir [-p] DIR...: make directories (-p: with their parents, no error if they exist)."""
import errno
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    parents = "-p" in args
    args = [a for a in args if a != "-p"]
    if not args:
        print("usage: mkdir [-p] DIR...", file=sys.stderr)
        return 1
    status = 0
    for path in args:
        try:
            if parents:
                make_parents(path)
            else:
                libc.mkdir(path)
        except OSError as e:
            print(f"mkdir: {path}: {e.strerror}", file=sys.stderr)
            status = 1
    return status


def make_parents(path):
    parts = [p for p in path.split("/") if p]
    cur = "/" if path.startswith("/") else ""
    for p in parts:
        cur = cur + p if cur.endswith("/") or not cur else cur + "/" + p
        try:
            libc.mkdir(cur)
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise
