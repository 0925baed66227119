"""Program start-up: the entry of every process the Unix server creates.

`start` is a program's: exec mapped its text at TEXT_BASE, so crt0 reads it through
the MMU (`rt.mem.read`, faulting the pages in from the Unix server, its pager),
compiles it, and calls its `main(argv, envp)`. `start_module` runs a Python function
instead (SPAWN_MODULE: the first process of a test, or init). Before that: libc is
bound to the server, sys.stdin/stdout/stderr become fds 0, 1, 2 (through libc), the
host's SIGCHLD is ignored so host children of fork are reaped; once the program's
own imports are done, its Python file world becomes the node's (`nodeio.install`:
open, input, os.* and os.environ through libc). What main returns is the exit status
(None is 0); an OSError it did not catch (a full disk, a closed pipe) is said as a
program says it, `prog: [file: ]reason`, and is 1; another exception prints its
traceback on fd 2 and is 1.
"""
from __future__ import annotations

import linecache
import signal
import sys
import traceback

from microkernel.user.task import load_entry

from . import libc, nodeio
from .nodeio import NodeFile as FdIO, stdio
from .program import TEXT_BASE

__all__ = ["start", "start_module", "preloaded", "rehearse", "FdIO", "stdio"]


def start(rt, pid: int, text_len: int, argv: list, envp: list, ttys: int | None = None,
          server: int | None = None) -> None:
    """A program exec'd from a file: its text is at TEXT_BASE. `ttys` (bit n: fd n is
    a terminal) and `server` (the Unix server's id) spare the start two system calls."""
    def program():
        text = rt.mem.read(TEXT_BASE, text_len)
        space = {"__name__": "__mkprog__", "__file__": argv[0] if argv else "?"}
        code = compile(text, space["__file__"], "exec")
        linecache.cache[space["__file__"]] = (     # its traceback shows its lines
            len(text), None, text.decode(errors="replace").splitlines(True),
            space["__file__"])
        exec(code, space)
        return space["main"]
    _run(rt, pid, argv, envp, program, ttys, server)


def start_module(rt, pid: int, entry: str, argv: list, envp: list, ttys: int | None = None,
                 server: int | None = None) -> None:
    """A Python function `entry` ("module:func" or "/file.py:func") as the program."""
    _run(rt, pid, argv, envp, lambda: load_entry(entry), ttys, server)


def preloaded() -> None:
    """The task factory imported crt0 (MK_PRELOAD) and the rest: what every program's
    start would do alike is done once, there (nodeio.keep_host_os)."""
    nodeio.keep_host_os()


def rehearse() -> None:
    """In the factory's spare process, before it knows its program: make the stdio
    objects once and compile a line, and drop them, so the memory that work writes
    (the allocator's pools, the type and module objects it touches) is the process's
    own before an exec waits on it (docs/bench.md, "Where the time goes")."""
    saved = sys.stdin, sys.stdout, sys.stderr
    try:
        stdio(0)
        compile(b"def main(argv, envp):\n    return 0\n", "<rehearsal>", "exec")
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


def _run(rt, pid: int, argv: list, envp: list, get_main, ttys, server) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    libc._init(rt, pid, server)
    libc.environ.clear()
    libc.environ.update(e.split("=", 1) for e in envp if "=" in e)
    stdio(ttys)
    status = 1
    try:
        main = get_main()
        nodeio.install(argv)
        status = main(list(argv), libc.environ)
        status = 0 if status is None else int(status)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except OSError as e:                       # a system call's error nobody caught
        _say(argv, e)
        status = 1
    except BaseException:                      # noqa: BLE001 - the program's crash
        try:
            traceback.print_exc()
        except Exception:                      # noqa: BLE001 - fd 2 may be gone
            pass
        status = 1
    libc.exit(status)


def _say(argv: list, e: OSError) -> None:
    """`prog: [file: ]reason` on fd 2, as a program would have said it."""
    prog = (argv[0] if argv else "?").rsplit("/", 1)[-1]
    what = f"{e.filename}: " if e.filename is not None else ""
    try:
        libc.write(2, f"{prog}: {what}{e.strerror or e}\n".encode(errors="replace"))
    except OSError:
        pass
