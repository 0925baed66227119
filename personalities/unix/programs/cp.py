#!mk
"""cp SRC DST / cp SRC... DIR: copy files (into DIR, keeping the names)."""
import os
import stat
import sys

from personalities.unix import libc
from personalities.unix.progargs import targets

__all__ = ["main"]


def main(argv, envp):
    pairs = targets("cp", argv[1:])
    if pairs is None:
        return 1
    status = 0
    for src, target in pairs:
        try:
            copy(src, target)
        except OSError as e:
            print(f"cp: {src}: {e.strerror}", file=sys.stderr)
            status = 1
    return status


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
