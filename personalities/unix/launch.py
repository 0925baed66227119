"""Starting programs, libc's part: posix_spawn, the exec family and `on`, each one
system call to the Unix server (POSIX_SPAWN, EXECVE, ON) made after stdio is flushed.

libc re-exports all of it (`libc.posix_spawn`, `libc.execvp`, ...), so a program keeps
one import and the shell's `sys` (libc) has them. This module sits below libc and never
imports it: libc binds it once (`bind`) to its process state, whose `unix` is the
system-call channel crt0 made, and to its flush, looked up at each call because
nodeio.install replaces `libc.flush`. `environ` is the environment crt0 was given (a
dict), libc.environ itself.
"""
from __future__ import annotations

import errno
import os
import struct

from protocols.client import ServiceError
from protocols.unix import Op, encode_actions

__all__ = ["posix_spawn", "SpawnError", "execve", "execv", "execvp", "on", "environ", "bind"]

environ: dict = {}                    # the environment crt0 was given (a dict)
_s = None                             # libc's process state (bind): `_s.unix` calls
_flush = None                         # libc.flush as it is at the time of the call (bind)
_b = os.fsencode                      # a path or an argument as bytes


def bind(state, flush) -> None:
    """libc: make the calls through `state.unix`, and call `flush()` before each."""
    global _s, _flush
    _s, _flush = state, flush


class SpawnError(OSError):
    """posix_spawn failed; `action` is the index of the file action that did, or None."""

    def __init__(self, err: int, action: int | None = None):
        super().__init__(err, os.strerror(err))
        self.action = action


def posix_spawn(path, argv, env, *, file_actions=(), setpgroup=None, setsigdef=()) -> int:
    """A child running the program at `path`, made in one system call (no fork), as
    the host's os.posix_spawn: `file_actions` are (os.POSIX_SPAWN_OPEN, fd, path, flags,
    mode), (os.POSIX_SPAWN_CLOSE, fd), (os.POSIX_SPAWN_DUP2, fd, new_fd), done in
    order; `setpgroup` 0 puts it in a new group (its pid), n in group n; the signals
    of `setsigdef` get their default action. Its pid; SpawnError (ENOENT, EACCES, ENOEXEC
    of the program; EBADF, EINVAL of an action, `.action` its index) makes none."""
    _flush()
    try:
        actions = encode_actions(file_actions)
    except (ValueError, TypeError, IndexError, OverflowError, struct.error):
        raise SpawnError(errno.EINVAL) from None
    env = [f"{k}={v}" for k, v in env.items()] if isinstance(env, dict) else list(env)
    sigdef = sum(1 << int(s) for s in set(setsigdef) if 0 < int(s) < 32)
    pgroup = -1 if setpgroup is None else int(setpgroup)
    try:
        return _s.unix.call_msg(Op.POSIX_SPAWN, len(argv), pgroup, sigdef, _b(path), actions,
                                (*map(_b, argv), *map(_b, env)))[0].pid
    except ServiceError as e:
        raise SpawnError(e.errno, e.detail[0] if e.detail else None) from None


def execve(path, argv, envp) -> None:
    """Run the program at `path`; returns only by raising OSError."""
    _flush()
    env = [f"{k}={v}" for k, v in envp.items()] if isinstance(envp, dict) else list(envp)
    _s.unix.call(Op.EXECVE, len(argv), _b(path), (*map(_b, argv), *map(_b, env)))


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


def on(node: str, argv, envp=None) -> int:
    """Run the program argv[0] (a path on `node`) on node `node` with this process's
    fds 0-2; its wait status (personalities/unix/remote.py)."""
    _flush()
    env = [f"{k}={v}" for k, v in (environ if envp is None else envp).items()]
    return _s.unix.call(Op.ON, len(argv), len(env), _b(node),
                        (*map(_b, argv), *map(_b, env))).status
