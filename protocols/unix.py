"""The Unix server's system-call protocol (personalities/unix/server.py, task 18, "unix").

A process is a task of the Unix server's clan, so its IPC reaches the server directly
(libc calls it with `Unix`); tasks that are no process (root, tests, `mk sh`, other
nodes' Unix servers) may only SPAWN, SPAWN_WAIT, KILL, PS and RELAY_READ/RELAY_WRITE.
A blocking call interrupted by a handled signal is answered EINTR with the signal as
detail: libc runs the handler and calls again (PEP 475).
No request is exactly two words (that would read as a page fault, for the server is its
processes' pager): shorter ones are padded to three.

    GETPID                          -> pid ppid pgrp
    FORK                            -> pid tid:64 | secret   (the child task, to become)
    FORK_ABORT  pid                 ->                        (the host fork failed)
    EXECVE      nargv | path *args  -> (no reply: the process is replaced); args are
                                       argv then envp ("K=V")
    EXIT        status              ->
    WAIT        pid:i options       -> pid status             (blocks; WNOHANG,
                                       WUNTRACED: a stopped child too, once)
    KILL        pid:i sig           ->
    SIGACTION   sig disposition     -> old                    (SIG_DFL, SIG_IGN, SIG_HANDLE)
    SIGWAIT                         -> sig    (the signal thread; blocks)
    PAUSE / SLEEP ms                -> EINTR / (blocks)
    OPEN        flags mode | path   -> fd
    CLOSE fd; DUP fd -> fd; DUP2 fd fd2 -> fd; CLOEXEC fd on
    READ        fd count            -> | data?   (blocks on a pipe or tty; none: EOF)
    WRITE       fd | data           -> count     (blocks on a full pipe)
    LSEEK       fd off:64 whence    -> off:64    (off as two's complement)
    STAT        follow | path; FSTAT fd  -> the fs protocol's STAT reply
    READDIR     start | path        -> next | *entries
    MKDIR mode | path; RMDIR, UNLINK, CHDIR | path; RENAME, LINK | old new
    GETCWD -> | path; PIPE -> rfd wfd; SETPGID pid:i pgid:i; TCSETPGRP fd pgrp; SYNC
    UNAME  -> | sysname nodename release version machine
    PS     start -> next | *rows    ("pid ppid pgrp state name")
    STATFS -> the fs protocol's STATFS reply;  ISATTY fd -> tty
    MMAP   length file fd off:64 -> address  (file 0: anonymous, zero-filled; 1: the
                                              file open on fd, from off, paged by fs)
    MUNMAP address length;  UTIME now atime mtime | path   (now = 1: both now)
    CHMOD  mode | path;  SYMLINK | target path;  READLINK | path -> | target
    UMASK  mask -> old    (the file creation mask; a new process has 022, fork and
                           exec keep it; OPEN and MKDIR clear its bits of the mode)
    POSIX_SPAWN nargv pgroup:i sigdef | path actions *args -> pid
                                    (a child of the caller running program PATH, made
                                     in one call: no fork; see below)
    SPAWN / SPAWN_MODULE  nargv nenv | entry stdio stdin *args -> pid
    SPAWN_WAIT  pid                 -> status | output        (blocks)
    SPAWN_READ  pid fd count        -> | data?   (b"pipes": the process's fd 1 or 2;
                                                  blocks; none: end of file)
    SPAWN_WRITE pid | data          -> count     (b"pipes": to its fd 0; blocks while
                                                  the pipe is full; empty: close it)
    HANGUP      | line              -> pids      (the terminal on tty line LINE left:
                                                  SIGHUP and SIGCONT to its session)
    ON          nargv nenv | node *args -> status     (blocks; runs argv on node NODE)
    RELAY_READ  fd count | secret   -> | data?   (NODE's server: a read of the `on`
    RELAY_WRITE fd | secret data    -> count      process's fd 0; a write of its 1, 2)
    TTY_SIGNAL  line pgrp sig       (from the tty server: ^C and friends; no reply)
    WORKER_DONE job                 (Who.SELF: a worker lthread finished a slow call)

SPAWN* start a process whose parent is init (pid 1, the server). `stdio` is b"capture"
(fds 1 and 2 collected for SPAWN_WAIT, fd 0 reads the stdin data), b"null",
b"tty:LINE", b"pipes" (fds 0, 1, 2 are three pipes whose other ends only the spawning
task reaches, by SPAWN_WRITE and SPAWN_READ, until its SPAWN_WAIT is answered), or
b"relay:NODE:SECRET" (fds 0-2 are those of an `on` process of node NODE, reached with
RELAY_READ and RELAY_WRITE: personalities/unix/remote.py). Wait statuses are encoded as
on Linux (os.WEXITSTATUS reads them).

POSIX_SPAWN is posix_spawn(3) as one system call, as QNX's spawn(): the child gets a
copy of the caller's fd table with the file `actions` done on it in order (then the
close-on-exec fds closed), its cwd, umask and session, the caller's signal dispositions
as exec leaves them (handled ones back to the default) with the signals of bitmask
`sigdef` (bit n: signal n) back to the default too, and process group `pgroup` (-1:
the caller's, 0: a new one, its own pid, n: group n of the caller's session). An error
is the call's errno (ENOENT, EACCES, ENOEXEC as execve's; EBADF, EINVAL of an action,
whose index is then the error's detail word), and no child is made. `actions` is
`encode_actions` of POSIX's (os.POSIX_SPAWN_OPEN, fd, path, flags, mode),
(os.POSIX_SPAWN_CLOSE, fd) and (os.POSIX_SPAWN_DUP2, fd, new_fd); a close of an fd not
open is no error (as glibc's).
"""
from __future__ import annotations

