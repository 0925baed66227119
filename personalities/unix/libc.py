"""libc: what a program calls. Each function is a system call to the Unix server (the
process's chief) by its protocol (protocols/unix.py), raising OSError(errno) like the
host's `os` module.

crt0 calls `_init` first. A blocking call answered EINTR with a signal as detail ran
into a handled signal: the handler runs here, in the main thread, and the call is made
again (Python's PEP 475 rule; a handler that raises ends the call with its exception).
Other signals come to the signal thread (lthread 1, started by the first `signal()`
with a handler), which queues them and raises the host's carrier signal in the main
thread (`_thread.interrupt_main`), whose Python handler runs the program's handlers.
Wait statuses are encoded as on Linux, so `os.WIFEXITED`, `os.WEXITSTATUS`,
`os.WIFSIGNALED` and `os.WTERMSIG` read them. The environment is a dict.
Starting programs (posix_spawn, the exec family, `on`) and `environ` are launch.py's,
re-exported here: a program imports libc alone.
"""
from __future__ import annotations

import _thread
import errno
import os
import signal as _signal
import sys
import time
from collections import deque

from microkernel.abi import ThreadId
from protocols.client import Service, ServiceError
from protocols.unix import SIG_DFL as _DFL, SIG_HANDLE as _HANDLE, SIG_IGN as _IGN, UNIX, Op

from personalities.unix import launch as _launch
from personalities.unix.launch import (SpawnError, environ, execv, execve, execvp, on,
                                       posix_spawn)

__all__ = ["open", "read", "write", "close", "lseek", "stat", "lstat", "fstat", "readdir",
           "listdir", "mkdir", "rmdir", "unlink", "rename", "link", "symlink", "readlink",
           "chmod", "umask", "chdir", "getcwd",
           "dup", "dup2", "pipe", "fork", "posix_spawn", "SpawnError", "execve", "execv",
           "execvp", "wait", "waitpid",
           "exit", "getpid", "getppid", "getpgrp", "setpgid", "kill", "signal", "pause",
           "sleep", "sync", "uname", "on", "isatty", "tcsetpgrp", "ps", "statfs", "mmap",
           "mmap_file", "munmap", "utime", "peek", "poke", "set_cloexec", "flush",
           "read_all", "environ", "SIG_DFL", "SIG_IGN", "MAX_IO"]

MAX_IO = 256 << 10
CARRIER = _signal.SIGUSR2             # the host signal that carries ours to main
SIG_DFL, SIG_IGN = _signal.SIG_DFL, _signal.SIG_IGN


class _State:
    rt = None
    unix: "Syscalls | None" = None
    pid = 0
    handlers: dict = {}
    sigthread = False
    queue: deque = deque()
    depth = 0                         # > 0 while the main thread is in a kernel call


_s = _State()
_launch.bind(_s, lambda: flush())     # the flush of the time: nodeio.install replaces it


class Syscalls(Service):
    """The Unix server as the main thread of a process calls it: its chief, by id."""

    iface = UNIX

    def call(self, code: int, *values, restart: bool = True):
        """System call `code`; its reply. An errno raises OSError as `os` does; EINTR
        with a signal runs its handler and, with `restart`, calls again (PEP 475)."""
        while True:
            try:
                return self.call_msg(code, *values)[0]
            except ServiceError as e:
                if e.errno != errno.EINTR or not e.detail:
                    raise OSError(e.errno, os.strerror(e.errno)) from None
                _run_handler(e.detail[0])
                if not restart:
                    return None

    def _ipc(self, tid, msg, timeout, window, limits):
        """The call's IPC, with signal handlers held back (see `_held`)."""
        return _held(super()._ipc, tid, msg, timeout, window, limits)


def _held(fn, *args):
    """Run one kernel call with handlers held back: a handler that raises must not cut
    a request from its reply on this thread's socket. Held ones run right after."""
    _s.depth += 1
    try:
        return fn(*args)
    finally:
        _s.depth -= 1
        if _s.queue and not _s.depth:
            _carrier(CARRIER, None)


def _init(rt, pid: int, server: int | None = None) -> None:
    """crt0: bind libc to this task and its server (its chief: `server` when the
    server said which it is at the start, else asked of the kernel)."""
    _s.rt = rt
    _s.unix = Syscalls(rt, tid=ThreadId(server) if server else rt.chief())
    _s.pid = pid
    _s.handlers = {}
    _signal.signal(CARRIER, _carrier)


_b = os.fsencode                      # a path or an argument as bytes


def _w(v) -> int:
    """A caller's integer as a word (a negative fd is then simply a bad one)."""
    return int(v) & 0xFFFFFFFF


# -- files ---------------------------------------------------------------------------

def open(path, flags: int = os.O_RDONLY, mode: int = 0o666) -> int:
    return _s.unix.call(Op.OPEN, _w(flags), _w(mode), _b(path)).fd


