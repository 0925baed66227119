"""os calls on processes, the node's through libc: getpid, getppid, getpgrp, setpgid,
setpgrp, kill, killpg, tcsetpgrp, fork, wait, waitpid, the exec family, posix_spawn,
_exit, system, uname. `OS` is the table install() sets on os."""
from __future__ import annotations

import errno
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


def posix_spawn(path, argv, env, *, file_actions=None, setpgroup=None, setsigdef=(),
                **other) -> int:
    """os.posix_spawn on the node: libc's, one system call. What the node has no notion
    of (resetids, setsid, setsigmask, scheduler) is ENOSYS."""
    if any(v not in (None, False, ()) for v in other.values()):
        raise OSError(errno.ENOSYS, "not on the node: " + ", ".join(other))
    return libc.posix_spawn(path, list(argv), env, file_actions=file_actions or (),
                            setpgroup=setpgroup, setsigdef=setsigdef)


def system(command) -> int:
    """`sh -c command` on the node (spawned); its wait status, as os.system's."""
    pid = libc.posix_spawn("/bin/sh", ["sh", "-c", os.fsdecode(command)], libc.environ)
    return libc.waitpid(pid)[1]


OS = {
    "getpid": libc.getpid, "getppid": libc.getppid, "getpgrp": libc.getpgrp,
    "setpgid": libc.setpgid, "setpgrp": setpgrp, "kill": libc.kill,
    "killpg": killpg, "tcsetpgrp": libc.tcsetpgrp, "fork": libc.fork,
    "wait": libc.wait, "waitpid": libc.waitpid, "execv": execv,
    "execve": libc.execve, "execvp": execvp, "execvpe": execvpe,
    "_exit": libc.exit, "system": system, "uname": libc.uname, "posix_spawn": posix_spawn,
}
