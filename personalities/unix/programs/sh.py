#!mk
"""sh: a small Unix shell.

    sh                  interactive on a terminal (prompt "$ "), else reads a script
    sh -c CMD [0 [1..]] runs CMD ($0, $1, ... set from the rest)
    sh FILE [1..]       runs the script FILE

Pipelines `a | b`, lists `;` `&&` `||`, background `&` (and `wait`), redirections
`<` `>` `>>` `2>` `2>>` `N>&M`, quoting ('...' literal, "..." with $ expansion,
backslash), variables ($NAME ${NAME} $? $$ $! $# $0..$9 $@), assignments (`X=1`,
`X=1 cmd` for one command), `*` `?` `[...]` globbing in the last path component, and
the builtins cd, pwd, exit, export, unset, wait, `:`. Commands are found in $PATH
(/bin). An exit status from a signal is 128 + the signal number, 127 is "not found".
"""
import errno
import fnmatch
import os
import signal
import sys

from personalities.unix import libc
from personalities.unix.shsyntax import ShellError, lex, parse

__all__ = ["main"]

BUILTINS = ("cd", "pwd", "exit", "export", "unset", "wait", ":")


# -- running --------------------------------------------------------------------------

class Shell:
    def __init__(self, envp, args, interactive):
        self.vars = dict(envp)
        self.exported = set(envp)
        self.args = args                          # $0, $1, ...
        self.status = 0
        self.last_bg = 0
        self.jobs = set()
        self.interactive = interactive
        self.in_background = False

    def run(self, text):
        try:
            items = parse(lex(text))
        except ShellError as e:
            err(f"sh: {e}")
            self.status = 2
            return self.status
        for andor, bg in items:
            if bg:
                self.background(andor)
            else:
                self.run_andor(andor)
        return self.status

    def background(self, andor):
        libc.flush()
        pid = libc.fork()
        if pid == 0:
            self.in_background, self.interactive = True, False
            code = 1
            try:
                libc.signal(signal.SIGINT, signal.SIG_IGN)
                if len(andor) == 1 and len(andor[0][1]) == 1:
                    self.child(andor[0][1][0])        # one command: no subshell
                code = self.run_andor(andor)
            finally:
                libc.exit(code)
        self.jobs.add(pid)
        self.last_bg = pid
        self.status = 0
        if self.interactive:
            err(f"[{pid}]")

    def run_andor(self, andor):
        for conn, pipeline in andor:
            if (conn == "&&" and self.status != 0) or (conn == "||" and self.status == 0):
                continue
            self.status = self.run_pipeline(pipeline)
        return self.status

    def run_pipeline(self, cmds):
        words = None
        if len(cmds) == 1:
            c = cmds[0]
            try:
                words = self.expand_all(c["words"])
            except ShellError as e:
                err(f"sh: {e}")
                return 2
            if not words:
                return self.assign_only(c)
            if words[0] in BUILTINS:
                return self.builtin_here(c, words)
        pids, prev = [], None
        for i, cmd in enumerate(cmds):
            last = i == len(cmds) - 1
            if not last:
                r, w = libc.pipe()
            libc.flush()
            pid = libc.fork()
            if pid == 0:
                if prev is not None:
                    libc.dup2(prev, 0)
                    libc.close(prev)
                if not last:
                    libc.close(r)
                    libc.dup2(w, 1)
                    libc.close(w)
                self.child(cmd, words)
            pids.append(pid)
            if prev is not None:
                libc.close(prev)
            if not last:
                libc.close(w)
                prev = r
        status = 0
        for pid in pids:
            status = self.wait_for(pid)
        return status

    def wait_for(self, pid):
        while True:
            try:
                _, st = libc.waitpid(pid)
            except OSError as e:
                return 0 if e.errno == errno.ECHILD else 1
            return os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)

    def child(self, cmd, words=None):
        """In a forked child: redirect, then exec (or run a builtin); never returns."""
        code = 1
        try:
            if self.interactive and not self.in_background:
                libc.signal(signal.SIGINT, signal.SIG_DFL)
            if words is None:
                words = self.expand_all(cmd["words"])
            self.redirect(cmd["redirs"])
            env = self.environment()
            env.update((n, self.expand_word(w, split=False)[0]) for n, w in cmd["assign"])
            if not words:
                code = 0
            elif words[0] in BUILTINS:
                code = self.builtin(words)
            else:
                try:
                    libc.execvp(words[0], words, env)
                except OSError as e:
                    missing = e.errno in (errno.ENOENT, errno.ENOTDIR)
                    err(f"sh: {words[0]}: {'not found' if missing else e.strerror}")
                    code = 127 if missing else 126
        except ShellError as e:
            err(f"sh: {e}")
        except OSError as e:
            err(f"sh: {e.filename or ''}{': ' if e.filename else ''}{e.strerror}")
        finally:
            libc.exit(code)

    def assign_only(self, c):
        try:
            self.redirect_saved(c["redirs"], lambda: None)
        except OSError as e:
            err(f"sh: {e.strerror}")
            return 1
        for name, w in c["assign"]:
            self.vars[name] = self.expand_word(w, split=False)[0]
        return 0

    def builtin_here(self, c, words):
        try:
            return self.redirect_saved(c["redirs"], lambda: self.builtin(words))
        except OSError as e:
            err(f"sh: {e.filename or words[0]}: {e.strerror}")
            return 1

    def redirect_saved(self, redirs, fn):
        """Run fn with redirections, then put the shell's own fds back."""
        saved = {fd: libc.dup(fd) for fd, _, _ in redirs if _is_open(fd)}
        closed = [fd for fd, _, _ in redirs if fd not in saved]
        try:
            self.redirect(redirs)
            return fn()
        finally:
            sys.stdout.flush()
            for fd, copy in saved.items():
                libc.dup2(copy, fd)
                libc.close(copy)
            for fd in closed:
                try:
                    libc.close(fd)
                except OSError:
                    pass

    def redirect(self, redirs):
        for fd, op, word in redirs:
            target = self.expand_word(word, split=False)[0]
            if op.endswith("&"):
                if not target.isdigit():
                    raise ShellError(f"{target}: bad file descriptor")
                libc.dup2(int(target), fd)
                continue
            flags = {"<": os.O_RDONLY, ">": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     ">>": os.O_WRONLY | os.O_CREAT | os.O_APPEND}[op]
            try:
                new = libc.open(target, flags, 0o666)
            except OSError as e:
                raise OSError(e.errno, e.strerror, target) from None
            if new != fd:
                libc.dup2(new, fd)
                libc.close(new)

    def environment(self):
        return {k: v for k, v in self.vars.items() if k in self.exported}

    # -- builtins ---------------------------------------------------------------------

    def builtin(self, words):
        name, args = words[0], words[1:]
        if name == "cd":
            path = args[0] if args else self.vars.get("HOME", "/")
            try:
                libc.chdir(path)
            except OSError as e:
                err(f"cd: {path}: {e.strerror}")
                return 1
            self.vars["PWD"] = libc.getcwd()
            return 0
        if name == "pwd":
            print(libc.getcwd())
            return 0
        if name == "exit":
            libc.exit(int(args[0]) if args and args[0].lstrip("-").isdigit() else self.status)
        if name == "export":
            for a in args:
                n, eq, v = a.partition("=")
                if eq:
                    self.vars[n] = v
                self.exported.add(n)
            if not args:
                for k, v in sorted(self.environment().items()):
                    print(f"export {k}={v}")
            return 0
        if name == "unset":
            for a in args:
                self.vars.pop(a, None)
                self.exported.discard(a)
            return 0
        if name == "wait":
            return self.wait_jobs([int(a) for a in args if a.isdigit()])
        return 0                                  # ":"

    def wait_jobs(self, pids):
        status = 0
        for pid in pids or sorted(self.jobs):
            status = self.wait_for(pid)
            self.jobs.discard(pid)
        return status

    def reap_jobs(self):
        """Interactive: say which background jobs have ended."""
        for pid in sorted(self.jobs):
            try:
                done, st = libc.waitpid(pid, 1)
            except OSError:
                done = pid
            if done:
                self.jobs.discard(pid)
                err(f"[{pid}] Done")

    # -- expansion --------------------------------------------------------------------

    def param(self, name):
        if name == "?":
            return str(self.status)
        if name == "$":
            return str(libc.getpid())
        if name == "!":
            return str(self.last_bg) if self.last_bg else ""
        if name == "#":
            return str(max(0, len(self.args) - 1))
        if name in ("@", "*"):
            return " ".join(self.args[1:])
        if name.isdigit():
            i = int(name)
            return self.args[i] if i < len(self.args) else ""
        return self.vars.get(name, "")

    def expand_word(self, segs, split=True):
        """A word's fields: parameters expanded, unquoted ones split at blanks, then
        globbed if it had an unquoted wildcard."""
        fields, started, wild = [""], False, False
        for kind, text, quoted in segs:
            value = self.param(text) if kind == "var" else text
            if kind == "var" and split and not quoted:
                parts = value.split()
                if not parts:
                    continue
                if value[0].isspace() and started:
                    fields.append("")
                fields[-1] += parts[0]
                fields += parts[1:]
                started = not value[-1].isspace()
                if not started:
                    fields.append("")
                continue
            if kind == "lit" and not quoted and any(ch in text for ch in "*?["):
                wild = True
            fields[-1] += value
            started = started or quoted or bool(value)
        if not started:
            fields.pop()
        if wild and len(fields) == 1:
            return glob(fields[0]) or fields
        return fields

    def expand_all(self, words):
        out = []
        for w in words:
            out += self.expand_word(w)
        return out


