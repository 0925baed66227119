"""Simple commands (XCU 2.9.1): expand, then run a special builtin, a function, a
regular builtin, or a program: spawned (spawn.py), in a forked child, or, as the last
thing a child does, in place of it. A mixin of execute.Shell.
"""
from __future__ import annotations

import errno

from . import expand, jobs, spawn
from .ast import Simple
from .builtins import BUILTINS, SPECIAL
from .errors import Exit, RedirError, Return
from .process import find_program

__all__ = ["SimpleCommands"]


class SimpleCommands:
    def exec_simple(self, node: Simple, tail: bool = False) -> int:
        self.line = node.line
        self.sub_status = None
        words = expand.fields(self, node.words)
        assigns = [(n, expand.string(self, w)) for n, w in node.assigns]
        if "x" in self.options:
            self.trace(assigns, words)
        if not words:
            for name, value in assigns:
                self.assign(name, value)
            self.status = self.sub_status or 0
            if node.redirs:
                self.status = self.with_redirs(node.redirs, lambda: self.status)
            return self.status
        if words[0][:1] == "%" and jobs.on(self):     # %N is fg %N
            words = ["fg", *words]
        name = words[0]
        if name == "exec":
            return self.exec_builtin(words[1:], assigns, node.redirs)
        if name in SPECIAL:
            for n, v in assigns:
                self.assign(n, v)
            self.status = self.with_redirs(node.redirs, lambda: BUILTINS[name](self, words))
        elif name in self.funcs:
            self.status = self.with_redirs(node.redirs, lambda: self.call(name, words, assigns))
        elif name in BUILTINS:
            self.status = self.with_redirs(
                node.redirs, lambda: self.with_vars(assigns, lambda: BUILTINS[name](self, words)))
        else:
            self.status = self.external(words, assigns, node.redirs, tail)
        return self.status

    def exec_builtin(self, words, assigns, redirs) -> int:
        """exec: with a command, it replaces the shell; without, its redirections
        stay."""
        if words:
            self.exec_program(words, assigns, redirs)
        for n, v in assigns:
            self.assign(n, v)
        try:
            self.redir.apply(redirs, None)
        except RedirError as e:
            self.error(e.text)
            if not self.interactive:
                raise Exit(1) from None
            self.status = 1
            return 1
        self.status = 0
        return 0

    def trace(self, assigns, words) -> None:
        items = [f"{n}={v}" for n, v in assigns] + [_quote(w) for w in words]
        self.write(2, (self.vars.get("PS4", "+ ")) + " ".join(items) + "\n")

    def with_redirs(self, redirs, fn) -> int:
        """fn() with `redirs` done, and undone after; a failed redirection (or a
        failed write of a builtin) is said, and is fn's status."""
        saved: list = []
        try:
            if redirs:
                self.redir.apply(redirs, saved)
            return fn()
        except RedirError as e:
            self.error(e.text)
            return e.status
        finally:
            if saved:
                self.redir.restore(saved)

    def with_vars(self, assigns, fn):
        """Run fn with `assigns` set and exported for its duration (a regular builtin's
        or a function's prefix: XCU 2.9.1, as for a program)."""
        old = [(n, self.vars.get(n), n in self.exported) for n, _ in assigns]
        for n, v in assigns:
            self.assign(n, v)
            self.exported.add(n)
        try:
            return fn()
        finally:
            for n, v, exp in old:
                if v is None:
                    self.vars.pop(n, None)
                else:
                    self.vars[n] = v
                if not exp:
                    self.exported.discard(n)

    def call(self, name: str, words, assigns) -> int:
        saved, self.positional = self.positional, list(words[1:])
        self.funcdepth += 1
        self.locals.append({})
        try:
            return self.with_vars(assigns, lambda: self.execute(self.funcs[name]))
        except Return as r:
            return r.status
        finally:
            self.positional = saved
            self.funcdepth -= 1
            for n, (v, exp) in self.locals.pop().items():
                if v is None:
                    self.vars.pop(n, None)
                else:
                    self.vars[n] = v
                if not exp:
                    self.exported.discard(n)

    def external(self, words, assigns, redirs, tail: bool) -> int:
        if tail and self.in_child and 0 not in self.traps:
            self.exec_program(words, assigns, redirs)
        pid = spawn.spawn(self, words, assigns, redirs) if spawn.spawnable(self, redirs) else None
        if pid is not None:
            return jobs.wait(self, [pid])
        pid = jobs.fork(self)
        if pid == 0:
            self.child(lambda: self.exec_program(words, assigns, redirs))
        return jobs.wait(self, [pid])

    def exec_program(self, words, assigns, redirs) -> int:
        """Redirect and execve (in a child); 127 or 126 if it cannot."""
        self.redir.apply(redirs, None)
        env = self.environment(assigns)
        path = find_program(self.sys, words[0], env.get("PATH", self.vars.get("PATH")))
        try:
            if path is None:
                raise OSError(errno.ENOENT, "not found")
            self.sys.execve(path, words, env)
        except OSError as e:
            missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
            self.error(f"{words[0]}: {'not found' if missing else e.strerror}")
            raise Exit(127 if missing else 126) from None
        raise Exit(127)


def _quote(word: str) -> str:
    """A word as set -x shows it: quoted if it needs quotes."""
    if word and all(c.isalnum() or c in "-_./=:,+@%" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"