import enum
import os
import struct

from microkernel.abi import NEVER

from .client import Service
from .fs import STAT_FIELDS, STATFS_FIELDS
from .interface import Interface, Who, call

__all__ = ["Op", "UNIX", "Unix", "SIG_DFL", "SIG_IGN", "SIG_HANDLE", "WNOHANG", "WUNTRACED",
           "PATH_MAX", "wait_status_exit", "wait_status_signal", "encode_actions",
           "decode_actions", "MAX_ACTIONS"]

SIG_DFL, SIG_IGN, SIG_HANDLE = 0, 1, 2   # SIGACTION dispositions
WNOHANG, WUNTRACED = 1, 2               # WAIT options, as Linux numbers them
PATH_MAX = 4096


class Op(enum.IntEnum):
    GETPID = 0x5501
    FORK = 0x5502
    FORK_ABORT = 0x5503
    EXECVE = 0x5504
    EXIT = 0x5505
    WAIT = 0x5506
    KILL = 0x5507
    SIGACTION = 0x5508
    SIGWAIT = 0x5509
    PAUSE = 0x550A
    SLEEP = 0x550B
    OPEN = 0x550C
    CLOSE = 0x550D
    DUP = 0x550E
    DUP2 = 0x550F
    READ = 0x5510
    WRITE = 0x5511
    LSEEK = 0x5512
    STAT = 0x5513
    FSTAT = 0x5514
    READDIR = 0x5515
    MKDIR = 0x5516
    RMDIR = 0x5517
    UNLINK = 0x5518
    RENAME = 0x5519
    LINK = 0x551A
    CHDIR = 0x551B
    GETCWD = 0x551C
    PIPE = 0x551D
    SETPGID = 0x551E
    TCSETPGRP = 0x551F
    CLOEXEC = 0x5520
    SYNC = 0x5521
    UNAME = 0x5522
    PS = 0x5523
    STATFS = 0x5524
    ISATTY = 0x5525
    MMAP = 0x5526
    SPAWN = 0x5527
    SPAWN_MODULE = 0x5528
    SPAWN_WAIT = 0x5529
    MUNMAP = 0x552A
    UTIME = 0x552B
    CHMOD = 0x552C
    SYMLINK = 0x552D
    READLINK = 0x552E
    UMASK = 0x552F
    SPAWN_READ = 0x5530
    SPAWN_WRITE = 0x5531
    HANGUP = 0x5532
    ON = 0x5533
    RELAY_READ = 0x5534
    RELAY_WRITE = 0x5535
    POSIX_SPAWN = 0x5536
    TTY_SIGNAL = 0x5410
    WORKER_DONE = 0x55FF


_P = Who.CLAN                    # a process of this server
_SPAWN = ("nargv nenv | entry stdio stdin *args", "pid")

