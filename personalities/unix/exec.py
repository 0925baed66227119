"""Making processes: fork, exec, and SPAWN (the first process of a session or test).

fork: the server takes a task number (root hands them out; numbers of dead
processes are reused), creates an empty task for the host process the caller is about
to fork (`task_new_forked`, pager = this server), makes the child's address space a
copy-on-write copy of the parent's, and duplicates the fd table; libc then forks on the
host and the child becomes that task (`rt.after_fork`).

exec: the program file is read through fs, checked for the `#!mk` first line, copied
into pages of this server and mapped read-only at TEXT_BASE of the task, which is
created again under the same number (a new version; the old process goes with the
old version) running crt0, which reads the text back through the MMU. The pid stays,
and so do the fds without close-on-exec; handled signals return to their default.

SPAWN comes from a task that is no process (root, tests, `mk sh`): a new process,
child of init, runs a program file (SPAWN) or a module function (SPAWN_MODULE), with
stdio captured, null, or a tty line; SPAWN_WAIT answers with its status and output.
"""
from __future__ import annotations

import errno
import posixpath
import stat as S

from microkernel.abi import Msg

from . import proto as P
from .fd import Capture, Null, Source, Tty
from .proc import INIT_PID, Proc, ok
from .proto import CRT0, CRT0_MODULE, MAGIC, SIG_HANDLE, TEXT_MAX

__all__ = ["HANDLERS", "FOREIGN", "load_program"]

HANDLERS: dict = {}
FOREIGN = {P.SPAWN, P.SPAWN_MODULE, P.SPAWN_WAIT}
KEEP_SPAWNED = 256


def _op(code):
    def reg(f):
        HANDLERS[code] = f
        return f
    return reg


def load_program(srv, cwd_ino: int, path: str) -> bytes:
    """The text of the program at `path`: ENOENT, EACCES (not a regular file), E2BIG,
    or ENOEXEC (no `#!mk` line)."""
    ino, mode, size = srv.fs.resolve(cwd_ino, path, True)
    if not S.S_ISREG(mode):
        raise OSError(errno.EACCES, "not a regular file")
    if size > TEXT_MAX:
        raise OSError(errno.E2BIG, "program too large")
    text = srv.fs.read(ino, 0, size)
    if text.split(b"\n", 1)[0].rstrip() != MAGIC:
        raise OSError(errno.ENOEXEC, "not a program (no #!mk line)")
    return text


def _args(msg: Msg, first: int, nargv: int, nenv: int) -> tuple[list, list]:
    s = [bytes(x).decode(errors="surrogateescape") for x in msg.strings]
    if len(s) != first + nargv + nenv:
        raise ValueError("argument count")
    return s[first:first + nargv], s[first + nargv:]


@_op(P.FORK)
def fork(srv, proc, msg, call):
    no = srv.alloc_task()
    try:
        tid, secret = srv.rt.task_new_forked(no, srv.me)
    except Exception:
        srv.procs.free_tasks.append(no)
        raise
    srv.made(tid)
    srv.memory.copy(proc.task, no)
    child = Proc(srv.procs.new_pid(), proc.pid, proc.pgrp, tid, proc.name)
    child.fds = proc.fds.fork()
    child.cwd = proc.cwd
    child.disp = dict(proc.disp)
    srv.procs.add(child)
    return ok(child.pid, tid & 0xFFFFFFFF, tid >> 32, strings=(secret,))


@_op(P.FORK_ABORT)
def fork_abort(srv, proc, msg, call):
    """The host fork failed: the child task will never get its process."""
    child = srv.procs.by_pid.get(msg.words[1])
    if child is None or child.ppid != proc.pid or child.state != "running":
        return Msg(words=(errno.ESRCH,))
    srv.terminate(child, 9)
    if child.pid in srv.procs.by_pid:
        srv.procs.reap(child)
    return ok()