def read(fd: int, n: int) -> bytes:
    """At most n bytes (at most 64 KiB); b"" at end of file."""
    return _s.unix.call(Op.READ, _w(fd), max(0, min(n, MAX_IO))).data


def read_all(path: str) -> bytes:
    """The whole of file `path` ("-": standard input)."""
    fd = 0 if path == "-" else open(path)
    out = bytearray()
    try:
        while chunk := read(fd, MAX_IO):
            out += chunk
    finally:
        if fd:
            close(fd)
    return bytes(out)


def write(fd: int, data) -> int:
    data = bytes(data)
    done = 0
    while done < len(data) or not data:
        n = _s.unix.call(Op.WRITE, _w(fd), data[done:done + MAX_IO]).count
        done += n
        if not data or n == 0:
            break
    return done


def close(fd: int) -> None: _s.unix.call(Op.CLOSE, _w(fd))


def lseek(fd: int, pos: int, how: int) -> int:
    return _s.unix.call(Op.LSEEK, _w(fd), pos, _w(how)).off


def _stat(r) -> os.stat_result:
    return os.stat_result((r.mode, r.ino, 0, r.nlink, r.uid, r.gid, r.size, r.atime,
                           r.mtime, r.ctime), {"st_blocks": r.blocks, "st_blksize": 4096})


def stat(path) -> os.stat_result: return _stat(_s.unix.call(Op.STAT, 1, _b(path)))
def lstat(path) -> os.stat_result: return _stat(_s.unix.call(Op.STAT, 0, _b(path)))
def fstat(fd: int) -> os.stat_result: return _stat(_s.unix.call(Op.FSTAT, _w(fd)))


def readdir(path=".") -> list[tuple[str, int, int]]:
    """Every entry of a directory as (name, inode, type), "." and ".." included."""
    out, start = [], 0
    while True:
        r = _s.unix.call(Op.READDIR, start, _b(path))
        for s in r.entries:
            name, ino, typ = s.split(b"\0")
            out.append((os.fsdecode(name), int(ino), int(typ)))
        start = r.next
        if not start:
            return out


def listdir(path=".") -> list[str]:
    """The names in a directory, as os.listdir (no "." or "..")."""
    return [n for n, _, _ in readdir(path) if n not in (".", "..")]


def mkdir(path, mode: int = 0o777) -> None: _s.unix.call(Op.MKDIR, _w(mode), _b(path))
def rmdir(path) -> None: _s.unix.call(Op.RMDIR, _b(path))
def unlink(path) -> None: _s.unix.call(Op.UNLINK, _b(path))
def rename(old, new) -> None: _s.unix.call(Op.RENAME, _b(old), _b(new))
def link(old, new) -> None: _s.unix.call(Op.LINK, _b(old), _b(new))
def symlink(target, path) -> None: _s.unix.call(Op.SYMLINK, _b(target), _b(path))
def readlink(path) -> str: return os.fsdecode(_s.unix.call(Op.READLINK, _b(path)).target)
def chmod(path, mode: int) -> None: _s.unix.call(Op.CHMOD, _w(mode), _b(path))
def umask(mask: int) -> int: return _s.unix.call(Op.UMASK, _w(mask)).old
def chdir(path) -> None: _s.unix.call(Op.CHDIR, _b(path))
def getcwd() -> str: return os.fsdecode(_s.unix.call(Op.GETCWD).path)
def sync() -> None: _s.unix.call(Op.SYNC)


def utime(path, times: tuple[int, int] | None = None) -> None:
    """Set (atime, mtime) of `path`, in seconds; None: both now (as os.utime)."""
    a, m = (0, 0) if times is None else times
    _s.unix.call(Op.UTIME, int(times is None), _w(a), _w(m), _b(path))


def statfs() -> dict: return _s.unix.call(Op.STATFS)._asdict()


# -- descriptors ---------------------------------------------------------------------

def dup(fd: int) -> int: return _s.unix.call(Op.DUP, _w(fd)).fd
def dup2(fd: int, fd2: int) -> int: return _s.unix.call(Op.DUP2, _w(fd), _w(fd2)).fd
def pipe() -> tuple[int, int]: return tuple(_s.unix.call(Op.PIPE))
def set_cloexec(fd: int, on: bool = True) -> None: _s.unix.call(Op.CLOEXEC, _w(fd), int(on))
def isatty(fd: int) -> bool: return bool(_s.unix.call(Op.ISATTY, _w(fd)).tty)
def tcsetpgrp(fd: int, pgrp: int) -> None: _s.unix.call(Op.TCSETPGRP, _w(fd), _w(pgrp))


# -- processes -----------------------------------------------------------------------

def flush() -> None:
    """Write out what the stdio buffers hold (before fork, exec and exit)."""
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            pass


def fork() -> int:
    """0 in the child, the child's pid in the parent."""
    flush()
    r = _s.unix.call(Op.FORK)
    try:
        host = os.fork()
    except OSError:
        _s.unix.call(Op.FORK_ABORT, r.pid)
        raise
    if host:
        return r.pid
    try:
        _s.rt.after_fork(r.tid, r.secret)
        _s.pid = r.pid
        if _s.sigthread:
            _s.sigthread = False
            _start_sigthread()
    except BaseException:                 # noqa: BLE001 - never return into the parent's code
        os._exit(127)
    return 0


