"""libc: what a program calls. Each function is IPC to the Unix server (the process's
chief), raising OSError(errno) like the host's `os` module.

crt0 calls `_init` first. A blocking call answered (EINTR, sig) ran into a handled
signal: the handler runs here, in the main thread, and the call is made again
(Python's PEP 475 rule; a handler that raises ends the call with its exception). Other
signals come to the signal thread (lthread 1, started by the first `signal()` with a
handler), which queues them and raises the host's carrier signal in the main thread
(`_thread.interrupt_main`), whose Python handler runs the program's handlers.
Wait statuses are encoded as on Linux, so `os.WIFEXITED`, `os.WEXITSTATUS`,
`os.WIFSIGNALED` and `os.WTERMSIG` read them. The environment is a dict.
"""
from __future__ import annotations

import _thread
import errno
import os
import signal as _signal
import sys
import time
from collections import deque

from microkernel.abi import Msg, ThreadId

from . import proto as P
from .proto import SIG_DFL as _DFL, SIG_HANDLE as _HANDLE, SIG_IGN as _IGN, unsigned

__all__ = ["open", "read", "write", "close", "lseek", "stat", "lstat", "fstat", "readdir",
           "listdir", "mkdir", "rmdir", "unlink", "rename", "link", "chdir", "getcwd",
           "dup", "dup2", "pipe", "fork", "execve", "execv", "execvp", "wait", "waitpid",
           "exit", "getpid", "getppid", "getpgrp", "setpgid", "kill", "signal", "pause",
           "sleep", "sync", "uname", "isatty", "tcsetpgrp", "ps", "statfs", "mmap",
           "mmap_file", "munmap", "utime", "peek", "poke", "set_cloexec", "flush", "environ", "SIG_DFL", "SIG_IGN", "MAX_IO"]

MAX_IO = 64 << 10
CARRIER = _signal.SIGUSR2             # the host signal that carries ours to main
SIG_DFL, SIG_IGN = _signal.SIG_DFL, _signal.SIG_IGN


class _State:
    rt = None
    unix: ThreadId | None = None
    pid = 0
    handlers: dict = {}
    sigthread = False
    queue: deque = deque()
    depth = 0                         # > 0 while the main thread is in a kernel call


_s = _State()
environ: dict = {}                    # the environment crt0 was given (a dict)


def _init(rt, pid: int) -> None:
    """crt0: bind libc to this task and its server."""
    _s.rt = rt
    _s.unix = rt.chief()
    _s.pid = pid
    _s.handlers = {}
    _signal.signal(CARRIER, _carrier)


def _call(*words: int, strings: tuple = ()) -> Msg:
    """One system call; errno raises OSError, EINTR runs the handler and retries."""
    w = tuple(unsigned(x) for x in words)
    if len(w) == 2:
        w += (0,)                        # never two words: that is a page fault
    msg = Msg(words=w, strings=strings)
    while True:
        r = _ipc(_s.rt.call, _s.unix, msg)
        err = r.words[0] if r.words else errno.EIO
        if err == errno.EINTR and len(r.words) > 1:
            _run_handler(r.words[1])
            continue
        if err:
            raise OSError(err, os.strerror(err))
        return r


def _ipc(fn, *args):
    """Run one kernel call with handlers held back: a handler that raises must not cut
    a request from its reply on this thread's socket. Held ones run right after."""
    _s.depth += 1
    try:
        return fn(*args)
    finally:
        _s.depth -= 1
        if _s.queue and not _s.depth:
            _carrier(CARRIER, None)


def _b(s) -> bytes:
    return os.fsencode(s)


# -- files ---------------------------------------------------------------------------

def open(path, flags: int = os.O_RDONLY, mode: int = 0o666) -> int:
    return _call(P.OPEN, flags, mode, strings=(_b(path),)).words[1]


def read(fd: int, n: int) -> bytes:
    """At most n bytes (at most 64 KiB); b"" at end of file."""
    r = _call(P.READ, fd, max(0, min(n, MAX_IO)))
    return bytes(r.strings[0]) if r.strings else b""


def read_all(path: str) -> bytes:
    """The whole of file `path` ("-": standard input)."""
    fd = 0 if path == "-" else open(path)
    out = bytearray()
    try:
        while chunk := read(fd, 65536):
            out += chunk
    finally:
        if fd:
            close(fd)
    return bytes(out)


