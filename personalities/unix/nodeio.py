"""A program's Python file world is the node's: open, input, sys.std*, os.* over libc.

crt0 calls `install()` once a program's own imports are done, just before its `main`.
From then on, in that process (and the processes it forks):

- `open` (builtins.open and io.open) opens a file of the node: a `NodeFile` (a raw
  stream over a libc fd, as io.FileIO is over a host fd) wrapped by io.BufferedReader,
  BufferedWriter or BufferedRandom and io.TextIOWrapper, as the real open does; mode,
  buffering, encoding (default UTF-8, the node's), errors, newline, closefd and opener
  mean what they mean there. `sys.stdin`, `sys.stdout` and `sys.stderr` are such
  streams over fds 0, 1 and 2 (`stdio`, which crt0 sets up before the program is
  imported); `print` writes to sys.stdout, and `input` reads sys.stdin.
- `os` calls on paths (stat, lstat, listdir, scandir, mkdir, rmdir, remove, unlink,
  rename, replace, link, chdir, getcwd, utime, access, statvfs, and so os.path.exists,
  isdir, isfile, getsize, abspath, realpath, os.walk, os.makedirs, glob, pathlib and
  shutil's copying), on fds (open, read, write, lseek, close, fstat, dup, dup2, pipe,
  isatty, fsync), chmod, symlink, readlink, umask, on processes (getpid, getppid,
  getpgrp, setpgid, kill, killpg, fork, wait, waitpid, the exec family, _exit, system, uname) and `os.environ` (the process's
  environment, libc.environ) go to libc: to the node's Unix server. Errors are
  OSError subclasses naming the node's path, as the host's os does.
- `os` calls the node has no system call for (chown, truncate, sendfile, pread,
  popen, posix_spawn, ...) raise OSError(ENOSYS) rather than act on the host's files or fds.

What stays the host's: the task runtime (its ZeroMQ sockets and shared memory were
opened before; `HOST_SIDE` modules, libc among them, keep the host's os module,
`host.os`), imports (importlib reads with `_io` and `posix`, never these), linecache
(tracebacks show the host's sources), sys.__stdout__ and sys.__stderr__ (the task's
log), `posix`, io.FileIO, subprocess, socket, ctypes and the `signal` module. This is
not a security boundary: a program is host Python code, in a host process of the user
who runs the node, and can always reach the host underneath (`import posix`,
`host.open`, ...); it makes programs written naturally work on the node's files,
nothing more (docs/security.md).
"""
from __future__ import annotations

import builtins
import errno
import io
import os
import stat as S
import sys
import threading
import types
import weakref

from . import libc

__all__ = ["install", "installed", "stdio", "open", "input", "NodeFile", "DirEntry",
           "host", "HOST_SIDE", "BUFSIZE"]

BUFSIZE = libc.MAX_IO                 # one READ or WRITE system call's most
# Modules of the runtime that keep the host's os (a name or a package prefix): the
# task runtime and the physical memory it attaches after a fork, the protocols, libc.
HOST_SIDE = ("microkernel", "hw", "protocols", "zmq", "msgpack", "personalities.unix.libc",
             "personalities.unix.crt0", "linecache")

# The host's, as imported (the task factory imports this module before any switch).
_host_os = types.ModuleType("os", "The host's os module, as it was before install().")
_host_os.__dict__.update(os.__dict__)
host = types.SimpleNamespace(os=_host_os, open=builtins.open, input=builtins.input,
                             io_open=io.open, environ=os.environ)

_FT_REG, _FT_DIR, _FT_SYMLINK = 1, 2, 7         # ext2 directory entry types (READDIR)
_files: "weakref.WeakSet" = weakref.WeakSet()    # what open() returned, for flush_all
_pending_close: list[int] = []                   # fds a finalizer could not close yet
_installed = False


def installed() -> bool:
    return _installed


# -- errors --------------------------------------------------------------------------

def _named(e: OSError, name, name2=None) -> OSError:
    """e as the host's os raises it: the errno's subclass, naming the path(s)."""
    if name2 is None:
        return OSError(e.errno, e.strerror, name)
    return OSError(e.errno, e.strerror, name, None, name2)


def _no_dir_fd(*fds) -> None:
    if any(fd is not None for fd in fds):
        raise NotImplementedError("dir_fd unavailable on the node")


def _absent(name: str):
    def absent(*args, **kwargs):
        raise OSError(errno.ENOSYS, f"os.{name} does not reach the node (see libc)")
    absent.__name__ = absent.__qualname__ = name
    return absent


