#!mk
"""cp SRC DST / cp SRC... DIR: copy files (into DIR, keeping the names)."""
import os
import stat
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    if len(args) < 2:
        print("usage: cp SRC DST | cp SRC... DIR", file=sys.stderr)
        return 1
    *srcs, dst = args
    into = is_dir(dst)
    if len(srcs) > 1 and not into:
        print(f"cp: {dst}: not a directory", file=sys.stderr)
        return 1
    status = 0
    for src in srcs:
        target = dst.rstrip("/") + "/" + src.rstrip("/").split("/")[-1] if into else dst
        try:
            copy(src, target)
        except OSError as e:
            print(f"cp: {src}: {e.strerror}", file=sys.stderr)
            status = 1
    return status


def is_dir(path):
    try:
        return stat.S_ISDIR(libc.stat(path).st_mode)
    except OSError:
        return False


def copy(src, dst):
    st = libc.stat(src)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory (no -r)")
    fin = libc.open(src)
    try:
        fout = libc.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o777)
        try:
            while data := libc.read(fin, 65536):
                libc.write(fout, data)
        finally:
            libc.close(fout)
    finally:
        libc.close(fin)
