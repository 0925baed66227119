"""Running a program without forking the shell: posix_spawn, where nothing forces a
fork.

A shell that forks only to exec pays for a copy of itself that does nothing; like the
host's shells and Python's subprocess, this one starts an external command (a simple
command, or a stage of a pipeline) with one posix_spawn: its redirections and the
pipeline's pipes become the spawn's file actions, job control its process group
(`setpgroup`), a child's signal defaults `setsigdef`. It forks as before when the
command needs the shell in the child or when doing its words in the parent could
differ: a builtin or function, a here-document, `set -C` (noclobber) or `set -u`, a
word with `$( )`, `$(( ))` or `${x=...}` / `${x?...}`. The name is looked up as execvp
does, by spawning each $PATH candidate in turn (no stat first). A spawn that fails (a
redirection, the program, no candidate) falls back to the fork, which says why exactly
as before; `sys` without posix_spawn always forks.
"""
from __future__ import annotations

import errno
import os
import signal

from . import expand, jobs
from .ast import DQ, Arith, CmdSub, Param, Simple
from .builtins import BUILTINS
from .process import FLAGS, candidates, find_program

__all__ = ["spawnable", "stage_spawnable", "stage", "spawn", "pipe_actions", "redir_actions"]

CHILD_DEFAULTS = (signal.SIGINT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
NEXT = (errno.ENOENT, errno.ENOTDIR, errno.EACCES)   # not here: spawn the next candidate



def _pure(parts) -> bool:
    """Expanding these parts in the shell changes nothing in it and cannot fail."""
    for part in parts:
        kind = type(part)
        if kind in (CmdSub, Arith):
            return False
        if kind is DQ and not _pure(part.parts):
            return False
        if kind is Param and (part.op in ("=", "?") or
                              (part.arg is not None and not _pure(part.arg.parts))):
            return False
    return True


def spawnable(sh, redirs) -> bool:
    """A program may be spawned with these redirections (its words already done)."""
    return (hasattr(sh.sys, "posix_spawn") and not sh.options & {"C", "u"}
            and all(r.op in FLAGS or r.op in ("<&", ">&") for r in redirs)
            and all(_pure(r.target.parts) for r in redirs))


def stage_spawnable(sh, cmd) -> bool:
    """Pipeline stage `cmd` is a program that may be spawned, words and all."""
    if type(cmd) is not Simple or not cmd.words or not spawnable(sh, cmd.redirs):
        return False
    name = cmd.words[0].plain()
    return (name is not None and name not in BUILTINS and name not in sh.funcs
            and name[:1] != "%" and "=" not in name
            and all(_pure(w.parts) for w in cmd.words)
            and all(_pure(w.parts) for _, w in cmd.assigns))


def pipe_actions(prev: int | None, pipe: tuple | None) -> list:
    """A stage's fds 0 and 1 on its pipes, as the forked stage sets them."""
    acts = []
    if prev is not None:
        acts += [(os.POSIX_SPAWN_DUP2, prev, 0), (os.POSIX_SPAWN_CLOSE, prev)]
    if pipe is not None:
        r, w = pipe
        acts += [(os.POSIX_SPAWN_CLOSE, r), (os.POSIX_SPAWN_DUP2, w, 1),
                 (os.POSIX_SPAWN_CLOSE, w)]
    return acts


def stage(sh, cmd, actions: list) -> int | None:
    """Spawn pipeline stage `cmd` (stage_spawnable) after `actions`: its pid, or None."""
    sh.line = cmd.line
    words = expand.fields(sh, cmd.words)
    assigns = [(n, expand.string(sh, w)) for n, w in cmd.assigns]
    if not words or words[0] in BUILTINS or words[0] in sh.funcs:
        return None
    return spawn(sh, words, assigns, cmd.redirs, actions, trace=True)


def redir_actions(sh, redirs, acts: list) -> list | None:
    """`acts` followed by the file actions of `redirs`; None for one that only the
    forked child can say is wrong (`>&word` of no number)."""
    for r in redirs:
        target = sh.expand_string(r.target)
        if r.op in ("<&", ">&"):
            if target == "-":
                acts.append((os.POSIX_SPAWN_CLOSE, r.fd))
            elif not target.isdigit():
                return None
            elif int(target) != r.fd:
                acts.append((os.POSIX_SPAWN_DUP2, int(target), r.fd))
        else:
            acts.append((os.POSIX_SPAWN_OPEN, r.fd, target, FLAGS[r.op], 0o666))
    return acts


def spawn(sh, words, assigns, redirs, actions=(), trace=False) -> int | None:
    """Start program `words` with `redirs` after `actions` in one posix_spawn: its pid,
    or None when it must be forked instead (see the module docstring). With `trace`,
    set -x shows it first, as the forked stage would."""
    env = sh.environment(assigns)
    acts = redir_actions(sh, redirs, list(actions))
    if acts is None:
        return None
    path = env.get("PATH", sh.vars.get("PATH"))
    if trace and "x" in sh.options:           # said once: found before it is tried
        found = find_program(sh.sys, words[0], path)
        if found is None:
            return None
        sh.trace(assigns, words)
        cands = [found]
    else:
        cands = candidates(words[0], path)
    group = None
    if jobs.on(sh) and sh.pgrp:
        group = sh.job_pgid or 0
    for cand in cands:
        try:
            pid = sh.sys.posix_spawn(cand, words, env, file_actions=acts, setpgroup=group,
                                     setsigdef=CHILD_DEFAULTS if sh.interactive else ())
            break
        except OSError as e:
            if getattr(e, "action", None) is not None or e.errno not in NEXT:
                return None
    else:
        return None
    if group is not None:
        sh.job_pgid = group or pid
    return pid