def _in_call() -> bool:
    """The main thread is inside a system call: a finalizer (the garbage collector ran
    during it) must not make another one on the same socket."""
    return libc._s.depth > 0 and threading.current_thread() is threading.main_thread()


def _guard() -> None:
    if _in_call():
        raise BlockingIOError(errno.EAGAIN, "a file's finalizer ran inside a system call")


def _close_pending() -> None:
    while _pending_close and not _in_call():
        try:
            libc.close(_pending_close.pop())
        except OSError:
            pass


# -- the raw stream ------------------------------------------------------------------

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
            _close_pending()
            if opener is None:
                fd = _os_open(file, flags, 0o666)
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
        _guard()
        m = memoryview(b).cast("B")
        data = libc.read(self._fd, len(m))
        m[:len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        self._checkClosed()
        if not self._readable:
            raise io.UnsupportedOperation("File not open for reading")
        _guard()
        out = bytearray()
        while chunk := libc.read(self._fd, BUFSIZE):
            out += chunk
        return bytes(out)

    def write(self, b) -> int:
        self._checkClosed()
        if not self._writable:
            raise io.UnsupportedOperation("File not open for writing")
        _guard()
        return libc.write(self._fd, bytes(b))

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self._checkClosed()
        _guard()
        return libc.lseek(self._fd, pos, whence)

    def tell(self) -> int:
        self._checkClosed()
        _guard()
        return libc.lseek(self._fd, 0, os.SEEK_CUR)

    def truncate(self, size=None):
        self._checkClosed()
        raise io.UnsupportedOperation("truncate: the node has no ftruncate")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._closefd and self._fd >= 0:
                if _in_call():
                    _pending_close.append(self._fd)
                else:
                    libc.close(self._fd)
        finally:
            super().close()


class _StdFile(NodeFile):
    """fd 0, 1 or 2: no system call to set it up (every process has three); neither
    seekable nor telling, as a terminal or pipe is."""

    def __init__(self, fd: int, mode: str, name: str):
        super().__init__(fd, mode, closefd=False, name=name)
        self._seekable = False

    def seek(self, pos, whence=os.SEEK_SET):
        raise io.UnsupportedOperation("seek")

    def tell(self):
        raise io.UnsupportedOperation("tell")


def stdio(ttys: int | None = None) -> None:
    """sys.stdin, stdout and stderr over fds 0, 1 and 2 (UTF-8, bad bytes replaced);
    stdout is line buffered on a terminal, stderr always written through. `ttys` (bit
    n: fd n is a terminal), when the server gave it, spares asking. stdout's buffer is
    one WRITE system call's most (BUFSIZE), what a pipe holds: a program printing line
    by line into a pipe makes a system call per 64 KiB, not per 8 KiB."""
    std = [_StdFile(0, "r", "<stdin>"), _StdFile(1, "w", "<stdout>"),
           _StdFile(2, "w", "<stderr>")]
    if ttys is not None:
        for n, f in enumerate(std):
            f._tty = bool(ttys >> n & 1)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(std[0]),
                                 encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(std[1], BUFSIZE), encoding="utf-8",
                                  errors="replace", line_buffering=std[1].isatty())
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(std[2]),
                                  encoding="utf-8", errors="replace", write_through=True)
    for f, mode in ((sys.stdin, "r"), (sys.stdout, "w"), (sys.stderr, "w")):
        f.mode = mode


# -- open and input ------------------------------------------------------------------

def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
         closefd=True, opener=None):
    """The builtin open, on the node's files (see the module's doc)."""
    if not isinstance(file, int):
        file = os.fspath(file)
    if not isinstance(mode, str):
        raise TypeError(f"open() argument 'mode' must be str, not {type(mode).__name__}")
    modes = set(mode)
    if modes - set("axrwb+t") or len(mode) > len(modes):
        raise ValueError(f"invalid mode: '{mode}'")
    text, binary = "t" in modes, "b" in modes
    if text and binary:
        raise ValueError("can't have text and binary mode at once")
    if sum(c in modes for c in "xrwa") != 1:
        raise ValueError("must have exactly one of create/read/write/append mode")
    if binary and encoding is not None:
        raise ValueError("binary mode doesn't take an encoding argument")
    if binary and errors is not None:
        raise ValueError("binary mode doesn't take an errors argument")
    if binary and newline is not None:
        raise ValueError("binary mode doesn't take a newline argument")
    if binary and buffering == 1:
        import warnings
        warnings.warn("line buffering (buffering=1) isn't supported in binary mode, the "
                      "default buffer size will be used", RuntimeWarning, 2)
    raw = NodeFile(file, "".join(c for c in mode if c in "xrwa+"), closefd, opener)
    try:
        line_buffering = buffering == 1 or (buffering < 0 and raw.isatty())
        if buffering < 0 or buffering == 1:
            buffering = BUFSIZE
        if buffering == 0:
            if binary:
                return raw
            raise ValueError("can't have unbuffered text I/O")
        if "+" in modes:
            buffer = io.BufferedRandom(raw, buffering)
        elif modes & set("wxa"):
            buffer = io.BufferedWriter(raw, buffering)
        else:
            buffer = io.BufferedReader(raw, buffering)
        if binary:
            result = buffer
        else:
            result = io.TextIOWrapper(buffer, "utf-8" if encoding in (None, "locale")
                                      else encoding, errors, newline, line_buffering)
            result.mode = mode
        if raw.writable():
            _files.add(result)
        return result
    except BaseException:
        raw.close()
        raise


