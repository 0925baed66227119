"""File descriptors and open file descriptions.

A process's fd table maps small integers to open file descriptions; descriptions are
shared, by reference count, between the fds that dup made and across fork, so a
shared offset moves for all of them, and a pipe end closes when its last fd does.
Kinds: a file of the fs server (inode, offset, flags), a pipe end, a tty line (the
tty server's OPEN/READ/WRITE), and the server-side ends SPAWN gives a process that has
no terminal: a capture (writes collected for SPAWN_WAIT), a source (reads given bytes,
then end of file), and null.

Each kind answers `read(srv, call, count)` and `write(srv, call, data)` with the result
now (bytes / a count) or None, when `call` will be answered later (see pipe.py).
"""
from __future__ import annotations

import errno
import os
import stat as S
from collections import deque

from .pipe import Pipe

__all__ = ["Description", "File", "PipeEnd", "Tty", "Capture", "Source", "Null",
           "FdTable", "MAX_FDS", "BadFd"]

MAX_FDS = 64
TTY_READ = 4096                 # what one tty READ asks for
O_ACCMODE = 3


class BadFd(OSError):
    def __init__(self):
        super().__init__(errno.EBADF, "bad file descriptor")


class Description:
    """An open file description; `refs` counts the fds (in all tables) that hold it."""
    mode = S.S_IFCHR | 0o666
    seekable = False
    isatty = False

    def __init__(self, flags: int = os.O_RDWR):
        self.flags = flags
        self.refs = 0

    def readable(self) -> bool:
        return self.flags & O_ACCMODE in (os.O_RDONLY, os.O_RDWR)

    def writable(self) -> bool:
        return self.flags & O_ACCMODE in (os.O_WRONLY, os.O_RDWR)

    def read(self, srv, call, count: int) -> bytes | None:
        raise OSError(errno.EINVAL, "not readable")

    def write(self, srv, call, data: bytes) -> int | None:
        raise OSError(errno.EINVAL, "not writable")

    def lseek(self, srv, offset: int, whence: int) -> int:
        raise OSError(errno.ESPIPE, "illegal seek")

    def stat(self, srv) -> tuple:
        """The STAT reply's values: ino, mode, nlink, uid, gid, size, atime, mtime, ctime,
        blocks."""
        return (0, self.mode, 1, 0, 0, 0, 0, 0, 0, 0)

    def close(self) -> None:
        """The last fd holding it was closed."""


class File(Description):
    """A file or directory of fs server `fs` (this node's, or another's under /net)."""
    seekable = True

    def __init__(self, ino: int, mode: int, flags: int, path: str, fs):
        super().__init__(flags)
        self.ino, self.mode, self.path, self.fs = ino, mode, path, fs
        self.offset = 0

    def read(self, srv, call, count):
        if S.S_ISDIR(self.mode):
            raise OSError(errno.EISDIR, "is a directory")
        data = self.fs.read(self.ino, self.offset, count)
        self.offset += len(data)
        return data

    def write(self, srv, call, data):
        if self.flags & os.O_APPEND:
            self.offset = self.fs.stat(self.ino).size
        n = self.fs.write(self.ino, self.offset, data)
        self.offset += n
        return n

    def lseek(self, srv, offset, whence):
        if whence == os.SEEK_SET:
            new = offset
        elif whence == os.SEEK_CUR:
            new = self.offset + offset
        elif whence == os.SEEK_END:
            new = self.fs.stat(self.ino).size + offset
        else:
            raise OSError(errno.EINVAL, "bad whence")
        if new < 0:
            raise OSError(errno.EINVAL, "negative offset")
        self.offset = new
        return new

    def stat(self, srv):
        return tuple(self.fs.stat(self.ino))


class PipeEnd(Description):
    """The read or the write end of a pipe."""
    mode = S.S_IFIFO | 0o600

    def __init__(self, pipe: Pipe, writer: bool):
        super().__init__(os.O_WRONLY if writer else os.O_RDONLY)
        self.pipe, self.writer = pipe, writer
        if writer:
            pipe.writers += 1
        else:
            pipe.readers += 1

    def read(self, srv, call, count):
        return self.pipe.read(count, call)

    def write(self, srv, call, data):
        return self.pipe.write(data, call)

    def stat(self, srv):
        return (0, self.mode, 1, 0, 0, len(self.pipe.buf), 0, 0, 0, 0)

    def close(self):
        if self.writer:
            self.pipe.close_write()
        else:
            self.pipe.close_read()


