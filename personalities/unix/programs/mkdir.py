#!mk
"""mkdir [-p] DIR...: make directories (-p: with their parents, no error if they exist)."""
import errno

from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]


def main(argv, envp):
    opts, args = options("mkdir", argv[1:], "p", "mkdir [-p] DIR...")
    parents = "p" in opts
    if not args:
        usage_error("mkdir", "mkdir [-p] DIR...", "missing operand")
    status = 0
    for path in args:
        try:
            if parents:
                make_parents(path)
            else:
                libc.mkdir(path)
        except OSError as e:
            status = fail("mkdir", path, e)
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