def wait() -> tuple[int, int]: return waitpid(-1, 0)


def waitpid(pid: int, options: int = 0) -> tuple[int, int]:
    """(pid, wait status); (0, 0) with WNOHANG when no child has ended yet."""
    r = _s.unix.call(Op.WAIT, int(pid), _w(options))
    return r.pid, r.status


def exit(status: int = 0) -> None:
    """End the process with `status` (the server records it for wait)."""
    flush()
    try:
        _s.unix.call(Op.EXIT, status & 0xFF)
    finally:
        os._exit(status & 0xFF)


def getpid() -> int: return _s.pid
def getppid() -> int: return _s.unix.call(Op.GETPID).ppid    # changes when the parent dies
def getpgrp() -> int: return _s.unix.call(Op.GETPID).pgrp
def setpgid(pid: int, pgid: int) -> None: _s.unix.call(Op.SETPGID, int(pid), int(pgid))
def kill(pid: int, sig: int) -> None: _s.unix.call(Op.KILL, int(pid), _w(sig))


def sleep(seconds: float) -> None:
    """Sleep in the server (a handled signal runs its handler, then sleeping goes on)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        _s.unix.call(Op.SLEEP, max(1, int(left * 1000)))


def pause() -> None:
    """Wait for a signal; returns after its handler ran."""
    _s.unix.call(Op.PAUSE, restart=False)


def uname() -> os.uname_result:
    return os.uname_result(tuple(map(os.fsdecode, _s.unix.call(Op.UNAME))))


def ps() -> list[dict]:
    out, start = [], 0
    while True:
        r = _s.unix.call(Op.PS, start)
        for s in r.rows:
            pid, ppid, pgrp, state, name = s.decode().split(" ", 4)
            out.append({"pid": int(pid), "ppid": int(ppid), "pgrp": int(pgrp),
                        "state": state, "name": name})
        start = r.next
        if not start:
            return out


def mmap(length: int, fd: int = -1, offset: int = 0) -> int:
    """`length` bytes of memory in this process's space; their address. fd -1: fresh,
    zero-filled. Else the regular file open for reading on `fd`, from `offset` (a
    multiple of 4096), paged by the fs server: reads see the file and later writes to
    it, zeros past its end; the first write to a page makes it a private copy (the file
    does not change). EBADF, ENODEV (no regular file), EACCES, EINVAL."""
    if fd < 0:
        return _s.unix.call(Op.MMAP, _w(length), 0, 0, 0).address
    return _s.unix.call(Op.MMAP, _w(length), 1, _w(fd), offset).address


def mmap_file(fd: int, length: int, offset: int = 0) -> int: return mmap(length, fd, offset)
def munmap(addr: int, length: int) -> None: _s.unix.call(Op.MUNMAP, _w(addr), _w(length))
def peek(addr: int, n: int) -> bytes: return _held(_s.rt.mem.read, addr, n)
def poke(addr: int, data: bytes) -> None: _held(_s.rt.mem.write, addr, data)


# -- signals -------------------------------------------------------------------------

def signal(sig: int, handler):
    """Set the action for `sig`: SIG_DFL, SIG_IGN or a function handler(sig, frame).
    Returns the previous one."""
    sig = int(sig)
    if callable(handler):
        disp = _HANDLE
        _start_sigthread()
    elif handler == SIG_DFL:
        disp = _DFL
    elif handler == SIG_IGN:
        disp = _IGN
    else:
        raise TypeError("handler must be SIG_DFL, SIG_IGN or callable")
    old = _s.unix.call(Op.SIGACTION, _w(sig), disp).old
    prev = _s.handlers.pop(sig, None)
    if disp == _HANDLE:
        _s.handlers[sig] = handler
    return prev if old == _HANDLE else (SIG_IGN if old == _IGN else SIG_DFL)


def _run_handler(sig: int) -> None:
    h = _s.handlers.get(sig)
    if h is not None:
        h(sig, sys._getframe(1))


def _carrier(signum, frame) -> None:
    """The host's handler of the carrier signal, in the main thread."""
    while _s.queue and not _s.depth:
        _run_handler(_s.queue.popleft())


def _start_sigthread() -> None:
    if not _s.sigthread:
        _s.sigthread = True
        _s.rt.lthread_ex_regs(1, _sigthread)


def _sigthread(rt) -> None:
    """lthread 1: wait for signals from the server, raise each in the main thread. It
    calls without the main thread's hold-back, and ends when the server refuses it."""
    server = Service(rt, tid=rt.chief(), iface=UNIX)
    while True:
        try:
            sig = server.call(Op.SIGWAIT).sig
        except ServiceError:
            return
        _s.queue.append(sig)
        _thread.interrupt_main(CARRIER)
