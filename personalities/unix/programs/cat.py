#!mk
"""cat [FILE...]: copy files (or standard input, also for "-") to standard output."""
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    status = 0
    for path in argv[1:] or ["-"]:
        try:
            fd = 0 if path == "-" else libc.open(path)
        except OSError as e:
            print(f"cat: {path}: {e.strerror}", file=sys.stderr)
            status = 1
            continue
        try:
            while data := libc.read(fd, 65536):
                libc.write(1, data)
        except OSError as e:
            print(f"cat: {path}: {e.strerror}", file=sys.stderr)
            status = 1
        if fd:
            libc.close(fd)
    return status
