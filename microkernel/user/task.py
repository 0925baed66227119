"""A task's host process once forked: load its entry, build the runtime, run lthread 0.

The task factory (zygote.py) forks the process and hands it the spawn record it got
from the kernel over their socket pair (kernel endpoint, task number, one-time secret,
shared-memory name, entry, args). `run` builds the runtime and calls `entry(rt, *args)`
as lthread 0. When lthread 0 returns, the task ends; the factory reports the exit and
the kernel cleans up. `load_entry` is also how the Unix personality's crt0 finds a
program's entry.
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

__all__ = ["load_entry", "run"]

PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4


def load_entry(spec: str):
    """'package.module:func' or '/path/file.py:func' -> the function."""
    where, sep, func = spec.rpartition(":")
    if not sep or not where or not func:
        raise ValueError(f"entry {spec!r} is not MODULE:FUNC or FILE.py:FUNC")
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
    return getattr(module, func)


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


def run(record: dict) -> int:
    """Build the runtime and call the entry as lthread 0; the task's exit status."""
    try:
        entry = load_entry(record["entry"])
        rt = Runtime(record)
        entry(rt, *record["args"])
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0