UNIX = Interface("unix", Op, pad_to=3, ops={
    Op.GETPID: call("", "pid ppid pgrp", _P),
    Op.FORK: call("", "pid tid:64 | secret", _P),
    Op.FORK_ABORT: call("pid", "", _P),
    Op.EXECVE: call("nargv | path *args", "", _P),
    Op.EXIT: call("status", "", _P),
    Op.WAIT: call("pid:i options", "pid status", _P),
    Op.KILL: call("pid:i sig", ""),
    Op.SIGACTION: call("sig disposition", "old", _P),
    Op.SIGWAIT: call("", "sig", _P),
    Op.PAUSE: call("", "", _P),
    Op.SLEEP: call("ms", "", _P),
    Op.OPEN: call("flags mode | path", "fd", _P),
    Op.CLOSE: call("fd", "", _P),
    Op.DUP: call("fd", "fd", _P),
    Op.DUP2: call("fd fd2", "fd", _P),
    Op.READ: call("fd count", "| data?", _P),
    Op.WRITE: call("fd | data", "count", _P),
    Op.LSEEK: call("fd off:64 whence", "off:64", _P),
    Op.STAT: call("follow | path", STAT_FIELDS, _P),
    Op.FSTAT: call("fd", STAT_FIELDS, _P),
    Op.READDIR: call("start | path", "next | *entries", _P),
    Op.MKDIR: call("mode | path", "", _P),
    Op.RMDIR: call("| path", "", _P),
    Op.UNLINK: call("| path", "", _P),
    Op.RENAME: call("| old new", "", _P),
    Op.LINK: call("| old new", "", _P),
    Op.CHDIR: call("| path", "", _P),
    Op.GETCWD: call("", "| path", _P),
    Op.PIPE: call("", "rfd wfd", _P),
    Op.SETPGID: call("pid:i pgid:i", "", _P),
    Op.TCSETPGRP: call("fd pgrp", "", _P),
    Op.CLOEXEC: call("fd on", "", _P),
    Op.SYNC: call("", "", _P),
    Op.UNAME: call("", "| sysname nodename release version machine", _P),
    Op.PS: call("start", "next | *rows"),
    Op.STATFS: call("", STATFS_FIELDS, _P),
    Op.ISATTY: call("fd", "tty", _P),
    Op.MMAP: call("length file fd off:64", "address", _P),
    Op.SPAWN: call(*_SPAWN),
    Op.SPAWN_MODULE: call(*_SPAWN),
    Op.SPAWN_WAIT: call("pid", "status | output"),
    Op.MUNMAP: call("address length", "", _P),
    Op.UTIME: call("now atime mtime | path", "", _P),
    Op.CHMOD: call("mode | path", "", _P),
    Op.SYMLINK: call("| target path", "", _P),
    Op.READLINK: call("| path", "| target", _P),
    Op.UMASK: call("mask", "old", _P),
    Op.SPAWN_READ: call("pid fd count", "| data?"),
    Op.SPAWN_WRITE: call("pid | data", "count"),
    Op.HANGUP: call("| line", "pids"),
    Op.ON: call("nargv nenv | node *args", "status", _P),
    Op.RELAY_READ: call("fd count | secret", "| data?"),
    Op.RELAY_WRITE: call("fd | secret data", "count"),
    Op.POSIX_SPAWN: call("nargv pgroup:i sigdef | path actions *args", "pid", _P),
    Op.TTY_SIGNAL: call("line pgrp sig"),
    Op.WORKER_DONE: call("job", "", Who.SELF),
})


MAX_ACTIONS = 64                        # file actions of one POSIX_SPAWN
_ACTION = struct.Struct("<Biiii")        # kind fd arg (new fd or flags) mode pathlen


def encode_actions(actions) -> bytes:
    """POSIX_SPAWN's `actions` string: per action its kind, fd, new fd or flags, mode,
    the path's length, then the path. ValueError for a tuple that is none of the three."""
    out = bytearray()
    for a in actions:
        kind, fd = int(a[0]), int(a[1])
        if kind == os.POSIX_SPAWN_OPEN and len(a) == 5:
            path = os.fsencode(a[2])
            out += _ACTION.pack(kind, fd, int(a[3]), int(a[4]), len(path)) + path
        elif kind == os.POSIX_SPAWN_DUP2 and len(a) == 3:
            out += _ACTION.pack(kind, fd, int(a[2]), 0, 0)
        elif kind == os.POSIX_SPAWN_CLOSE and len(a) == 2:
            out += _ACTION.pack(kind, fd, 0, 0, 0)
        else:
            raise ValueError(f"not a file action: {a!r}")
    return bytes(out)


