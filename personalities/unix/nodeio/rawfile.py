"""NodeFile: a libc fd of the node as a raw stream, what io.FileIO is over a host fd;
open() wraps it in io's buffers and text layer. A file's finalizer may run inside a
system call (the garbage collector ran during it): it must not make another on the same
socket, so its close waits in `pending_close` until the next open or close."""
from __future__ import annotations

import errno
import io
import os
import stat as S
import threading

from .. import libc
from . import paths

__all__ = ["NodeFile", "BUFSIZE", "pending_close", "close_pending", "in_call", "guard"]

BUFSIZE = libc.MAX_IO                 # one READ or WRITE system call's most
pending_close: list[int] = []         # fds a finalizer could not close yet


def in_call() -> bool:
    """The main thread is inside a system call: a finalizer (the garbage collector ran
    during it) must not make another one on the same socket."""
    return libc._s.depth > 0 and threading.current_thread() is threading.main_thread()


def guard() -> None:
    """Refuse I/O from a finalizer that runs inside a system call."""
    if in_call():
        raise BlockingIOError(errno.EAGAIN, "a file's finalizer ran inside a system call")


def close_pending() -> None:
    """Close the fds finalizers held back, unless still inside a system call."""
    while pending_close and not in_call():
        try:
            libc.close(pending_close.pop())
        except OSError:
            pass


class NodeFile(io.RawIOBase):
    """A libc fd as a raw stream: io.FileIO for the node. `file` is a path (opened with
    flags from `mode`, "r", "w", "x" or "a" and maybe "+") or an fd."""

    def __init__(self, file, mode: str = "r", closefd: bool = True, opener=None,
                 *, name=None):
        self._fd, self._closefd = -1, closefd
        self._seekable = self._tty = None
        if isinstance(file, float):
            raise TypeError("integer argument expected, got float")
        modes = set(mode)
        if modes - set("rwxab+") or len(mode) != len(modes) or \
                sum(c in modes for c in "rwxa") != 1:
            raise ValueError(f"invalid mode: {mode}")
        self._readable = "r" in modes or "+" in modes
        self._writable = bool(modes & set("wxa+"))
        self._append, self._created = "a" in modes, "x" in modes
        if isinstance(file, int):
            if file < 0:
                raise ValueError("negative file descriptor")
            fd = file
        else:
            if not closefd:
                raise ValueError("Cannot use closefd=False with file name")
            flags = (os.O_RDWR if "+" in modes else
                     os.O_RDONLY if "r" in modes else os.O_WRONLY)
            flags |= {"r": 0, "w": os.O_CREAT | os.O_TRUNC, "x": os.O_CREAT | os.O_EXCL,
                      "a": os.O_CREAT | os.O_APPEND}[(modes & set("rwxa")).pop()]
            flags |= os.O_CLOEXEC                        # PEP 446, as the host's open
            close_pending()
            if opener is None:
                fd = paths.open(file, flags, 0o666)
            else:
                fd = opener(file, flags)
                if not isinstance(fd, int) or fd < 0:
                    raise ValueError(f"opener returned {fd}")
        self._fd = fd
        try:
            if not isinstance(file, int):
                st = libc.fstat(fd)
                if S.S_ISDIR(st.st_mode):
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), file)
                if S.S_ISREG(st.st_mode):
                    self._seekable, self._tty = True, False
            if self._append:
                try:
                    libc.lseek(fd, 0, os.SEEK_END)
                except OSError as e:
                    if e.errno != errno.ESPIPE:
                        raise
        except BaseException:
            if closefd:
                libc.close(fd)
            self._fd = -1
            raise
        self.name = file if name is None else name

    # -- what it is

    @property
    def mode(self) -> str:
        if self._created:
            return "xb+" if self._readable else "xb"
        if self._append:
            return "ab+" if self._readable else "ab"
        if self._readable:
            return "rb+" if self._writable else "rb"
        return "wb"

    @property
    def closefd(self) -> bool:
        return self._closefd

    def fileno(self) -> int:
        self._checkClosed()
        return self._fd

    def readable(self) -> bool:
        self._checkClosed()
        return self._readable

    def writable(self) -> bool:
        self._checkClosed()
        return self._writable

    def seekable(self) -> bool:
        self._checkClosed()
        if self._seekable is None:
            try:
                libc.lseek(self._fd, 0, os.SEEK_CUR)
                self._seekable = True
            except OSError:
                self._seekable = False
        return self._seekable

    def isatty(self) -> bool:
        self._checkClosed()
        if self._tty is None:
            try:
                self._tty = libc.isatty(self._fd)
            except OSError:
                self._tty = False
        return self._tty

    def __repr__(self) -> str:
        if self.closed:
            return "<NodeFile [closed]>"
        return f"<NodeFile name={self.name!r} mode={self.mode!r} closefd={self._closefd}>"

    def __getstate__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    # -- I/O

    def readinto(self, b) -> int:
        self._checkClosed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        guard()
        m = memoryview(b).cast("B")
        data = libc.read(self._fd, len(m))
        m[:len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        self._checkClosed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        guard()
        out = bytearray()
        while chunk := libc.read(self._fd, BUFSIZE):
            out += chunk
        return bytes(out)

    def write(self, b) -> int:
        self._checkClosed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        guard()
        return libc.write(self._fd, bytes(b))

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        guard()
        return libc.lseek(self._fd, pos, whence)

    def tell(self) -> int:
        self._checkClosed()
        guard()
        return libc.lseek(self._fd, 0, os.SEEK_CUR)

    def truncate(self, size=None):
        self._checkClosed()
        raise io.UnsupportedOperation("truncate: the node has no ftruncate")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._closefd and self._fd >= 0:
                if in_call():
                    pending_close.append(self._fd)
                else:
                    libc.close(self._fd)
        finally:
            super().close()
