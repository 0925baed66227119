"""posix_spawn as one system call (POSIX_SPAWN): a child of the caller running a
program file, made straight from a spare task process, with no fork.

fork + exec makes three host processes' worth of work for one program: the host's fork
of the parent, the forked child becoming a task (a ZeroMQ context and HELLO) only to be
replaced, and the new incarnation. Like QNX's spawn() and the posix_spawn a host's
shell uses, POSIX_SPAWN gives the caller's child the state an exec after a fork would
leave it: a copy of the fd table with the file actions done on it in order and the
close-on-exec fds closed, the cwd, umask and session, the dispositions without handlers
(and those of `sigdef` back to the default), the process group asked for. Nothing is
made until the program is read and every action has succeeded: an error is the call's
errno (an action's index as its detail), and the copy of the table is closed again.

`SpawnCalls` is mixed into the server (server.py).
"""
from __future__ import annotations

import errno
import os
import posixpath

from protocols.unix import SIG_HANDLE, decode_actions

from .exec import MAX_SESSION, args_of, load_program, std_fds
from .fd import MAX_FDS
from .proc import Proc

__all__ = ["SpawnCalls"]


class ActionError(OSError):
    """File action `index` failed: its errno, the index as the reply's detail."""

    def __init__(self, err: int, index: int):
        super().__init__(err, os.strerror(err))
        self.detail = (index,)


class SpawnCalls:
    """The handler of POSIX_SPAWN (see the module docstring)."""

    def posix_spawn(self, req, msg):
        proc = self.procs.caller(msg.sender)
        if self.procs.in_session(proc.session) >= MAX_SESSION:
            raise OSError(errno.EAGAIN, f"{MAX_SESSION} processes in this session")
        try:
            actions = decode_actions(req.actions)
        except ValueError:
            raise OSError(errno.EINVAL, "file actions malformed") from None
        pgrp = self._spawn_group(proc, req.pgroup)
        path = req.path.decode(errors="surrogateescape")
        argv, envp = args_of(req.args, req.nargv)
        try:
            text, argv = load_program(self, proc.cwd, path, argv)
        except OSError as e:                     # its errno only: a detail is an action's
            raise OSError(e.errno or errno.EIO, e.strerror) from None
        fds = proc.fds.fork()
        try:
            for i, action in enumerate(actions):
                self._file_action(proc, fds, i, action)
            fds.exec()
            no = self.alloc_task()
        except BaseException:
            fds.close_all()
            raise
        pid = self.procs.new_pid()
        child = Proc(pid, proc.pid, pgrp or pid, None, posixpath.basename(path),
                     session=proc.session)
        child.fds, child.cwd, child.umask = fds, proc.cwd, proc.umask
        child.disp = {s: d for s, d in proc.disp.items()
                      if d != SIG_HANDLE and not req.sigdef & (1 << s)}
        try:
            child.tid = self.start_program(no, pid, text, argv, envp, std_fds(fds))
        except BaseException:
            self.procs.free_tasks.append(no)
            fds.close_all()
            raise
        self.procs.add(child)
        return (pid,)

    def _spawn_group(self, proc, pgroup: int) -> int:
        """The child's process group: the caller's (-1), a new one (0, the child's
        pid, given later), or group `pgroup` of the caller's session (else EPERM)."""
        if pgroup == -1:
            return proc.pgrp
        if pgroup < -1:
            raise OSError(errno.EINVAL, "negative group")
        if pgroup and not any(p.pgrp == pgroup and p.session == proc.session
                              for p in self.procs.by_pid.values()):
            raise OSError(errno.EPERM, "no such group in this session")
        return pgroup

    def _file_action(self, proc, fds, index: int, action: tuple) -> None:
        """Do one file action on the child's table `fds`; ActionError when it fails."""
        kind, fd = action[0], action[1]
        if not 0 <= fd < MAX_FDS or (kind == os.POSIX_SPAWN_DUP2 and
                                     not 0 <= action[2] < MAX_FDS):
            raise ActionError(errno.EBADF, index)
        try:
            if kind == os.POSIX_SPAWN_CLOSE:
                if fd in fds.fds:
                    fds.close(fd)
            elif kind == os.POSIX_SPAWN_DUP2:
                fds.dup2(fd, action[2])
                if fd == action[2]:             # dup2 of an fd onto itself keeps it
                    fds.set_cloexec(fd, False)  # across the exec (POSIX 2024)
            elif kind == os.POSIX_SPAWN_OPEN:
                _, _, path, flags, mode = action
                desc = self.open_file(proc, flags, mode, path)
                if fd in fds.fds:
                    fds.close(fd)
                fds.install(desc, lowest=fd, cloexec=bool(flags & os.O_CLOEXEC))
            else:
                raise OSError(errno.EINVAL, "no such file action")
        except OSError as e:
            raise ActionError(e.errno or errno.EIO, index) from None
