"""os calls on fds, on the node's through libc: read, write, lseek, close, closerange,
dup, dup2, pipe, isatty, fsync, set_inheritable. `OS` is the table install() sets on
os (open and fstat are with the paths)."""
from __future__ import annotations

from .. import libc
from .rawfile import close_pending

__all__ = ["OS"]


def close(fd):
    """os.close, after the closes finalizers held back."""
    close_pending()
    libc.close(fd)


def closerange(lo, hi):
    for fd in range(lo, min(hi, 64)):
        try:
            libc.close(fd)
        except OSError:
            pass


def isatty(fd) -> bool:
    try:
        return libc.isatty(fd)
    except OSError:
        return False


def dup2(fd, fd2, inheritable=True):
    fd2 = libc.dup2(fd, fd2)
    if not inheritable:
        libc.set_cloexec(fd2)
    return fd2


def fsync(fd):
    """The whole file system's sync, once the fd is known (EBADF as fsync would say)."""
    libc.fstat(fd)
    libc.sync()


def set_inheritable(fd, inheritable):
    libc.set_cloexec(fd, not inheritable)


OS = {
    "read": libc.read, "write": libc.write, "lseek": libc.lseek,
    "close": close, "closerange": closerange, "dup": libc.dup, "dup2": dup2,
    "pipe": libc.pipe, "isatty": isatty, "fsync": fsync, "fdatasync": fsync,
    "sync": libc.sync, "set_inheritable": set_inheritable,
    "device_encoding": lambda fd: None,
}