def decode_actions(data: bytes) -> list[tuple]:
    """The actions of an `actions` string, as encode_actions takes them; ValueError
    when it is malformed or has more than MAX_ACTIONS."""
    out, i = [], 0
    while i < len(data):
        if len(out) == MAX_ACTIONS or i + _ACTION.size > len(data):
            raise ValueError("file actions malformed")
        kind, fd, arg, mode, n = _ACTION.unpack_from(data, i)
        i += _ACTION.size
        if n < 0 or i + n > len(data):
            raise ValueError("file actions malformed")
        path = bytes(data[i:i + n])
        i += n
        out.append((kind, fd, path, arg, mode) if kind == os.POSIX_SPAWN_OPEN
                   else (kind, fd, arg) if kind == os.POSIX_SPAWN_DUP2 else (kind, fd))
    return out


def wait_status_exit(code: int) -> int:
    """The wait status of a normal exit (as os.WEXITSTATUS reads it)."""
    return (code & 0xFF) << 8


def wait_status_signal(sig: int) -> int:
    """The wait status of a death by signal (as os.WTERMSIG reads it)."""
    return sig & 0x7F


class Unix(Service):
    """The Unix server seen from a task that is no process (root, tests, `mk sh`):
    start a program or a module function as a process, wait for it, signal, list.

        pid = Unix(rt).spawn("/bin/sh", ["sh", "-c", "ls /"], stdio="capture")
        status, output = Unix(rt).wait(pid, timeout=30)
    """

    iface = UNIX
    name = "unix"

    def spawn(self, entry: str, argv: list[str] | None = None, envp: dict | None = None,
              stdio: str = "capture", stdin: bytes = b"", module: bool = False) -> int:
        """Start a process (child of init): the program file `entry`, or with `module`
        the function "module:func" or "/file.py:func" (called as main(argv, envp))."""
        argv = list(argv) if argv else [entry]
        env = [f"{k}={v}" for k, v in (envp if envp is not None
                                        else {"PATH": "/bin", "HOME": "/"}).items()]
        op = Op.SPAWN_MODULE if module else Op.SPAWN
        return self.call(op, len(argv), len(env), entry.encode(), stdio.encode(),
                         bytes(stdin), (*map(os.fsencode, argv), *(e.encode() for e in env)),
                         timeout=30).pid

    def wait(self, pid: int, timeout=NEVER) -> tuple[int, bytes]:
        """(wait status, captured output) once the process has ended."""
        r = self.call(Op.SPAWN_WAIT, pid, timeout=timeout)
        return r.status, r.output

    def run(self, entry: str, argv: list[str] | None = None, timeout=NEVER,
            **kw) -> tuple[int, bytes]:
        """spawn, then wait."""
        return self.wait(self.spawn(entry, argv, **kw), timeout)

    def kill(self, pid: int, sig: int) -> None:
        self.call(Op.KILL, pid, sig)

    def read_output(self, pid: int, fd: int, count: int = 65536) -> bytes:
        """What a b"pipes" process wrote to `fd` (1 or 2) next; b"" at its end."""
        return self.call(Op.SPAWN_READ, pid, fd, count, timeout=NEVER).data

    def write_input(self, pid: int, data: bytes) -> int:
        """Feed a b"pipes" process's fd 0 (blocks while full); b"" closes it."""
        return self.call(Op.SPAWN_WRITE, pid, bytes(data), timeout=NEVER).count

    def hangup(self, line: str) -> int:
        """The terminal on tty line `line` left: how many processes got SIGHUP."""
        return self.call(Op.HANGUP, line.encode()).pids

    def ps(self) -> list[str]:
        """Every process, as "pid ppid pgrp state name" rows."""
        rows, start = [], 0
        while True:
            r = self.call(Op.PS, start)
            rows += [row.decode() for row in r.rows]
            start = r.next
            if not start:
                return rows
