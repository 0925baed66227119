"""Making processes: fork, exec, and SPAWN (the first process of a session or test).

fork: the server takes a task number (root hands them out; numbers of dead
processes are reused), creates an empty task for the host process the caller is about
to fork (`task_new_forked`, pager = this server), makes the child's address space a
copy-on-write copy of the parent's, and duplicates the fd table; libc then forks on the
host and the child becomes that task (`rt.after_fork`).

exec: the program file is read through fs, checked for the `#!mk` first line (a
`#!INTERPRETER` line runs that program with the file as its argument), copied
into pages of this server and mapped read-only at TEXT_BASE of the task, which is
created again under the same number (a new version; the old process goes with the
old version) running crt0, which reads the text back through the MMU. The pid stays,
and so do the fds without close-on-exec; handled signals return to their default.

SPAWN comes from a task that is no process (root, tests, `mk sh`): a new process,
child of init, runs a program file (SPAWN) or a module function (SPAWN_MODULE), with
stdio captured, null, a tty line, or pipes to the spawner (spawnio.py); SPAWN_WAIT answers with its status and output.

`ExecCalls` is mixed into the server (server.py): each method is the handler of the
operation it is named after, `(req, msg)` -> the reply values, or None.
"""
from __future__ import annotations

import errno
import posixpath
import stat as S

from protocols.fs import ROOT_INO
from protocols.unix import SIG_HANDLE

from .fd import Capture, Null, Source, Tty
from .proc import INIT_PID, Proc
from .spawnio import pipes_stdio
from .program import CRT0, CRT0_MODULE, MAGIC, TEXT_MAX

__all__ = ["ExecCalls", "load_program", "args_of"]

KEEP_SPAWNED = 256
MAX_SESSION = 64                 # processes one session may have (RLIMIT_NPROC)


def std_fds(fds) -> list:
    """The descriptions of fds 0-2 of fd table `fds` (None where one is closed)."""
    return [fds.fds.get(n, (None,))[0] for n in range(3)]


def _read_program(srv, cwd: tuple[int, str], path: str) -> bytes:
    """The text of program file `path`, looked up and read in one fs call (LOAD)."""
    fs, start, rel = srv.net.route(cwd, path)
    if fs is None:
        raise OSError(errno.EACCES, "not an executable regular file")
    (ino, mode, size), text = fs.load(start, rel)
    if not S.S_ISREG(mode) or not mode & 0o111:
        raise OSError(errno.EACCES, "not an executable regular file")
    if size > TEXT_MAX:
        raise OSError(errno.E2BIG, "program too large")
    if len(text) < size:                       # past one message: READ the rest
        text += fs.read(ino, len(text), size - len(text))
    return text


def load_program(srv, cwd: tuple[int, str], path: str, argv: list) -> tuple[bytes, list]:
    """(text, argv) of what runs for `path`: a `#!mk` program is itself; a file whose
    first line is `#!INTERPRETER [ARG]` runs that program (a `#!mk` one) with argv
    [INTERPRETER, ARG, path, argv[1:]...], as the kernel of Unix does for scripts.
    ENOENT, EACCES (not a regular file with an x bit), E2BIG, or ENOEXEC (no such first line)."""
    text = _read_program(srv, cwd, path)
    first = text.split(b"\n", 1)[0].rstrip()
    if first == MAGIC:
        return text, list(argv)
    words = first[2:].decode(errors="replace").split(None, 1) if first[:2] == b"#!" else []
    if not words:
        raise OSError(errno.ENOEXEC, "not a program (no #! line)")
    interp = _read_program(srv, cwd, words[0])
    if interp.split(b"\n", 1)[0].rstrip() != MAGIC:
        raise OSError(errno.ENOEXEC, f"{words[0]}: interpreter is no #!mk program")
    return interp, [words[0], *words[1:], path, *argv[1:]]


def _ttys(descs) -> int:
    """Bit n set: fd n (of the first three) is a terminal; crt0 gets it at the start,
    so a program asks no ISATTY to set up its stdio."""
    return sum(1 << n for n, d in enumerate(descs[:3]) if d is not None and d.isatty)


def args_of(args: tuple, nargv: int) -> tuple[list, list]:
    """(argv, envp) of a request's strings: the first `nargv` are argv."""
    s = [a.decode(errors="surrogateescape") for a in args]
    if nargv > len(s):
        raise ValueError("argument count")
    return s[:nargv], s[nargv:]


