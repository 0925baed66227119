"""A spawned process's standard streams as pipes whose far ends the spawning task holds
(SPAWN's stdio b"pipes"), and the hang-up of a terminal line.

`mk sh -c` runs this way: fd 0 of the shell reads a pipe the session task fills from the
host's stdin (SPAWN_WRITE), fds 1 and 2 write two pipes it drains separately
(SPAWN_READ) to the host's stdout and stderr, so bytes are exact, the two streams stay
apart and output comes as it is written. The far ends are the spawner's alone and are
closed when its SPAWN_WAIT is answered.

HANGUP is what a Unix does when a terminal's carrier drops: every process of the
session that the line was spawned for gets SIGHUP (and SIGCONT, so a stopped one sees
it), the line forgets its foreground group, typed-ahead input and history, its waiting
reads end (end of file), and it is free; HANGUP is answered only then.
"""
from __future__ import annotations

import errno
import signal
from dataclasses import dataclass

from .fd import PipeEnd
from .pipe import Pipe
from .signals import post

__all__ = ["SpawnIoCalls", "SpawnEnds", "pipes_stdio"]


@dataclass
class SpawnEnds:
    """The spawning task and its ends of a b"pipes" process's fds: {0: the write end
    of its stdin, 1, 2: the read ends of its stdout and stderr}; closed ones leave."""
    task: int
    ends: dict

    def close(self, fd: int | None = None) -> None:
        """Close end `fd`, or all of them."""
        for n in [fd] if fd is not None else list(self.ends):
            end = self.ends.pop(n, None)
            if end is not None:
                end.close()


def pipes_stdio(srv, task: int) -> tuple[list, SpawnEnds]:
    """Three pipes: the process's ends (fds 0, 1, 2) and the spawner's."""
    pipes = [Pipe(on_epipe=lambda who: post(srv, who, signal.SIGPIPE) if who is not None else None)
             for _ in range(3)]
    mine = [PipeEnd(pipes[0], False), PipeEnd(pipes[1], True), PipeEnd(pipes[2], True)]
    theirs = SpawnEnds(task, {0: PipeEnd(pipes[0], True), 1: PipeEnd(pipes[1], False),
                              2: PipeEnd(pipes[2], False)})
    return mine, theirs


class SpawnIoCalls:
    """The handlers of SPAWN_READ, SPAWN_WRITE and HANGUP (mixed into the server)."""

    def _end(self, pid: int, fd: int, sender) -> tuple[SpawnEnds, PipeEnd]:
        """(the record, its end `fd`): EBADF unless the sender spawned `pid` with pipes
        and that end is open."""
        ends = self.spawn_ends.get(pid)
        if ends is None or ends.task != sender.task or fd not in ends.ends:
            raise OSError(errno.EBADF, "no such pipe of a process I spawned")
        return ends, ends.ends[fd]

    def spawn_read(self, req, msg):
        """The next bytes the process wrote to fd 1 or 2; b"" at the end (blocks)."""
        _, end = self._end(req.pid, req.fd if req.fd in (1, 2) else -1, msg.sender)
        data = end.read(self, self.later(msg), max(1, min(req.count, 65536)))
        return None if data is None else (data,)

    def spawn_write(self, req, msg):
        """Feed the process's fd 0 (blocks while the pipe is full); b"" closes it."""
        ends, end = self._end(req.pid, 0, msg.sender)
        if not req.data:
            ends.close(0)
            return (0,)
        n = end.write(self, self.later(msg), req.data)
        return None if n is None else (n,)

    def hangup(self, req, msg):
        """The terminal on line `line` left: SIGHUP (and SIGCONT) to its session."""
        if self.procs.of_sender(msg.sender) is not None:
            raise OSError(errno.EPERM, "only a session's task hangs a line up")
        name = req.line.decode(errors="replace")
        session = self.line_sessions.pop(name, None)
        victims = [p for p in self.procs.by_pid.values()
                   if session is not None and p.session == session and p.state != "zombie"]
        for p in victims:
            post(self, p, signal.SIGHUP)
            post(self, p, signal.SIGCONT)
        no = self.tty_lines.get(name)
        if no is None:
            return (len(victims),)
        call = self.later(msg)                   # answered once the line is clean, so
        self.slow(lambda: (self.tty.setpgrp(no, 0), self.tty.flush(no)),   # the next
                  lambda result: call.reply(len(victims)))                # session's
        return None                                                        # is its own
