"""The Unix server's system-call protocol: opcodes and layouts, defined once.

A request is `words[0] = opcode` then integer arguments (signed values as 32-bit two's
complement), paths and data as byte strings; the reply is `words[0] = errno` (0 =
success) then results. A blocked call interrupted by a handled signal is answered
`(EINTR, signal)`: libc runs the handler and restarts the call, as Python's `os` does.

Page faults reach the same thread as `(address | bits, 0xFFFFFFFF)`, so no request is
ever exactly two words: libc pads those to three.

    GETPID                          -> pid, ppid, pgrp
    FORK                            -> child pid, child id lo, hi | secret
    FORK_ABORT  pid                 -> (the host fork failed: delete the child)
    EXECVE      nargv | path, argv.., envp..  -> (no reply on success)
    EXIT        status              -> (then the process ends itself)
    WAIT        pid, options        -> pid, wait status      (blocks)
    KILL        pid, sig            ->
    SIGACTION   sig, disposition    -> old disposition
    SIGWAIT                         -> sig          (the signal thread; blocks)
    PAUSE / SLEEP ms                -> EINTR / 0    (block)
    OPEN        flags, mode | path  -> fd
    CLOSE, DUP  fd / DUP2 old, new  -> fd
    READ        fd, count           -> | data     (blocks on a pipe or tty)
    WRITE       fd | data           -> count      (blocks on a full pipe)
    LSEEK       fd, off lo, hi, whence -> off lo, hi
    STAT        follow | path / FSTAT fd -> STAT_WORDS
    READDIR     start | path        -> next | name\\0ino\\0type ...
    MKDIR mode|path, RMDIR|path, UNLINK|path, RENAME|old,new, LINK|old,new, CHDIR|path
    GETCWD -> | path;  PIPE -> rfd, wfd;  SETPGID pid, pgid;  TCSETPGRP fd, pgrp
    CLOEXEC fd, on;  SYNC;  UNAME -> | sysname, nodename, release, version, machine
    PS -> | "pid ppid pgrp state name" ...;  STATFS -> bsize, blocks, bfree, files, ffree
    ISATTY fd -> 0/1;  MMAP length [, 0] -> address (anonymous, zero-filled)
    MMAP        length, 1, fd, off lo, hi -> address (the file, from the fs server)
    MUNMAP      address, length     ->
    UTIME       now, atime, mtime | path ->   (now = 1: both times become now)
    SPAWN / SPAWN_MODULE  nargv, nenv | entry, stdio, stdin data, argv.., envp.. -> pid
    SPAWN_WAIT  pid                 -> wait status | captured output  (blocks)

SPAWN* come from tasks that are not processes (root, tests, `mk sh`): they start a
process whose parent is init (pid 1, the server). `stdio` is b"capture" (fds 1 and 2
collected for SPAWN_WAIT, fd 0 reads the stdin data), b"null", or b"tty:LINE".
"""
from __future__ import annotations

__all__ = ["OPS", "NAMES", "TEXT_BASE", "TEXT_MAX", "MMAP_BASE", "PF_MARK", "UNIX_TASK",
           "UNIX_NAME", "SIG_DFL", "SIG_IGN", "SIG_HANDLE", "WNOHANG", "STAT_WORDS",
           "CRT0", "CRT0_MODULE", "MAGIC", "PATH_MAX", "signed", "unsigned", "WORKER_DONE",
           "wait_status_exit", "wait_status_signal"]

_OPS = """GETPID FORK FORK_ABORT EXECVE EXIT WAIT KILL SIGACTION SIGWAIT PAUSE SLEEP OPEN
CLOSE DUP DUP2 READ WRITE LSEEK STAT FSTAT READDIR MKDIR RMDIR UNLINK RENAME LINK CHDIR
GETCWD PIPE SETPGID TCSETPGRP CLOEXEC SYNC UNAME PS STATFS ISATTY MMAP SPAWN SPAWN_MODULE
SPAWN_WAIT MUNMAP UTIME""".split()
OPS: dict[str, int] = {name: 0x5501 + i for i, name in enumerate(_OPS)}
NAMES: dict[int, str] = {v: k for k, v in OPS.items()}
globals().update(OPS)
__all__ += _OPS

WORKER_DONE = 0x55FF            # a worker lthread of the server finished a slow call
PF_MARK = 0xFFFFFFFF            # words[1] of a page-fault message
UNIX_TASK = 18
UNIX_NAME = "unix"
TEXT_BASE = 0x0040_0000         # where a program's text is mapped
TEXT_MAX = 4 << 20
MMAP_BASE = 0x1000_0000         # anonymous memory handed out by MMAP
MAGIC = b"#!mk"                 # the first line of every program
PATH_MAX = 4096
CRT0 = "personalities.unix.crt0:start"
CRT0_MODULE = "personalities.unix.crt0:start_module"

SIG_DFL, SIG_IGN, SIG_HANDLE = 0, 1, 2   # SIGACTION dispositions
WNOHANG = 1
STAT_WORDS = "ino mode nlink uid gid size_lo size_hi atime mtime ctime blocks".split()


def signed(w: int) -> int:
    """A 32-bit word as a signed integer."""
    return w - (1 << 32) if w & 0x80000000 else w


def unsigned(v: int) -> int:
    """A signed integer as a 32-bit word."""
    return v & 0xFFFFFFFF


def wait_status_exit(code: int) -> int:
    """The wait status of a normal exit (as os.WEXITSTATUS reads it)."""
    return (code & 0xFF) << 8


def wait_status_signal(sig: int) -> int:
    """The wait status of a death by signal (as os.WTERMSIG reads it)."""
    return sig & 0x7F
