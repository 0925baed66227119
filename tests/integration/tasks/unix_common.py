"""What the Unix task files share (unix_tasks.py, unix_signal_tasks.py,
unix_pipe_tasks.py, unix_file_tasks.py): `driver`, which makes each file's `drive`
task, which has the Unix server SPAWN one of the file's `p_*` functions as a process
(SPAWN_MODULE), waits for it and reports its wait status and captured output as
facts; and `ended` and `error`, with which the processes say how a child ended and
which errno a call raised.

The task files are loaded by path, so each puts this folder on sys.path before it
imports this module (as the fuzz's task files do with fuzz_common).
"""
import errno
import os
import signal
import time

from microkernel.user.testing import report
from protocols.unix import Unix


def driver(here: str):
    """The `drive` task of the task file `here`: drive(rt, func, *argv) runs function
    `func` of that file as a Unix process and reports its pid, wait status and output."""
    def drive(rt, func, *argv):
        c = Unix(rt)
        t0 = time.monotonic()
        pid = c.spawn(f"{here}:{func}", [func, *argv], module=True)
        status, out = c.wait(pid, timeout=40)
        report(pid=pid, status=status, out=out.decode(errors="replace"),
               seconds=round(time.monotonic() - t0, 3))
    return drive


def ended(status: int):
    """How a wait status says a process ended: its exit code, or its signal's name."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return signal.Signals(os.WTERMSIG(status)).name


def error(fn) -> str:
    """The errno name fn() raised ("no error" if none)."""
    try:
        fn()
        return "no error"
    except OSError as e:
        return errno.errorcode[e.errno]
