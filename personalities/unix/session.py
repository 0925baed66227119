"""A shell session, as a task root can start for `mk sh` (through `mk run`'s path).

    personalities.unix.session:main  tty LINE [ARG...]    /bin/sh ARG... on tty line
                                                           LINE (fds 0, 1, 2)
    personalities.unix.session:main  capture - [ARG...]   /bin/sh ARG... with its output
                                                           collected and printed here
    personalities.unix.session:main  pipes DIR [ARG...]   /bin/sh ARG... with its fds
                                                           0, 1, 2 relayed to the host
                                                           FIFOs DIR/in, out, err
    personalities.unix.session:hangup LINE                 the terminal on LINE left

The task asks the Unix server to SPAWN the shell, waits for it, and ends with the
shell's exit status (128 + the signal when a signal ended it), so whoever waits for
the task (root's operator port) learns it. If the Unix server fails it (it died, say),
the task prints one line saying so and ends with status 1. `mk sh` is then: pick a free
line, start this task with `tty com2`, relay the host terminal to com2's
pseudo-terminal until the task ends, and `hangup com2` when the terminal leaves first.

`mk sh -c CMD` runs `pipes DIR -c CMD`: the CLI made four host FIFOs in DIR and opens
them in the order in, out, err, sig, as this task does (each open waits for the other
side). The task copies `in` to the shell's fd 0 and its fds 1 and 2 to `out` and `err`
as the bytes come, one lthread each; a byte N read from `sig` is kill(-pid, N) (the
CLI's ^C); the shell's process group is its pid.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
import threading

from protocols.unix import Unix

__all__ = ["main", "hangup", "exit_code"]

ENV = {"PATH": "/bin", "HOME": "/", "TERM": "vt100"}
IN_THREAD, ERR_THREAD, SIG_THREAD = 2, 3, 4
CHUNK = 65536


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the signal."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(rt, mode: str = "tty", line: str = "com2", *args) -> None:
    if mode == "pipes":
        raise SystemExit(_pipes(rt, line, list(args)))
    unix = Unix(rt)
    stdio = f"tty:{line}" if mode == "tty" else "capture"
    try:
        pid = unix.spawn("/bin/sh", ["sh", *args], stdio=stdio, envp=ENV)
        status, output = unix.wait(pid)
    except OSError as e:
        _fail(e)
    if output:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    raise SystemExit(exit_code(status))


def hangup(rt, line: str) -> None:
    """The terminal on `line` left: its session gets SIGHUP, the line is free."""
    try:
        Unix(rt).hangup(line)
    except OSError as e:
        _fail(e)


def _fail(e: OSError):
    print(f"sh: {e.strerror}", file=sys.stderr, flush=True)
    raise SystemExit(1) from None


def _pipes(rt, fifo_dir: str, args: list) -> int:
    """`sh ARGS` with its stdio relayed to the host FIFOs in `fifo_dir`; its status."""
    fds = [os.open(os.path.join(fifo_dir, name), flag) for name, flag in
           (("in", os.O_RDONLY), ("out", os.O_WRONLY), ("err", os.O_WRONLY),
            ("sig", os.O_RDONLY))]
    unix = Unix(rt)
    try:
        pid = unix.spawn("/bin/sh", ["sh", *args], stdio="pipes", envp=ENV)
    except OSError as e:
        _write_all(fds[2], f"sh: {e.strerror}\n".encode())
        return 127 if e.errno == errno.ENOENT else 1
    err_done = threading.Event()
    rt.lthread_ex_regs(IN_THREAD, _feed, args=(pid, fds[0]))
    rt.lthread_ex_regs(ERR_THREAD, _drain, args=(pid, 2, fds[2], err_done))
    rt.lthread_ex_regs(SIG_THREAD, _signals, args=(pid, fds[3]))
    _drain(rt, pid, 1, fds[1], None, unix)
    err_done.wait()
    os.close(fds[1])
    try:
        status, _ = unix.wait(pid)
    except OSError as e:                      # the Unix server failed: one line
        _write_all(fds[2], f"sh: {e.strerror}\n".encode())
        return 1
    finally:
        os.close(fds[2])
    return exit_code(status)


def _feed(rt, pid: int, fd: int) -> None:
    """The host's stdin -> the shell's fd 0, then end of file."""
    unix = Unix(rt)
    try:
        while data := os.read(fd, CHUNK):
            unix.write_input(pid, data)
        unix.write_input(pid, b"")
    except OSError:
        pass                                  # it stopped reading (EPIPE): so do I
    os.close(fd)


def _drain(rt, pid: int, which: int, fd: int, done, unix=None) -> None:
    """The shell's fd `which` -> the host FIFO `fd`, as it comes, to the end (or to
    a failure, which the SPAWN_WAIT after it will meet and say)."""
    unix = unix or Unix(rt)
    try:
        while data := unix.read_output(pid, which):
            try:
                _write_all(fd, data)
            except OSError:                   # the host side stopped reading: as a
                unix.kill(-pid, signal.SIGPIPE)   # writer to a closed pipe, SIGPIPE
                break
    except OSError:
        pass                                  # the group has ended, or the server
    if done is not None:
        done.set()


def _signals(rt, pid: int, fd: int) -> None:
    """Each byte N from the host: kill(-pid, N)."""
    unix = Unix(rt)
    while data := os.read(fd, 16):
        for sig in data:
            try:
                unix.kill(-pid, sig)
            except OSError:
                pass                          # the group has ended


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
