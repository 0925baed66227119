"""What the shell asks of the system, in one place: redirections (saved and put back
for builtins and compound commands), here-documents through pipes, running a program
found in $PATH, and wait statuses as exit codes.

Every call goes through `sys`, an object with libc's functions (the personality's
libc on a node; the host's `os`, adapted, in the unit tests).
"""
from __future__ import annotations

import errno
import os

from .errors import RedirError

__all__ = ["Redirector", "exit_code", "find_program", "candidates", "SAVE_FD"]

SAVE_FD = 10                      # the shell's own copies of fds live at 10 and up
PIPE_ROOM = 32 << 10              # a here-document this long is written by a child
FLAGS = {"<": os.O_RDONLY, ">": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
         ">|": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
         ">>": os.O_WRONLY | os.O_CREAT | os.O_APPEND, "<>": os.O_RDWR | os.O_CREAT}


def exit_code(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128 + the signal."""
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def candidates(name: str, path: str | None) -> list:
    """The files `name` may be, in $PATH order (itself if it has a slash)."""
    if "/" in name:
        return [name]
    return [f"{d.rstrip('/') or '.'}/{name}" if d else name
            for d in (path if path is not None else "/bin").split(":")]


def find_program(sys, name: str, path: str | None) -> str | None:
    """The file `name` runs: itself if it has a slash, else the first in $PATH."""
    if "/" in name:
        return name
    for cand in candidates(name, path):
        try:
            st = sys.stat(cand)
        except OSError:
            continue
        if not (st.st_mode & 0o170000 == 0o040000):
            return cand
    return None


class Redirector:
    """Applies redirections for a shell `sh` (its `sys`, its expander)."""

    def __init__(self, sh):
        self.sh = sh
        self.next_save = SAVE_FD

    def apply(self, redirs, saved: list | None) -> None:
        """Do `redirs`; with `saved`, first keep each fd they change, for `restore`."""
        for r in redirs:
            if saved is not None:
                saved.append((r.fd, self._keep(r.fd)))
            self.one(r)

    def restore(self, saved: list) -> None:
        sys = self.sh.sys
        for fd, copy in reversed(saved):
            if copy is None:
                try:
                    sys.close(fd)
                except OSError:
                    pass
            else:
                sys.dup2(copy, fd)
                sys.close(copy)
                self.next_save -= 1

    def _keep(self, fd: int) -> int | None:
        sys = self.sh.sys
        try:
            sys.fstat(fd)
        except OSError:
            return None
        copy = self.next_save
        sys.dup2(fd, copy)
        sys.set_cloexec(copy)
        self.next_save += 1
        return copy

    def one(self, r) -> None:
        sh, sys = self.sh, self.sh.sys
        if r.op in ("<<", "<<-"):
            text = r.target.parts[0].text if r.quoted else sh.expand_string(r.target)
            self._heredoc(text, r.fd)
            return
        target = sh.expand_string(r.target)
        if r.op in ("<&", ">&"):
            if target == "-":
                try:
                    sys.close(r.fd)
                except OSError:
                    pass
                return
            if not target.isdigit():
                raise RedirError(f"{target}: bad file descriptor")
            if int(target) != r.fd:
                try:
                    sys.dup2(int(target), r.fd)
                except OSError as e:
                    raise RedirError(f"{target}: {e.strerror}") from None
            return
        flags = FLAGS[r.op]
        if r.op == ">" and "C" in sh.options and _exists(sys, target):
            raise RedirError(f"cannot create {target}: File exists")
        try:
            new = sys.open(target, flags, 0o666)
        except OSError as e:
            verb = "open" if r.op == "<" else "create"
            raise RedirError(f"cannot {verb} {target}: {e.strerror}") from None
        if new != r.fd:
            sys.dup2(new, r.fd)
            sys.close(new)

    def _heredoc(self, text: str, fd: int) -> None:
        sys = self.sh.sys
        data = text.encode()
        r, w = sys.pipe()
        if len(data) <= PIPE_ROOM:
            if data:
                sys.write(w, data)
            sys.close(w)
        else:
            pid = sys.fork()
            if pid == 0:
                sys.close(r)
                sys.write(w, data)
                sys.exit(0)
            sys.close(w)
        if r != fd:
            sys.dup2(r, fd)
            sys.close(r)


def _exists(sys, path: str) -> bool:
    try:
        sys.stat(path)
        return True
    except OSError as e:
        return e.errno != errno.ENOENT
