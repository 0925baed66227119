"""Errors as the host's os raises them, for the node's os calls (paths, fds, processes):
the errno's subclass naming the path, dir_fd refused, and the calls the node lacks."""
from __future__ import annotations

import errno


def named(e: OSError, name, name2=None) -> OSError:
    """e as the host's os raises it: the errno's subclass, naming the path(s)."""
    if name2 is None:
        return OSError(e.errno, e.strerror, name)
    return OSError(e.errno, e.strerror, name, None, name2)


def no_dir_fd(*fds) -> None:
    """Refuse a dir_fd argument: the node has no *at system calls."""
    if any(fd is not None for fd in fds):
        raise NotImplementedError("dir_fd unavailable on the node")


def absent(name: str):
    """os.`name` for a call the node has none for: OSError(ENOSYS), never the host's."""
    def absent(*args, **kwargs):
        raise OSError(errno.ENOSYS, f"os.{name} does not reach the node (see libc)")
    absent.__name__ = absent.__qualname__ = name
    return absent