class ExecCalls:
    """The handlers that make processes (see the module docstring)."""

    def fork(self, req, msg):
        """A copy-on-write child (see the module docstring); EAGAIN when the caller's
        session has MAX_SESSION processes (RLIMIT_NPROC: a fork bomb stops there)."""
        proc = self.procs.caller(msg.sender)
        if self.procs.in_session(proc.session) >= MAX_SESSION:
            raise OSError(errno.EAGAIN, f"{MAX_SESSION} processes in this session")
        no = self.alloc_task()
        try:
            tid, secret = self.rt.task_new_forked(no, self.me)
        except Exception:
            self.procs.free_tasks.append(no)
            raise
        self.made(tid)
        self.memory.copy(proc.task, no)
        child = Proc(self.procs.new_pid(), proc.pid, proc.pgrp, tid, proc.name,
                     session=proc.session)
        child.fds = proc.fds.fork()
        child.cwd = proc.cwd
        child.umask = proc.umask
        child.disp = dict(proc.disp)
        self.procs.add(child)
        return child.pid, int(tid), secret

    def fork_abort(self, req, msg):
        """The host fork failed: the child task will never get its process."""
        proc = self.procs.caller(msg.sender)
        child = self.procs.by_pid.get(req.pid)
        if child is None or child.ppid != proc.pid or child.state != "running":
            raise OSError(errno.ESRCH, "no such child")
        self.terminate(child, 9)
        if child.pid in self.procs.by_pid:
            self.procs.reap(child)
        return ()

    def execve(self, req, msg):
        """Replace the caller's program; no reply (the caller's process is gone)."""
        proc = self.procs.caller(msg.sender)
        path = req.path.decode()
        argv, envp = args_of(req.args, req.nargv)
        text, argv = load_program(self, proc.cwd, path, argv)
        proc.fds.exec()
        proc.disp = {s: d for s, d in proc.disp.items() if d != SIG_HANDLE}
        proc.pending.clear()
        if proc.sigwait is not None:
            proc.sigwait.drop()
            proc.sigwait = None
        proc.name = posixpath.basename(path)
        self.memory.forget(proc.task)
        try:
            proc.tid = self.start_program(proc.task, proc.pid, text, argv, envp,
                                          std_fds(proc.fds))
        except Exception:
            self.terminate(proc, 9)
            raise
        return None

    def start_program(self, no: int, pid: int, text: bytes, argv: list, envp: list,
                      std: list) -> object:
        """Task `no` made (again) running crt0 for program `text` as process `pid`,
        whose fds 0-2 are the descriptions `std`, the text loaded; its thread id."""
        tid = self.rt.task_new(no, CRT0, self.me, args=[pid, len(text), argv, envp,
                                                        _ttys(std), int(self.me)])
        self.made(tid)
        self.memory.load_text(no, text)
        return tid

    def spawn(self, req, msg):
        return (self._spawn(req, msg.sender.task, module=False),)

    def spawn_module(self, req, msg):
        return (self._spawn(req, msg.sender.task, module=True),)

    def _spawn(self, req, spawner: int, module: bool) -> int:
        """A new process, child of init, running program file or function `entry`."""
        entry = req.entry.decode()
        argv, envp = args_of(req.args, req.nargv)
        if len(envp) != req.nenv:
            raise ValueError("environment count")
        text = None
        if not module:
            text, argv = load_program(self, (ROOT_INO, "/"), entry, argv)
        fds, capture, ends = self._stdio(req.stdio, req.stdin, spawner)
        no = self.alloc_task()
        pid = self.procs.new_pid()
        try:
            if module:
                tid = self.rt.task_new(no, CRT0_MODULE, self.me, args=[
                    pid, entry, argv, envp, _ttys(fds), int(self.me)])
                self.made(tid)
            else:
                tid = self.start_program(no, pid, text, argv, envp, fds)
        except Exception:
            self.procs.free_tasks.append(no)
            raise
        name = posixpath.basename(argv[0] if argv else entry.split(":")[-1])
        proc = self.procs.add(Proc(pid, INIT_PID, pid, tid, name))
        for fd, desc in enumerate(fds):
            proc.fds.install(desc, lowest=fd)
        if capture is not None:
            capture.on_close = lambda: self.spawn_done(pid)
        if ends is not None:
            self.spawn_ends[pid] = ends
        if isinstance(fds[0], Tty):               # its group is the line's foreground
            line = fds[0].line
            self.line_sessions[fds[0].name] = pid
            self.tty_lines[fds[0].name] = line
            self.slow(lambda: self.tty.setpgrp(line, pid), lambda result: None)
        self.spawned[pid] = [None, capture, []]
        while len(self.spawned) > KEEP_SPAWNED:
            old = next(iter(self.spawned))
            del self.spawned[old]
            self.close_spawn_ends(old)
        return pid

    def _stdio(self, stdio: bytes, stdin: bytes, spawner: int):
        """The descriptions for fds 0, 1, 2 of a spawned process, its capture (or None)
        and the spawner's ends of its pipes (or None)."""
        if stdio == b"capture":
            cap = Capture()
            return [Source(stdin), cap, cap], cap, None
        if stdio == b"null":
            null = Null()
            return [null, null, null], None, None
        if stdio == b"pipes":
            mine, theirs = pipes_stdio(self, spawner)
            return mine, None, theirs
        if stdio.startswith(b"relay:"):
            return self.relay_fds(stdio[6:].decode(errors="replace")), None, None
        if stdio.startswith(b"tty:"):
            name = stdio[4:].decode()
            tty = Tty(self.tty.open(name), name)
            return [tty, tty, tty], None, None
        raise OSError(errno.EINVAL, f"stdio {stdio!r}")

    def spawn_wait(self, req, msg):
        """The status and captured output of a spawned process, once it has ended and
        its output is closed (or a second after it ended)."""
        sp = self.spawned.get(req.pid)
        if sp is None:
            raise OSError(errno.ECHILD, "not spawned")
        sp[2].append(self.later(msg))
        if len(sp) > 3:                       # already done
            self.spawn_done(req.pid)
        return None
