"""Argument forms that several /bin programs share, parsed once.

`head` and `tail` take a line count (`-n N`, `-nN` or `-N`) and files; `cp` and `mv`
take `SRC DST` or `SRC... DIR`. A program keeps its own usage text and work.
"""
from __future__ import annotations

import stat
import sys

from . import libc

__all__ = ["count_and_paths", "is_dir", "targets"]


def count_and_paths(args, default: int = 10):
    """(N, paths) from `-n N`, `-nN` or `-N` and file names; (None, []) when bad."""
    n, paths = default, []
    it = iter(args)
    for a in it:
        try:
            if a == "-n":
                n = int(next(it))
            elif a.startswith("-n"):
                n = int(a[2:])
            elif a.startswith("-") and a[1:].isdigit():
                n = int(a[1:])
            else:
                paths.append(a)
        except (StopIteration, ValueError):
            return None, []
    return n, paths


def is_dir(path) -> bool:
    try:
        return stat.S_ISDIR(libc.stat(path).st_mode)
    except OSError:
        return False


def targets(prog: str, args):
    """[(src, target)] for `SRC DST` or `SRC... DIR` (into DIR, keeping the names);
    None after printing usage or "not a directory" to stderr."""
    if len(args) < 2:
        print(f"usage: {prog} SRC DST | {prog} SRC... DIR", file=sys.stderr)
        return None
    *srcs, dst = args
    into = is_dir(dst)
    if len(srcs) > 1 and not into:
        print(f"{prog}: {dst}: not a directory", file=sys.stderr)
        return None
    return [(src, dst.rstrip("/") + "/" + src.rstrip("/").split("/")[-1] if into else dst)
            for src in srcs]
