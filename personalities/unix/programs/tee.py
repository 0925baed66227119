#!mk
"""tee [-a] [FILE...]: copy standard input to standard output and to each file
(-a: appended to)."""
import os

from personalities.unix import libc
from personalities.unix.progargs import fail, options

__all__ = ["main"]


def main(argv, envp):
    opts, paths = options("tee", argv[1:], "a", "tee [-a] [FILE...]")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in opts else os.O_TRUNC)
    status, fds = 0, {1: "standard output"}
    for p in paths:
        try:
            fds[libc.open(p, flags, 0o666)] = p
        except OSError as e:
            status = fail("tee", p, e)
    while data := libc.read(0, 65536):
        for fd, name in list(fds.items()):
            try:
                libc.write(fd, data)
            except OSError as e:
                status = fail("tee", name, e)
                del fds[fd]
    return status