@_op(P.EXECVE)
def execve(srv, proc, msg, call):
    path = bytes(msg.strings[0]).decode()
    argv, envp = _args(msg, 1, msg.words[1], len(msg.strings) - 1 - msg.words[1])
    text = load_program(srv, proc.cwd[0], path)
    proc.fds.exec()
    proc.disp = {s: d for s, d in proc.disp.items() if d != SIG_HANDLE}
    proc.pending.clear()
    if proc.sigwait is not None:
        proc.sigwait.drop()
        proc.sigwait = None
    proc.name = posixpath.basename(path)
    srv.memory.forget(proc.task)
    try:
        tid = srv.rt.task_new(proc.task, CRT0, srv.me,
                              args=[proc.pid, len(text), argv, envp])
    except Exception:
        srv.terminate(proc, 9)
        raise
    srv.made(tid)
    proc.tid = tid
    srv.memory.load_text(proc.task, text)
    return None                                   # the caller's process is gone


@_op(P.SPAWN)
def spawn(srv, proc, msg, call):
    return _spawn(srv, msg, module=False)


@_op(P.SPAWN_MODULE)
def spawn_module(srv, proc, msg, call):
    return _spawn(srv, msg, module=True)


def _spawn(srv, msg: Msg, module: bool) -> Msg:
    entry = bytes(msg.strings[0]).decode()
    stdio = bytes(msg.strings[1])
    stdin = bytes(msg.strings[2])
    argv, envp = _args(msg, 3, msg.words[1], msg.words[2])
    text = None if module else load_program(srv, 2, entry)
    fds, capture = _stdio(srv, stdio, stdin)
    no = srv.alloc_task()
    pid = srv.procs.new_pid()
    try:
        if module:
            tid = srv.rt.task_new(no, CRT0_MODULE, srv.me, args=[pid, entry, argv, envp])
        else:
            tid = srv.rt.task_new(no, CRT0, srv.me, args=[pid, len(text), argv, envp])
    except Exception:
        srv.procs.free_tasks.append(no)
        raise
    srv.made(tid)
    if text is not None:
        srv.memory.load_text(no, text)
    name = posixpath.basename(argv[0] if argv else entry.split(":")[-1])
    proc = srv.procs.add(Proc(pid, INIT_PID, pid, tid, name))
    for fd, desc in enumerate(fds):
        proc.fds.install(desc, lowest=fd)
    if capture is not None:
        capture.on_close = lambda: srv.spawn_done(pid)
    if isinstance(fds[0], Tty):                   # its group is the line's foreground
        line = fds[0].line
        srv.slow(lambda: srv.tty.setpgrp(line, pid), lambda result: None)
    srv.spawned[pid] = [None, capture, []]
    while len(srv.spawned) > KEEP_SPAWNED:
        del srv.spawned[next(iter(srv.spawned))]
    return ok(pid)


def _stdio(srv, stdio: bytes, stdin: bytes) -> tuple[list, Capture | None]:
    """The descriptions for fds 0, 1, 2 of a spawned process."""
    if stdio == b"capture":
        cap = Capture()
        return [Source(stdin), cap, cap], cap
    if stdio == b"null":
        null = Null()
        return [null, null, null], None
    if stdio.startswith(b"tty:"):
        name = stdio[4:].decode()
        tty = Tty(srv.tty.open(name), name)
        return [tty, tty, tty], None
    raise OSError(errno.EINVAL, f"stdio {stdio!r}")


@_op(P.SPAWN_WAIT)
def spawn_wait(srv, proc, msg, call):
    """The status and captured output of a spawned process, once it has ended and its
    output is closed (or a second after it ended)."""
    sp = srv.spawned.get(msg.words[1])
    if sp is None:
        return Msg(words=(errno.ECHILD,))
    sp[2].append(call)
    if len(sp) > 3:                       # already done
        srv.spawn_done(msg.words[1])
    return None