def input(prompt="") -> str:
    """The builtin input, on sys.stdin and sys.stdout (the node's fds 0 and 1)."""
    if sys.stdin is None:
        raise RuntimeError("input(): lost sys.stdin")
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    if prompt != "":
        sys.stdout.write(str(prompt))
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line")
    return line[:-1] if line.endswith("\n") else line


_libc_flush = libc.flush                         # stdio's


def flush_all() -> None:
    """What libc.flush does once installed (before fork, exec and exit): stdio, and
    every file open() returned for writing that is still open."""
    _libc_flush()
    for f in list(_files):
        try:
            f.flush()
        except (OSError, ValueError):
            pass


# -- os on paths ---------------------------------------------------------------------

def _stat_result(st: os.stat_result) -> os.stat_result:
    a, m, c = st[7], st[8], st[9]
    return os.stat_result(tuple(st)[:10], {
        "st_atime": float(a), "st_mtime": float(m), "st_ctime": float(c),
        "st_atime_ns": a * 10**9, "st_mtime_ns": m * 10**9, "st_ctime_ns": c * 10**9,
        "st_blksize": BUFSIZE})


def _os_stat(path, *, dir_fd=None, follow_symlinks=True):
    _no_dir_fd(dir_fd)
    if isinstance(path, int):
        return _os_fstat(path)
    try:
        return _stat_result((libc.stat if follow_symlinks else libc.lstat)(path))
    except OSError as e:
        raise _named(e, path) from None


def _os_lstat(path, *, dir_fd=None):
    return _os_stat(path, dir_fd=dir_fd, follow_symlinks=False)


def _os_fstat(fd):
    return _stat_result(libc.fstat(fd))


def _names(path):
    if isinstance(path, int):
        raise NotImplementedError("listing a directory by fd is unavailable on the node")
    path = os.fspath(path)
    try:
        entries = libc.readdir(path)
    except OSError as e:
        raise _named(e, path) from None
    return [e for e in entries if e[0] not in (".", "..")]


def _os_listdir(path="."):
    entries = _names(path)
    if isinstance(os.fspath(path), bytes):
        return [os.fsencode(n) for n, _, _ in entries]
    return [n for n, _, _ in entries]


class DirEntry:
    """What os.scandir yields: the name, the type READDIR gave, stat on demand."""

    __slots__ = ("name", "path", "_ino", "_type", "_stat", "_lstat")

    def __init__(self, top, name, ino: int, typ: int):
        self.name = name
        if isinstance(top, bytes):
            self.name = name = os.fsencode(name)
        self.path = os.path.join(top, name)
        self._ino, self._type, self._stat, self._lstat = ino, typ, None, None

    def inode(self) -> int:
        return self._ino

    def stat(self, *, follow_symlinks=True):
        if not follow_symlinks or self._type != _FT_SYMLINK:
            if self._lstat is None:
                self._lstat = _os_lstat(self.path)
            if not follow_symlinks or not S.S_ISLNK(self._lstat.st_mode):
                return self._lstat
        if self._stat is None:
            self._stat = _os_stat(self.path)
        return self._stat

    def _is(self, test, ft, follow_symlinks) -> bool:
        if self._type not in (0, _FT_SYMLINK) or (self._type == _FT_SYMLINK and
                                                    not follow_symlinks):
            return self._type == ft
        try:
            return test(self.stat(follow_symlinks=follow_symlinks).st_mode)
        except FileNotFoundError:
            return False

    def is_dir(self, *, follow_symlinks=True) -> bool:
        return self._is(S.S_ISDIR, _FT_DIR, follow_symlinks)

    def is_file(self, *, follow_symlinks=True) -> bool:
        return self._is(S.S_ISREG, _FT_REG, follow_symlinks)

    def is_symlink(self) -> bool:
        if self._type:
            return self._type == _FT_SYMLINK
        return S.S_ISLNK(self.stat(follow_symlinks=False).st_mode)

    def is_junction(self) -> bool:
        return False

    def __fspath__(self):
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"