class Tty(Description):
    """A line of the tty server. Its calls block, so they run on a worker lthread of
    the Unix server (srv.slow) and the caller is answered when the line answers. A
    read whose caller went away (killed by ^C, say) is not wasted: its line goes to the
    next reader of the description."""
    isatty = True

    def __init__(self, line: int, name: str):
        super().__init__(os.O_RDWR)
        self.line, self.name = line, name
        self.results: deque = deque()   # lines read for nobody yet (b"" = end of file)
        self.readers: deque = deque()   # (call, count) waiting for a line
        self.inflight = 0               # tty READs running on workers

    def read(self, srv, call, count):
        if self.results:
            return self._take(count)
        entry = (call, count)
        self.readers.append(entry)
        call.on_cancel = lambda: self._drop(entry)
        if self.inflight < len(self.readers):
            self.inflight += 1
            srv.slow(lambda: srv.tty.read(self.line, TTY_READ), self._done)
        return None

    def _take(self, count: int) -> bytes:
        chunk = self.results[0]
        if len(chunk) <= count:
            return self.results.popleft()
        self.results[0] = chunk[count:]
        return chunk[:count]

    def _drop(self, entry) -> None:
        self.readers = deque(e for e in self.readers if e is not entry)

    def _done(self, result) -> None:
        self.inflight -= 1
        if isinstance(result, BaseException):
            if self.readers:
                call, _ = self.readers.popleft()
                call.fail(getattr(result, "errno", None) or errno.EIO)
            return
        self.results.append(bytes(result))
        while self.readers and self.results:
            call, count = self.readers.popleft()
            call.reply(self._take(count))

    def write(self, srv, call, data):
        def done(result):
            if isinstance(result, BaseException):
                call.fail(getattr(result, "errno", None) or errno.EIO)
            else:
                call.reply(result)
        srv.slow(lambda: srv.tty.write(self.line, data), done)
        return None


class Capture(Description):
    """Output collected by the server for the task that SPAWNed the process."""

    def __init__(self):
        super().__init__(os.O_WRONLY)
        self.data = bytearray()
        self.closed = False
        self.on_close = None

    def write(self, srv, call, data):
        self.data += data
        return len(data)

    def close(self):
        self.closed = True
        if self.on_close is not None:
            self.on_close()


class Source(Description):
    """Given bytes to read, then end of file."""

    def __init__(self, data: bytes = b""):
        super().__init__(os.O_RDONLY)
        self.data = bytearray(data)

    def read(self, srv, call, count):
        out = bytes(self.data[:count])
        del self.data[:count]
        return out


class Null(Description):
    """/dev/null: reads end at once, writes vanish."""

    def read(self, srv, call, count):
        return b""

    def write(self, srv, call, data):
        return len(data)


class FdTable:
    """fd -> [description, close-on-exec]; the lowest free number is taken first."""

    def __init__(self):
        self.fds: dict[int, list] = {}

    def get(self, fd: int) -> Description:
        entry = self.fds.get(fd)
        if entry is None:
            raise BadFd()
        return entry[0]

    def install(self, desc: Description, lowest: int = 0, cloexec: bool = False) -> int:
        fd = lowest
        while fd in self.fds:
            fd += 1
        if fd >= MAX_FDS:
            raise OSError(errno.EMFILE, "too many open files")
        desc.refs += 1
        self.fds[fd] = [desc, cloexec]
        return fd

    def close(self, fd: int) -> None:
        entry = self.fds.pop(fd, None)
        if entry is None:
            raise BadFd()
        _drop(entry[0])

    def dup(self, fd: int) -> int:
        return self.install(self.get(fd))

    def dup2(self, old: int, new: int) -> int:
        desc = self.get(old)
        if not 0 <= new < MAX_FDS:
            raise BadFd()
        if old == new:
            return new
        desc.refs += 1                      # before closing `new`: it may be the same
        if new in self.fds:
            self.close(new)
        self.fds[new] = [desc, False]
        return new

    def set_cloexec(self, fd: int, on: bool) -> None:
        self.get(fd)
        self.fds[fd][1] = on

    def fork(self) -> "FdTable":
        """The child's table: the same descriptions, one more reference each."""
        child = FdTable()
        for fd, (desc, cloexec) in self.fds.items():
            desc.refs += 1
            child.fds[fd] = [desc, cloexec]
        return child

    def exec(self) -> None:
        for fd in [fd for fd, e in self.fds.items() if e[1]]:
            self.close(fd)

    def close_all(self) -> None:
        for fd in list(self.fds):
            self.close(fd)


def _drop(desc: Description) -> None:
    desc.refs -= 1
    if desc.refs == 0:
        desc.close()
