"""The shell's executor: runs the parser's tree over libc (fork, execve, waitpid, pipe,
dup2), with the shell's state (variables, positional parameters, functions, options).

`Shell(sys, ...)` is one shell; `run(text)` parses and runs a script command by
command. Pipelines, subshells, command substitutions and `&` lists run in forked
children; a child that has only one external command left execs it without another
fork (`tail`). Simple commands are in simple.py, compound ones in compound.py,
builtins in builtins.py and regular.py.
"""
from __future__ import annotations

import errno
import signal

from . import expand, jobs, spawn
from .ast import AndOr, FuncDef, List, Pipeline, Simple
from .compound import CompoundCommands
from .errors import Break, Exit, RedirError, Return, ShellError, SyntaxErr
from .parser import Parser
from .process import Redirector, exit_code
from .simple import SimpleCommands

__all__ = ["Shell"]


class Shell(SimpleCommands, CompoundCommands):
    def __init__(self, sys, argv0: str = "sh", args=(), env=None, interactive=False):
        self.sys = sys
        self.vars = dict(env or {})
        self.exported = set(self.vars)
        self.readonly: set = set()
        self.argv0, self.positional = argv0, list(args)
        self.funcs: dict = {}
        self.options: set = set()
        self.status, self.line, self.last_bg = 0, 0, None
        self.jobs: set = set()                # pids of `&` jobs not waited for
        self.jobtab: dict = {}                # job number -> jobs.Job (job control)
        self.pgrp, self.job_pgid, self.job_text = 0, None, ""
        self.traps: dict = {}
        self.interactive, self.in_child = interactive, False
        self.name = "sh"                      # in error messages: sh, or the script
        self.pid = sys.getpid()
        self.loops, self.funcdepth, self.no_errexit, self.sourcing = 0, 0, 0, 0
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
                raise RedirError(f"write error: {e.strerror}", status=1) from None

    def error(self, text: str, line: int | None = None) -> None:
        self.write(2, f"{self.name}: {line or self.line}: {text}\n")

    # -- scripts ----------------------------------------------------------------------------

    def run(self, text: str, base_line: int = 1) -> int:
        """Parse and run `text`, one complete command at a time; the last status.
        A syntax error ends it with status 2 (raising Exit unless interactive);
        `exit` raises Exit to the caller. With -v each command's text is written to
        fd 2 as it is read; with -n (not interactive) nothing runs."""
        parser = Parser(text, 0, base_line)
        while True:
            start = parser.lx.pos
            try:
                cmd = parser.next_command()
            except SyntaxErr as e:
                self.error(e.text, e.line)
                self.status = 2
                if self.interactive:
                    return self.status
                raise Exit(2) from None
            if cmd is None:
                return self.status
            if "v" in self.options:
                self.write(2, text[start:parser.lx.pos])
            if "n" not in self.options or self.interactive:
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
        except OSError as e:                  # a system call failed (fork: EAGAIN)
            self.error(e.strerror or str(e))
            self.status = 2
            return self.status
        except Return as r:
            if self.funcdepth or self.sourcing:
                raise
            self.status = r.status            # return outside a function: as exit
            if not self.interactive:
                raise Exit(r.status) from None
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
        """A pipeline: each stage spawned (sh/spawn.py) or forked; the last's status."""
        sys, pids, prev = self.sys, [], None
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            if not last:
                r, w = sys.pipe()
            pid = None
            if spawn.stage_spawnable(self, cmd):
                pid = spawn.stage(self, cmd, spawn.pipe_actions(prev, None if last else (r, w)))
            if pid is None:
                pid = jobs.fork(self)
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
        return jobs.wait(self, pids)

    def child(self, fn, sigint=signal.SIG_DFL) -> None:
        """In a forked child: run fn, then exit with the status; never returns. An
        interactive shell's children take SIGINT back (`sigint`: `&` jobs ignore it)."""
        self.in_child, self.jobs = True, set()
        status = 1
        try:
            self.reset_traps()
            if self.interactive:
                jobs.as_child(self)
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
        pid = jobs.fork(self)
        if pid == 0:
            self.child(lambda: self.exec_andor(andor, tail=True), signal.SIG_IGN)
        self.jobs.add(pid)
        self.last_bg, self.status = pid, 0
        if jobs.on(self):
            jobs.background(self, pid)

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

    def reset_traps(self) -> None:
        """A subshell keeps ignored signals ignored, and no other trap."""
        for sig, action in list(self.traps.items()):
            if action != "":
                del self.traps[sig]
                if sig:
                    self.sys.signal(sig, signal.SIG_DFL)

    def run_exit_trap(self) -> None:
        action = self.traps.pop(0, None)
        if action:
            status = self.status
            try:
                self.run(action)
            except Exit:
                pass
            self.status = status
