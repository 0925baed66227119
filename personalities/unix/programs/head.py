#!mk
"""head [-n N | -N] [FILE...]: the first N lines (10) of each file or standard input."""
import sys

from personalities.unix import libc
from personalities.unix.progargs import count_and_paths

__all__ = ["main"]


def main(argv, envp):
    n, paths = count_and_paths(argv[1:])
    if n is None:
        print("usage: head [-n N] [FILE...]", file=sys.stderr)
        return 1
    status = 0
    for i, path in enumerate(paths or ["-"]):
        try:
            fd = 0 if path == "-" else libc.open(path)
        except OSError as e:
            print(f"head: {path}: {e.strerror}", file=sys.stderr)
            status = 1
            continue
        if len(paths) > 1:
            libc.write(1, f"{'' if i == 0 else chr(10)}==> {path} <==\n".encode())
        buf, lines = bytearray(), 0
        while lines < n and (chunk := libc.read(fd, 65536)):
            buf += chunk
            lines = buf.count(b"\n")
        out = b"".join(buf.splitlines(keepends=True)[:n])
        libc.write(1, out)
        if fd:
            libc.close(fd)
    return status
