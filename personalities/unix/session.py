"""A shell session, as a task root can start for `mk sh` (through `mk run`'s path).

    personalities.unix.session:main  tty LINE [ARG...]   /bin/sh ARG... on tty line
                                                          LINE (fds 0, 1, 2)
    personalities.unix.session:main  capture - [ARG...]  /bin/sh ARG... with its output
                                                          collected and printed here

The task asks the Unix server to SPAWN the shell, waits for it, and ends with the
shell's exit status (128 + the signal when a signal ended it), so whoever waits for
the task (root's operator port) learns it. If the Unix server fails it (it died, say),
the task prints one line saying so and ends with status 1. `mk sh` is then: pick a free line, start
this task with `tty com2`, relay the host terminal to com2's pseudo-terminal until the
task ends; `mk sh -c CMD` the same with `tty com2 -c CMD`, or `capture - -c CMD`.
"""
from __future__ import annotations

import os
import sys

from protocols.unix import Unix

__all__ = ["main", "exit_code"]


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the signal."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(rt, mode: str = "tty", line: str = "com2", *args) -> None:
    unix = Unix(rt)
    stdio = f"tty:{line}" if mode == "tty" else "capture"
    try:
        pid = unix.spawn("/bin/sh", ["sh", *args], stdio=stdio,
                         envp={"PATH": "/bin", "HOME": "/", "TERM": "vt100"})
        status, output = unix.wait(pid)
    except OSError as e:
        print(f"sh: {e.strerror}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    if output:
        sys.stdout.buffer.write(output)
        sys.stdout.flush()
    raise SystemExit(exit_code(status))