def write(fd: int, data) -> int:
    data = bytes(data)
    done = 0
    while done < len(data) or not data:
        n = _call(P.WRITE, fd, strings=(data[done:done + MAX_IO],)).words[1]
        done += n
        if not data or n == 0:
            break
    return done


def close(fd: int) -> None:
    _call(P.CLOSE, fd)


def lseek(fd: int, pos: int, how: int) -> int:
    w = _call(P.LSEEK, fd, pos & 0xFFFFFFFF, (pos >> 32) & 0xFFFFFFFF, how).words
    return w[1] | w[2] << 32


def _stat(w) -> os.stat_result:
    ino, mode, nlink, uid, gid, lo, hi, atime, mtime, ctime = w[1:11]
    return os.stat_result((mode, ino, 0, nlink, uid, gid, lo | hi << 32, atime, mtime, ctime))


def stat(path) -> os.stat_result:
    return _stat(_call(P.STAT, 1, strings=(_b(path),)).words)


def lstat(path) -> os.stat_result:
    return _stat(_call(P.STAT, 0, strings=(_b(path),)).words)


def fstat(fd: int) -> os.stat_result:
    return _stat(_call(P.FSTAT, fd).words)


def readdir(path=".") -> list[tuple[str, int, int]]:
    """Every entry of a directory as (name, inode, type), "." and ".." included."""
    out, start = [], 0
    while True:
        r = _call(P.READDIR, start, strings=(_b(path),))
        for s in r.strings:
            name, ino, typ = bytes(s).split(b"\0")
            out.append((os.fsdecode(name), int(ino), int(typ)))
        start = r.words[1]
        if not start:
            return out


def listdir(path=".") -> list[str]:
    """The names in a directory, as os.listdir (no "." or "..")."""
    return [n for n, _, _ in readdir(path) if n not in (".", "..")]


def mkdir(path, mode: int = 0o777) -> None:
    _call(P.MKDIR, mode, strings=(_b(path),))


def rmdir(path) -> None: _call(P.RMDIR, strings=(_b(path),))
def unlink(path) -> None: _call(P.UNLINK, strings=(_b(path),))
def rename(old, new) -> None: _call(P.RENAME, strings=(_b(old), _b(new)))
def link(old, new) -> None: _call(P.LINK, strings=(_b(old), _b(new)))
def chdir(path) -> None: _call(P.CHDIR, strings=(_b(path),))
def getcwd() -> str: return os.fsdecode(bytes(_call(P.GETCWD).strings[0]))
def sync() -> None: _call(P.SYNC)


def utime(path, times: tuple[int, int] | None = None) -> None:
    """Set (atime, mtime) of `path`, in seconds; None: both now (as os.utime)."""
    a, m = (0, 0) if times is None else times
    _call(P.UTIME, int(times is None), int(a), int(m), strings=(_b(path),))


def statfs() -> dict:
    w = _call(P.STATFS).words
    return dict(zip(("bsize", "blocks", "bfree", "files", "ffree"), w[1:6]))


# -- descriptors ---------------------------------------------------------------------

def dup(fd: int) -> int: return _call(P.DUP, fd).words[1]
def dup2(fd: int, fd2: int) -> int: return _call(P.DUP2, fd, fd2).words[1]


def pipe() -> tuple[int, int]:
    w = _call(P.PIPE).words
    return w[1], w[2]


def set_cloexec(fd: int, on: bool = True) -> None: _call(P.CLOEXEC, fd, int(on))
def isatty(fd: int) -> bool: return bool(_call(P.ISATTY, fd).words[1])
def tcsetpgrp(fd: int, pgrp: int) -> None: _call(P.TCSETPGRP, fd, pgrp)


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
    r = _call(P.FORK)
    pid, tid, secret = r.words[1], r.words[2] | r.words[3] << 32, bytes(r.strings[0])
    try:
        host = os.fork()
    except OSError:
        _call(P.FORK_ABORT, pid)
        raise
    if host:
        return pid
    try:
        _s.rt.after_fork(tid, secret)
        _s.pid = pid
        if _s.sigthread:
            _s.sigthread = False
            _start_sigthread()
    except BaseException:                 # noqa: BLE001 - never return into the parent's code
        os._exit(127)
    return 0


