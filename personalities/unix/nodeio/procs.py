"""os calls on processes, the node's through libc: getpid, getppid, getpgrp, setpgid,
setpgrp, kill, killpg, tcsetpgrp, fork, wait, waitpid, the exec family, _exit, system,
uname. `OS` is the table install() sets on os."""
from __future__ import annotations

import os

from .. import libc

__all__ = ["OS"]


def killpg(pgrp, sig):
    libc.kill(-pgrp, sig)


def setpgrp():
    libc.setpgid(0, 0)


def execv(path, args):
    libc.execve(path, list(args), libc.environ)


def execvpe(file, args, env):
    libc.execvp(file, list(args), env)


def execvp(file, args):
    libc.execvp(file, list(args))


def system(command) -> int:
    """`sh -c command` on the node; its wait status, as os.system's."""
    pid = libc.fork()
    if pid == 0:
        try:
            libc.execve("/bin/sh", ["sh", "-c", os.fsdecode(command)], libc.environ)
        finally:
            libc.exit(127)
    return libc.waitpid(pid)[1]


OS = {
    "getpid": libc.getpid, "getppid": libc.getppid, "getpgrp": libc.getpgrp,
    "setpgid": libc.setpgid, "setpgrp": setpgrp, "kill": libc.kill,
    "killpg": killpg, "tcsetpgrp": libc.tcsetpgrp, "fork": libc.fork,
    "wait": libc.wait, "waitpid": libc.waitpid, "execv": execv,
    "execve": libc.execve, "execvp": execvp, "execvpe": execvpe,
    "_exit": libc.exit, "system": system, "uname": libc.uname,
}
