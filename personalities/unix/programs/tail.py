#!mk
"""tail [-n N | -N] [FILE...]: the last N lines (10) of each file or standard input."""
import sys

from personalities.unix import libc
from personalities.unix.progargs import count_and_paths

__all__ = ["main"]


def main(argv, envp):
    n, paths = count_and_paths(argv[1:])
    if n is None:
        print("usage: tail [-n N] [FILE...]", file=sys.stderr)
        return 1
    status = 0
    for i, path in enumerate(paths or ["-"]):
        try:
            fd = 0 if path == "-" else libc.open(path)
            data = bytearray()
            while chunk := libc.read(fd, 65536):
                data += chunk
            if fd:
                libc.close(fd)
        except OSError as e:
            print(f"tail: {path}: {e.strerror}", file=sys.stderr)
            status = 1
            continue
        if len(paths) > 1:
            libc.write(1, f"{'' if i == 0 else chr(10)}==> {path} <==\n".encode())
        lines = bytes(data).splitlines(keepends=True)
        libc.write(1, b"".join(lines[-n:] if n else []))
    return status