def execve(path, argv, envp) -> None:
    """Run the program at `path`; returns only by raising OSError."""
    flush()
    env = [f"{k}={v}" for k, v in envp.items()] if isinstance(envp, dict) else list(envp)
    _call(P.EXECVE, len(argv), strings=(_b(path), *map(_b, argv), *map(_b, env)))


def execv(path, argv) -> None: execve(path, argv, environ)


def execvp(name: str, argv, envp=None) -> None:
    """execve, looking `name` up in $PATH (default /bin) unless it has a slash."""
    envp = environ if envp is None else envp
    if "/" in name:
        return execve(name, argv, envp)
    err = OSError(errno.ENOENT, f"{name}: command not found")
    for d in (envp.get("PATH") or "/bin").split(":"):
        try:
            return execve(f"{d.rstrip('/')}/{name}", argv, envp)
        except OSError as e:
            if e.errno != errno.ENOENT:
                err = e
    raise err


def wait() -> tuple[int, int]:
    return waitpid(-1, 0)


def waitpid(pid: int, options: int = 0) -> tuple[int, int]:
    """(pid, wait status); (0, 0) with WNOHANG when no child has ended yet."""
    w = _call(P.WAIT, pid, options).words
    return w[1], w[2]


def exit(status: int = 0) -> None:
    """End the process with `status` (the server records it for wait)."""
    flush()
    try:
        _call(P.EXIT, status & 0xFF)
    finally:
        os._exit(status & 0xFF)


def getpid() -> int: return _s.pid
def getppid() -> int: return _call(P.GETPID).words[2]    # changes when the parent dies
def getpgrp() -> int: return _call(P.GETPID).words[3]
def setpgid(pid: int, pgid: int) -> None: _call(P.SETPGID, pid, pgid)
def kill(pid: int, sig: int) -> None: _call(P.KILL, pid, int(sig))


def sleep(seconds: float) -> None:
    """Sleep in the server (a handled signal runs its handler, then sleeping goes on)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        _call(P.SLEEP, max(1, int(left * 1000)))


def pause() -> None:
    """Wait for a signal; returns after its handler ran."""
    r = _ipc(_s.rt.call, _s.unix, Msg(words=(P.PAUSE, 0, 0)))
    err = r.words[0] if r.words else errno.EIO
    if err == errno.EINTR and len(r.words) > 1:
        _run_handler(r.words[1])
    elif err:
        raise OSError(err, os.strerror(err))


def uname() -> os.uname_result:
    return os.uname_result(tuple(os.fsdecode(bytes(s)) for s in _call(P.UNAME).strings))


def ps() -> list[dict]:
    out, start = [], 0
    while True:
        r = _call(P.PS, start)
        for s in r.strings:
            pid, ppid, pgrp, state, name = bytes(s).decode().split(" ", 4)
            out.append({"pid": int(pid), "ppid": int(ppid), "pgrp": int(pgrp),
                        "state": state, "name": name})
        start = r.words[1]
        if not start:
            return out


def mmap(length: int, fd: int = -1, offset: int = 0) -> int:
    """`length` bytes of memory in this process's space; their address. fd -1: fresh,
    zero-filled. Else the regular file open for reading on `fd`, from `offset` (a
    multiple of 4096), paged by the fs server: reads see the file and later writes to
    it, zeros past its end; the first write to a page makes it a private copy (the file
    does not change). EBADF, ENODEV (no regular file), EACCES, EINVAL."""
    if fd < 0:
        return _call(P.MMAP, length, 0).words[1]
    return _call(P.MMAP, length, 1, fd, offset & 0xFFFFFFFF, offset >> 32).words[1]


def mmap_file(fd: int, length: int, offset: int = 0) -> int: return mmap(length, fd, offset)
def munmap(addr: int, length: int) -> None: _call(P.MUNMAP, addr, length)
def peek(addr: int, n: int) -> bytes: return _ipc(_s.rt.mem.read, addr, n)
def poke(addr: int, data: bytes) -> None: _ipc(_s.rt.mem.write, addr, data)


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
    old = _call(P.SIGACTION, sig, disp).words[1]
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
    """lthread 1: wait for signals from the server, raise each in the main thread."""
    while True:
        r = rt.call(_s.unix, Msg(words=(P.SIGWAIT, 0, 0)))
        if r.words and r.words[0] == 0:
            _s.queue.append(r.words[1])
            _thread.interrupt_main(CARRIER)
