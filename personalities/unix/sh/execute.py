"""The shell's executor: runs the parser's tree over libc (fork, execve, waitpid, pipe,
dup2), with the shell's state (variables, positional parameters, functions, options).

`Shell(sys, ...)` is one shell; `run(text)` parses and runs a script command by
command. Pipelines, subshells, command substitutions and `&` lists run in forked
children; a child that has only one external command left execs it without another
fork (`tail`). Builtins are in builtins.py.
"""
from __future__ import annotations

import errno
import signal

from . import expand
from .ast import (AndOr, Case, FuncDef, For, Group, If, List, Pipeline, Simple, Subshell,
                  While)
from .builtins import BUILTINS, SPECIAL
from .errors import Break, Exit, Incomplete, RedirError, Return, ShellError, SyntaxErr
from .parser import Parser
from .pattern import match
from .process import Redirector, exit_code, find_program

__all__ = ["Shell"]


class Shell:
    def __init__(self, sys, argv0: str = "sh", args=(), env=None, interactive=False):
        self.sys = sys
        self.vars = dict(env or {})
        self.exported = set(self.vars)
        self.readonly: set = set()
        self.argv0, self.positional = argv0, list(args)
        self.funcs: dict = {}
        self.options: set = set()
        self.status, self.line, self.last_bg = 0, 0, None
        self.jobs: set = set()
        self.traps: dict = {}
        self.interactive, self.in_child = interactive, False
        self.name = "sh"                      # in error messages: sh, or the script
        self.pid = sys.getpid()
        self.loops, self.funcdepth, self.no_errexit = 0, 0, 0
        self.locals: list = []
        self.sub_status = None
        self.redir = Redirector(self)

    # -- variables ------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        if name in self.vars:
            return self.vars[name]
        if name.isdigit():
            i = int(name)
            if i == 0:
                return self.argv0
            return self.positional[i - 1] if i <= len(self.positional) else None
        special = {"?": lambda: str(self.status), "$": lambda: str(self.pid),
                   "#": lambda: str(len(self.positional)),
                   "!": lambda: None if self.last_bg is None else str(self.last_bg),
                   "-": lambda: "".join(sorted(self.options)),
                   "@": lambda: " ".join(self.positional),
                   "*": lambda: " ".join(self.positional)}.get(name)
        return special() if special else None

    def assign(self, name: str, value: str) -> None:
        if name in self.readonly:
            raise ShellError(f"{name}: is read only", status=2)
        self.vars[name] = value
        if "a" in self.options:
            self.exported.add(name)

    def environment(self, extra=()) -> dict:
        env = {k: v for k, v in self.vars.items() if k in self.exported}
        env.update(extra)
        return env

    def home(self, user: str) -> str | None:
        if not user:
            return self.vars.get("HOME")
        try:
            text = self.sys.read_all("/etc/passwd").decode(errors="replace")
        except OSError:
            return None
        for row in text.splitlines():
            f = row.split(":")
            if len(f) >= 6 and f[0] == user:
                return f[5]
        return None

    def listdir(self, path: str) -> list:
        return self.sys.listdir(path)

    def expand_string(self, word) -> str:
        return expand.string(self, word)

    # -- output -----------------------------------------------------------------------------

    def write(self, fd: int, text: str) -> None:
        try:
            self.sys.write(fd, text.encode(errors="surrogateescape"))
        except OSError as e:
            if fd != 2:
                raise ShellError(f"write error: {e.strerror}", status=1) from None

    def error(self, text: str, line: int | None = None) -> None:
        self.write(2, f"{self.name}: {line or self.line}: {text}\n")

    # -- scripts ----------------------------------------------------------------------------

    def run(self, text: str, base_line: int = 1) -> int:
        """Parse and run `text`, one complete command at a time; the last status.
        A syntax error ends it with status 2; `exit` raises Exit to the caller."""
        parser = Parser(text, 0, base_line)
        while True:
            try:
                cmd = parser.next_command()
            except SyntaxErr as e:
                self.error(e.text, e.line)
                self.status = 2
                if self.interactive and not isinstance(e, Incomplete):
                    return self.status
                raise Exit(2) from None
            if cmd is None:
                return self.status
            self.run_command(cmd)

    def run_command(self, node) -> int:
        """Run one command; an error is reported, and ends a shell that is not
        interactive when it came from an expansion or a special builtin."""
        try:
            return self.execute(node)
        except ShellError as e:
            self.error(e.text, e.line or None)
            self.status = e.status
            if not self.interactive:
                raise Exit(e.status) from None
            return self.status

    # -- nodes ------------------------------------------------------------------------------

    def execute(self, node, tail: bool = False) -> int:
        kind = type(node)
        if kind is List:
            return self.exec_list(node, tail)
        if kind is AndOr:
            return self.exec_andor(node, tail)
        if kind is Pipeline:
            return self.exec_pipeline(node, tail)
        if kind is Simple:
            return self.exec_simple(node, tail)
        if kind is FuncDef:
            self.funcs[node.name] = node.body
            self.status = 0
            return 0
        return self.compound(node, tail)

    def exec_list(self, node: List, tail: bool = False) -> int:
        last = len(node.items) - 1
        for i, (andor, background) in enumerate(node.items):
            if background:
                self.background(andor)
            else:
                self.exec_andor(andor, tail and i == last)
        return self.status

    def exec_andor(self, node: AndOr, tail: bool = False) -> int:
        ran, checked = node.first, not node.rest
        self.no_errexit += bool(node.rest)
        try:
            self.exec_pipeline(node.first, tail and not node.rest)
            for i, (op, pipeline) in enumerate(node.rest):
                if (op == "&&") == (self.status == 0):
                    last = i == len(node.rest) - 1
                    if last:
                        self.no_errexit -= 1
                    ran, checked = pipeline, last
                    try:
                        self.exec_pipeline(pipeline, tail and last)
                    finally:
                        if last:
                            self.no_errexit += 1
        finally:
            self.no_errexit -= bool(node.rest)
        if checked and not ran.negate:
            self.check_errexit()
        return self.status

    def check_errexit(self) -> None:
        if self.status and "e" in self.options and not self.no_errexit:
            raise Exit(self.status)

    def exec_pipeline(self, node: Pipeline, tail: bool = False) -> int:
        if node.negate:
            self.no_errexit += 1
        try:
            if len(node.cmds) == 1:
                status = self.execute(node.cmds[0], tail and not node.negate)
            else:
                status = self.pipe(node.cmds)
        finally:
            if node.negate:
                self.no_errexit -= 1
        self.status = int(not status) if node.negate else status
        return self.status

    def pipe(self, cmds) -> int:
        sys, pids, prev = self.sys, [], None
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            if not last:
                r, w = sys.pipe()
            pid = sys.fork()
            if pid == 0:
                if prev is not None:
                    sys.dup2(prev, 0)
                    sys.close(prev)
                if not last:
                    sys.close(r)
                    sys.dup2(w, 1)
                    sys.close(w)
                self.child(lambda c=cmd: self.execute(c, tail=True))
            pids.append(pid)
            if prev is not None:
                sys.close(prev)
            if not last:
                sys.close(w)
                prev = r
        status = 0
        for pid in pids:
            status = self.wait_for(pid)
        return status

    def child(self, fn, sigint=signal.SIG_DFL) -> None:
        """In a forked child: run fn, then exit with the status; never returns. An
        interactive shell's children take SIGINT back (`sigint`: `&` jobs ignore it)."""
        self.in_child, self.jobs = True, set()
        status = 1
        try:
            if self.interactive or sigint == signal.SIG_IGN:
                self.sys.signal(signal.SIGINT, sigint)
                self.interactive = False
            status = fn()
        except Exit as e:
            status = e.status
        except ShellError as e:
            self.error(e.text, e.line or None)
            status = e.status
        except (Break, Return) as e:
            status = getattr(e, "status", 0)
        except Exception as e:                # noqa: BLE001 - a child never goes back
            self.error(f"internal error: {type(e).__name__}: {e}")
            status = 2
        finally:
            self.run_exit_trap()
            self.sys.exit(status if isinstance(status, int) else 1)

    def wait_for(self, pid: int) -> int:
        try:
            _, st = self.sys.waitpid(pid, 0)
        except OSError as e:
            return 127 if e.errno == errno.ECHILD else 1
        return exit_code(st)

    def background(self, andor: AndOr) -> None:
        pid = self.sys.fork()
        if pid == 0:
            self.child(lambda: self.exec_andor(andor, tail=True), signal.SIG_IGN)
        self.jobs.add(pid)
        self.last_bg, self.status = pid, 0
        if self.interactive:
            self.write(2, f"[{pid}]\n")

    def substitute(self, body: List) -> str:
        """$( ) and ` `: run body in a child, its output without trailing newlines."""
        sys = self.sys
        r, w = sys.pipe()
        pid = sys.fork()
        if pid == 0:
            sys.close(r)
            if w != 1:
                sys.dup2(w, 1)
                sys.close(w)
            self.child(lambda: self.execute(body, tail=True))
        sys.close(w)
        out = bytearray()
        while chunk := sys.read(r, 65536):
            out += chunk
        sys.close(r)
        self.sub_status = self.wait_for(pid)
        return out.decode(errors="surrogateescape").rstrip("\n")

    # -- simple commands --------------------------------------------------------------------

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
        if not redirs:
            return fn()
        saved: list = []
        try:
            self.redir.apply(redirs, saved)
            return fn()
        except RedirError as e:
            self.error(e.text)
            return 1
        finally:
            self.redir.restore(saved)

    def with_vars(self, assigns, fn):
        """Run fn with `assigns` set for its duration (a regular builtin's prefix)."""
        old = [(n, self.vars.get(n), n in self.exported) for n, _ in assigns]
        for n, v in assigns:
            self.assign(n, v)
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
        pid = self.sys.fork()
        if pid == 0:
            self.child(lambda: self.exec_program(words, assigns, redirs))
        return self.wait_for(pid)

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

    # -- compound commands ------------------------------------------------------------------

    def compound(self, node, tail: bool) -> int:
        self.line = node.line
        if type(node) is Subshell:
            return self.subshell(node, tail)
        return self.with_redirs(node.redirs, lambda: self.body_of(node, tail))

    def subshell(self, node: Subshell, tail: bool) -> int:
        if tail and self.in_child:
            self.redir.apply(node.redirs, None)
            return self.execute(node.body, tail=True)
        pid = self.sys.fork()
        if pid == 0:
            self.child(lambda: (self.redir.apply(node.redirs, None),
                                self.execute(node.body, tail=True))[1])
        self.status = self.wait_for(pid)
        return self.status

    def body_of(self, node, tail: bool) -> int:
        kind = type(node)
        if kind is Group:
            return self.execute(node.body, tail)
        if kind is If:
            for cond, body in node.arms:
                if self.condition(cond) == 0:
                    return self.execute(body, tail)
            if node.orelse is not None:
                return self.execute(node.orelse, tail)
            self.status = 0
            return 0
        if kind is Case:
            return self.exec_case(node, tail)
        return self.loop(node)

    def condition(self, node) -> int:
        self.no_errexit += 1
        try:
            return self.execute(node)
        finally:
            self.no_errexit -= 1

    def exec_case(self, node: Case, tail: bool) -> int:
        word = expand.string(self, node.word)
        for patterns, body in node.arms:
            if any(match(expand.pattern(self, p), word) for p in patterns):
                self.status = 0
                return self.execute(body, tail) if body is not None else 0
        self.status = 0
        return 0

    def loop(self, node) -> int:
        status = 0
        if type(node) is For:
            items = self.positional if node.words is None else expand.fields(self, node.words)
            todo = ((lambda v=v: self.assign(node.name, v)) for v in items)
        else:
            todo = iter(lambda: (self.condition(node.cond) == 0) != node.until, False)
        self.loops += 1
        try:
            for step in todo:
                if callable(step):
                    step()
                try:
                    status = self.execute(node.body)
                except Break as b:
                    if b.n > 1:
                        b.n -= 1
                        raise
                    status = self.status
                    if type(b) is Break:
                        break
        finally:
            self.loops -= 1
        self.status = status
        return status

    def run_exit_trap(self) -> None:
        action = self.traps.pop(0, None)
        if action:
            status = self.status
            try:
                self.run(action)
            except Exit:
                pass
            self.status = status


def _quote(word: str) -> str:
    """A word as set -x shows it: quoted if it needs quotes."""
    if word and all(c.isalnum() or c in "-_./=:,+@%" for c in word):
        return word
    return "'" + word.replace("'", "'\\''") + "'"
