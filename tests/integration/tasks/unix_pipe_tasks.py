"""Code for tests/integration/test_unix_proc.py: pipes and file descriptors (end of
file, a writer blocked on a full pipe, EPIPE and SIGPIPE, dup and dup2, an fd shared
across fork).

The `p_*` functions below are the processes, started by `drive` (see unix_common);
each makes its pipe, forks its reader or writer and reports the bytes that came.
"""
import os
import signal
import sys

from microkernel.user.testing import report
from personalities.unix import libc

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from unix_common import driver, ended, error  # noqa: E402

drive = driver(__file__)


def p_pipe(argv, envp):
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        libc.close(r)
        for i in range(3):
            libc.write(w, b"line %d\n" % i)
        libc.exit(0)
    libc.close(w)
    data = b""
    while chunk := libc.read(r, 4096):                    # to end of file
        data += chunk
    libc.waitpid(pid)
    report(received=data)
    return 0


def p_big_pipe(argv, envp):
    """More than the pipe holds: the writer blocks until the reader takes."""
    r, w = libc.pipe()
    blob = bytes(range(256)) * 4096                       # 1 MiB: four pipes full
    pid = libc.fork()
    if pid == 0:
        libc.close(r)
        n = libc.write(w, blob)
        libc.exit(0 if n == len(blob) else 1)
    libc.close(w)
    got = bytearray()
    while chunk := libc.read(r, 65536):
        got += chunk
    _, status = libc.waitpid(pid)
    report(received=len(got), same=got == blob, writer=ended(status))
    return 0


def p_epipe(argv, envp):
    r, w = libc.pipe()
    libc.close(r)
    libc.signal(signal.SIGPIPE, signal.SIG_IGN)
    report(write_ignoring=error(lambda: libc.write(w, b"x")))
    libc.signal(signal.SIGPIPE, signal.SIG_DFL)
    pid = libc.fork()
    if pid == 0:
        libc.write(w, b"x")                               # SIGPIPE kills it
        libc.exit(0)
    _, status = libc.waitpid(pid)
    report(writer=ended(status))
    return 0


def p_dup(argv, envp):
    r, w = libc.pipe()
    saved = libc.dup(1)
    libc.dup2(w, 1)                                       # fd 1 is now the pipe
    libc.write(1, b"through fd 1\n")
    libc.dup2(saved, 1)
    libc.close(saved)
    libc.close(w)
    report(read_back=libc.read(r, 100))
    report(after_last_writer=libc.read(r, 100), close_again=error(lambda: libc.close(w)))
    return 0


def p_shared_fd(argv, envp):
    """Parent and child share one pipe end through fork; the reader sees both."""
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        libc.write(w, b"c")
        libc.exit(0)
    libc.waitpid(pid)
    libc.write(w, b"p")
    libc.close(w)
    report(read=sorted(libc.read(r, 10).decode()), then=libc.read(r, 10))
    return 0
