#!mk
"""mv SRC DST / mv SRC... DIR: rename (into DIR, keeping the names)."""
import stat
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    if len(args) < 2:
        print("usage: mv SRC DST | mv SRC... DIR", file=sys.stderr)
        return 1
    *srcs, dst = args
    into = is_dir(dst)
    if len(srcs) > 1 and not into:
        print(f"mv: {dst}: not a directory", file=sys.stderr)
        return 1
    status = 0
    for src in srcs:
        target = dst.rstrip("/") + "/" + src.rstrip("/").split("/")[-1] if into else dst
        try:
            libc.rename(src, target)
        except OSError as e:
            print(f"mv: {src}: {e.strerror}", file=sys.stderr)
            status = 1
    return status


def is_dir(path):
    try:
        return stat.S_ISDIR(libc.stat(path).st_mode)
    except OSError:
        return False