class _Scandir:
    """os.scandir's iterator (the whole directory is read at once)."""

    def __init__(self, entries):
        self._it = iter(entries)

    def __iter__(self):
        return self

    def __next__(self) -> DirEntry:
        return next(self._it)

    def close(self) -> None:
        self._it = iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _os_scandir(path="."):
    top = os.fspath(path) if not isinstance(path, int) else path
    return _Scandir([DirEntry(top, n, ino, t) for n, ino, t in _names(top)])


def _path_call(fn):
    """libc fn(path, ...) as os's: dir_fd refused, the path named in errors."""
    def call(path, *args, dir_fd=None):
        _no_dir_fd(dir_fd)
        try:
            return fn(path, *args)
        except OSError as e:
            raise _named(e, path) from None
    call.__name__ = call.__qualname__ = fn.__name__
    call.__doc__ = f"os.{fn.__name__} on the node's files (libc.{fn.__name__})."
    return call


def _two_paths(fn):
    def call(src, dst, *, src_dir_fd=None, dst_dir_fd=None, **_):
        _no_dir_fd(src_dir_fd, dst_dir_fd)
        try:
            return fn(src, dst)
        except OSError as e:
            raise _named(e, src, dst) from None
    call.__name__ = call.__qualname__ = fn.__name__
    return call


def _os_open(path, flags, mode=0o777, *, dir_fd=None):
    _no_dir_fd(dir_fd)
    try:
        return libc.open(path, flags, mode)
    except OSError as e:
        raise _named(e, path) from None


def _os_mkdir(path, mode=0o777, *, dir_fd=None):
    _no_dir_fd(dir_fd)
    try:
        libc.mkdir(path, mode)
    except OSError as e:
        raise _named(e, path) from None


def _os_chdir(path):
    if isinstance(path, int):
        raise NotImplementedError("fchdir is unavailable on the node")
    try:
        libc.chdir(path)
    except OSError as e:
        raise _named(e, path) from None