def glob(pattern):
    """Matches of `pattern` (wildcards in its last component only), sorted."""
    head, _, base = pattern.rpartition("/")
    if any(ch in head for ch in "*?["):
        return []
    where = head if head else ("/" if pattern.startswith("/") else ".")
    try:
        names = libc.listdir(where)
    except OSError:
        return []
    hits = sorted(n for n in names if fnmatch.fnmatchcase(n, base)
                  and (base.startswith(".") or not n.startswith(".")))
    return [f"{head}/{n}" if head or pattern.startswith("/") else n for n in hits]


def _is_open(fd):
    try:
        libc.fstat(fd)
        return True
    except OSError:
        return False


def err(text):
    libc.write(2, (text + "\n").encode())


def read_all(fd):
    out = bytearray()
    while chunk := libc.read(fd, 65536):
        out += chunk
    return out.decode(errors="replace")


def main(argv, envp):
    args = argv[1:]
    if args[:1] == ["-c"]:
        if len(args) < 2:
            err("sh: -c: option requires an argument")
            return 2
        return Shell(envp, args[2:] or ["sh"], False).run(args[1])
    if args:
        try:
            fd = libc.open(args[0])
        except OSError as e:
            err(f"sh: {args[0]}: {e.strerror}")
            return 127
        text = read_all(fd)
        libc.close(fd)
        return Shell(envp, args, False).run(text)
    if not libc.isatty(0):
        return Shell(envp, ["sh"], False).run(read_all(0))
    sh = Shell(envp, ["sh"], True)
    libc.signal(signal.SIGINT, signal.SIG_IGN)
    pending = ""
    while True:
        sh.reap_jobs()
        libc.write(2, b"> " if pending else b"$ ")
        line = libc.read(0, 4096).decode(errors="replace")
        if not line:
            libc.write(2, b"\n")
            return sh.status
        pending += line
        if pending.rstrip("\n").endswith("\\") or pending.count("'") % 2 \
                or pending.count('"') % 2:
            continue
        sh.run(pending)
        pending = ""
