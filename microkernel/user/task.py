"""A task's host process once forked: load its entry, build the runtime, run lthread 0.

The task factory (zygote.py) forks the process and hands it the spawn record it got
from the kernel over their socket pair (kernel endpoint, task number, one-time secret,
shared-memory name, entry, args). `run` builds the runtime and calls `entry(rt, *args)`
as lthread 0. When lthread 0 returns, the task ends; the factory reports the exit and
the kernel cleans up. `load_entry` is also how the Unix personality's crt0 finds a
program's entry.

A task that fails says so in one line on its stderr (its log, which `mk run` shows):
`task N (FILE.py:FUNC) failed: TYPE: message at FILE:LINE`, the line being the deepest
one of the entry's own file; a bad entry (no such function, a module that cannot be
loaded) is one line too. The full traceback goes beside the log, `task-N.traceback`
(`mk logs --task N --traceback`), as a core file is kept for the debugger.
"""
from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import signal
import sys
import traceback

from .runtime import Runtime

__all__ = ["EntryError", "load_entry", "run"]

PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


class EntryError(ValueError):
    """The entry is no MODULE:FUNC or FILE.py:FUNC, or its module has no such function."""


def load_entry(spec: str):
    """'package.module:func' or '/path/file.py:func' -> the function; EntryError if the
    spec is malformed or names no function, the module's own exception if it fails."""
    where, sep, func = spec.rpartition(":")
    if not sep or not where or not func:
        raise EntryError(f"entry {spec!r} is not MODULE:FUNC or FILE.py:FUNC")
    if where.endswith(".py"):
        name = "mk_task_" + os.path.basename(where)[:-3].replace("-", "_")
        loader = importlib.util.spec_from_file_location(name, where)
        if loader is None or loader.loader is None:
            raise ImportError(f"cannot load {where}")
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        loader.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    if not callable(entry := getattr(module, func, None)):
        raise EntryError(f"{where} has no function {func}")
    return entry


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (the kernel, for the
    factory; the factory, for a task), and to keep other processes of the same user out
    of its memory (not dumpable: no ptrace, no /proc/PID/mem, which would show its
    secret); exit now if the parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        libc.prctl(PR_SET_DUMPABLE, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:
        os._exit(1)


def run(record: dict, log: str = "") -> int:
    """Build the runtime and call the entry as lthread 0; the task's exit status. A
    failure is one line on stderr, its traceback kept beside the task's `log`."""
    try:
        entry = load_entry(record["entry"])
    except EntryError as e:
        return _say(f"{_name(record)}: {e}")
    except BaseException as e:
        return _failed(record, log, e, "failed to load")
    try:
        entry(Runtime(record), *record["args"])
    except BaseException as e:
        return _failed(record, log, e, "failed")
    return 0


def _failed(record: dict, log: str, e: BaseException, how: str) -> int:
    """The exit status for `e`: SystemExit's code, else 1, said in one line."""
    if isinstance(e, SystemExit):
        return e.code if isinstance(e.code, int) else 1
    return _say(f"{_name(record)} {how}: {_what(e, record['entry'])}{_keep(log, e)}")


def _say(line: str) -> int:
    """`line` on the task's stderr (its log), after what it printed; status 1."""
    for f in (sys.stdout, sys.__stderr__):
        try:
            f.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        print(line, file=sys.__stderr__, flush=True)
    except (AttributeError, OSError, ValueError):
        pass
    return 1


def _name(record: dict) -> str:
    """`task 64 (boom.py:main)`: the task as the user started it."""
    return f"task {record['task']} ({os.path.basename(record['entry'])})"


def _what(e: BaseException, spec: str) -> str:
    """`TYPE: message at FILE:LINE`: the line of a syntax error, else the deepest line
    of the entry's own file the traceback passes (none: no `at`)."""
    if isinstance(e, SyntaxError) and e.filename:
        return f"{type(e).__name__}: {e.msg} at {e.filename}:{e.lineno}"
    what = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    where = spec.rpartition(":")[0]
    own = where if where.endswith(".py") else \
        getattr(sys.modules.get(where), "__file__", None)
    lines = [f"{f.filename}:{f.lineno}" for f in traceback.extract_tb(e.__traceback__)
             if f.filename == own]
    return f"{what} at {lines[-1]}" if lines else what


def _keep(log: str, e: BaseException) -> str:
    """Write `e`'s traceback beside the task's log (task-N.log: task-N.traceback,
    private like the log); the words that say where (nothing if it could not be)."""
    if not log.endswith(".log"):
        return ""
    path = log[:-4] + ".traceback"
    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            traceback.print_exception(e, file=f)
    except OSError:
        return ""
    return f" (traceback: {path})"