def _os_utime(path, times=None, *, ns=None, dir_fd=None, follow_symlinks=True):
    _no_dir_fd(dir_fd)
    if times is not None and ns is not None:
        raise ValueError("utime: you may specify either 'times' or 'ns' but not both")
    if ns is not None:
        times = (ns[0] // 10**9, ns[1] // 10**9)
    try:
        libc.utime(path, None if times is None else (int(times[0]), int(times[1])))
    except OSError as e:
        raise _named(e, path) from None


def _os_access(path, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):
    """Whether the path exists and, for R_OK, W_OK, X_OK, has such a permission bit for
    anyone (the node's permissions are not checked per user here)."""
    try:
        st = _os_stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
    except OSError:
        return False
    need = [bits for flag, bits in ((os.R_OK, 0o444), (os.W_OK, 0o222), (os.X_OK, 0o111))
            if mode & flag]
    return all(st.st_mode & bits for bits in need)


def _os_statvfs(path):
    _os_stat(path)
    f = libc.statfs()
    return os.statvfs_result((f["bsize"], f["bsize"], f["blocks"], f["bfree"], f["bfree"],
                              f["files"], f["ffree"], f["ffree"], 0, 255))


# -- os on fds and processes ---------------------------------------------------------

def _os_close(fd):
    _close_pending()
    libc.close(fd)


def _os_closerange(lo, hi):
    for fd in range(lo, min(hi, 64)):
        try:
            libc.close(fd)
        except OSError:
            pass


def _os_isatty(fd) -> bool:
    try:
        return libc.isatty(fd)
    except OSError:
        return False


def _os_dup2(fd, fd2, inheritable=True):
    fd2 = libc.dup2(fd, fd2)
    if not inheritable:
        libc.set_cloexec(fd2)
    return fd2


def _os_fsync(fd):
    libc.fstat(fd)                         # EBADF as fsync would say
    libc.sync()


def _os_set_inheritable(fd, inheritable):
    libc.set_cloexec(fd, not inheritable)


def _os_killpg(pgrp, sig):
    libc.kill(-pgrp, sig)


def _os_setpgrp():
    libc.setpgid(0, 0)


def _os_execv(path, args):
    libc.execve(path, list(args), libc.environ)


def _os_execvpe(file, args, env):
    libc.execvp(file, list(args), env)


def _os_execvp(file, args):
    libc.execvp(file, list(args))


def _os_system(command) -> int:
    """`sh -c command` on the node; its wait status, as os.system's."""
    pid = libc.fork()
    if pid == 0:
        try:
            libc.execve("/bin/sh", ["sh", "-c", os.fsdecode(command)], libc.environ)
        finally:
            libc.exit(127)
    return libc.waitpid(pid)[1]


_OS = {
    "stat": _os_stat, "lstat": _os_lstat, "fstat": _os_fstat, "listdir": _os_listdir,
    "scandir": _os_scandir, "mkdir": _os_mkdir, "rmdir": _path_call(libc.rmdir),
    "remove": _path_call(libc.unlink), "unlink": _path_call(libc.unlink),
    "rename": _two_paths(libc.rename), "replace": _two_paths(libc.rename),
    "link": _two_paths(libc.link), "symlink": _two_paths(libc.symlink),
    "readlink": _path_call(libc.readlink), "chmod": _path_call(libc.chmod),
    "umask": libc.umask, "chdir": _os_chdir, "getcwd": libc.getcwd,
    "getcwdb": lambda: os.fsencode(libc.getcwd()), "utime": _os_utime,
    "access": _os_access, "statvfs": _os_statvfs,
    "open": _os_open, "read": libc.read, "write": libc.write, "lseek": libc.lseek,
    "close": _os_close, "closerange": _os_closerange, "dup": libc.dup, "dup2": _os_dup2,
    "pipe": libc.pipe, "isatty": _os_isatty, "fsync": _os_fsync, "fdatasync": _os_fsync,
    "sync": libc.sync, "set_inheritable": _os_set_inheritable,
    "device_encoding": lambda fd: None,
    "getpid": libc.getpid, "getppid": libc.getppid, "getpgrp": libc.getpgrp,
    "setpgid": libc.setpgid, "setpgrp": _os_setpgrp, "kill": libc.kill,
    "killpg": _os_killpg, "tcsetpgrp": libc.tcsetpgrp, "fork": libc.fork,
    "wait": libc.wait, "waitpid": libc.waitpid, "execv": _os_execv,
    "execve": libc.execve, "execvp": _os_execvp, "execvpe": _os_execvpe,
    "_exit": libc.exit, "system": _os_system, "uname": libc.uname,
}
# Host calls that would act on the host's files or fds, which the node has no system
# call for: OSError(ENOSYS) instead.
_ABSENT = ("fchmod lchmod chown fchown lchown chroot fchdir "
           "truncate ftruncate mkfifo mknod pread pwrite preadv pwritev readv writev "
           "sendfile copy_file_range splice lockf posix_fallocate posix_fadvise fstatvfs "
           "get_blocking set_blocking get_inheritable pipe2 posix_spawn posix_spawnp "
           "popen openpty forkpty tcgetpgrp ttyname login_tty memfd_create eventfd "
           "setsid getsid fpathconf pathconf getxattr setxattr listxattr "
           "removexattr").split()
_ABSENT_FNS = {name: _absent(name) for name in _ABSENT if hasattr(os, name)}   # made once


# -- the switch ----------------------------------------------------------------------

_HOST_PREFIXES = tuple(p + "." for p in HOST_SIDE)
_walked = 0                                      # len(sys.modules) at the last walk


def _host_side(name: str) -> bool:
    return name.startswith(_HOST_PREFIXES) or name in HOST_SIDE


def keep_host_os() -> None:
    """Give every HOST_SIDE module imported so far the host's os. It walks sys.modules
    only if modules came since the last walk: the task factory has it done once after
    its preloads (crt0.preloaded), so a program's start walks nothing unless it
    imported modules of its own. (A walk in each program touched every module object,
    and after a fork that is a copied page each: 430 page faults, 2 ms.)"""
    global _walked
    if len(sys.modules) == _walked:
        return
    for name, mod in list(sys.modules.items()):
        if _host_side(name) and getattr(mod, "os", None) is os:
            mod.os = _host_os
    _walked = len(sys.modules)


def install(argv=None) -> None:
    """Make this process's Python file world the node's (once; its forks inherit it).
    `argv` becomes sys.argv."""
    global _installed
    if _installed:
        return
    keep_host_os()                                     # the runtime keeps the host's os
    for name, fn in _ABSENT_FNS.items():
        setattr(os, name, fn)
    for name, fn in _OS.items():
        setattr(os, name, fn)
    os.environ = libc.environ                          # os.getenv reads it too
    shutil = sys.modules.get("shutil")                 # imported before: no fd walks
    if shutil is not None:
        shutil._use_fd_functions = False
        shutil.rmtree.avoids_symlink_attacks = False
    builtins.open = io.open = open
    builtins.input = input
    libc.flush = flush_all
    if argv is not None:
        sys.argv = list(argv)
    _installed = True
