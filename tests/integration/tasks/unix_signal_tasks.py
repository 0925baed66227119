"""Code for tests/integration/test_unix_proc.py: signals, as a process meets them
(default actions, handlers in the main thread, a blocked call interrupted and
restarted, pause, SIGCHLD and ignoring it).

Each `p_*` function is a Unix process that `drive` (unix_common.driver) starts; a
signal is sent by the process itself or by a child it forked.
"""
import os
import signal
import sys

from microkernel.user.testing import report, wait_until
from personalities.unix import libc

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from unix_common import driver, ended, error  # noqa: E402

drive = driver(__file__)


def in_blocking_call(tid) -> bool:
    """Thread `tid` (another process's main thread) waits for the Unix server's answer.
    A parent here makes no call after fork but the blocking one under test, so from
    its child this says that the parent is in it."""
    s = libc._s.rt.thread_schedule(tid)
    return s["state"] == "receiving" and s["partner"] == libc._s.unix.tid



def p_kill_default(argv, envp):
    sig = int(argv[1])
    pid = libc.fork()
    if pid == 0:
        while True:
            libc.sleep(1)                                 # until the signal ends it
    libc.kill(pid, sig)
    _, status = libc.waitpid(pid)
    report(child=ended(status))
    return 0


def p_handler(argv, envp):
    got = []
    libc.signal(signal.SIGTERM, lambda s, f: got.append(signal.Signals(s).name))
    libc.signal(signal.SIGINT, signal.SIG_IGN)
    libc.kill(libc.getpid(), signal.SIGINT)               # ignored
    libc.kill(libc.getpid(), signal.SIGTERM)              # handled
    wait_until(lambda: got, 5, "the handler (running: by the signal thread)")
    report(handled_while_running=got)
    r, w = libc.pipe()
    parent = libc._s.rt.myself()
    pid = libc.fork()
    if pid == 0:
        wait_until(lambda: in_blocking_call(parent), 5, "the parent to block in read")
        libc.kill(libc.getppid(), signal.SIGTERM)
        wait_until(lambda: in_blocking_call(parent), 5, "the parent's read to restart")
        libc.write(w, b"x")
        libc.exit(0)
    data = libc.read(r, 1)                                # blocked: EINTR, handler, restart
    report(handled=got, read=data)
    libc.waitpid(pid)
    return 0


def p_pause(argv, envp):
    got = []
    libc.signal(signal.SIGUSR1, lambda s, f: got.append(signal.Signals(s).name))
    parent = libc._s.rt.myself()
    pid = libc.fork()
    if pid == 0:
        wait_until(lambda: in_blocking_call(parent), 5, "the parent to pause")
        libc.kill(libc.getppid(), signal.SIGUSR1)
        libc.exit(0)
    libc.pause()
    report(pause_returned_after=got)
    libc.waitpid(pid)
    return 0


def p_sigchld(argv, envp):
    got = []
    libc.signal(signal.SIGCHLD, lambda s, f: got.append(signal.Signals(s).name))
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    libc.waitpid(pid)
    wait_until(lambda: got, 5, "SIGCHLD")
    report(sigchld=got)
    libc.signal(signal.SIGCHLD, signal.SIG_IGN)           # no zombies from now on
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    report(wait_ignored=error(lambda: libc.waitpid(pid)))
    return 0
