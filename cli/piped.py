"""`mk sh -c CMD`: one command line on the node, as a host citizen.

The command's fds 0, 1 and 2 are pipes of the node's Unix server whose far ends the
session task (personalities/unix/session.py, mode `pipes`) relays to four host FIFOs
this CLI makes in a private directory: `in` carries the CLI's stdin, `out` and `err`
the command's stdout and stderr, apart and byte-exact, copied to the CLI's own as they
come; a byte N on `sig` is signal N to the command's process group: ^C (SIGINT),
SIGTERM, SIGHUP and SIGQUIT to the CLI are forwarded, and the exit status is the
command's (130 after ^C). If the node goes down meanwhile, one line says so (status 1).
"""
from __future__ import annotations

import os
import select
import signal
import sys
import tempfile
import threading

from .node import Node, NodeError
from .taskwait import TaskWaiter

__all__ = ["one_command", "FORWARDED"]

SESSION = "personalities.unix.session:main"
FIFOS = (("in", os.O_WRONLY), ("out", os.O_RDONLY), ("err", os.O_RDONLY),
         ("sig", os.O_WRONLY))               # the session task opens them in this order
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
CHUNK = 65536


def one_command(node: Node, command: str) -> int:
    """Run `sh -c command` with this process's stdio; its exit status."""
    with tempfile.TemporaryDirectory(prefix="mksh-") as d:
        for name, _ in FIFOS:
            os.mkfifo(os.path.join(d, name), 0o600)
        started = node.root({"op": "run", "entry": SESSION, "args": ["pipes", d, "-c", command]})
        waiter = TaskWaiter(node, started["task"])
        fds = _open_fifos(d, waiter)
        if fds is None:                              # it ended before it opened them
            return waiter.status()
        fin, fout, ferr, fsig = fds
        saved = {s: signal.signal(s, lambda sig, _f: _forward(fsig, sig)) for s in FORWARDED}
        try:
            threading.Thread(target=_feed, args=(fin,), daemon=True).start()
            _copy_out({fout: _writer(sys.stdout.fileno()), ferr: _writer(sys.stderr.fileno())})
            select.select([waiter.fd], [], [])
        finally:
            for s, h in saved.items():
                signal.signal(s, h)
            os.close(fsig)
        return waiter.status()


def _open_fifos(d: str, waiter: TaskWaiter) -> list[int] | None:
    """The four FIFOs opened (each open waits for the task's), or None if the task
    ended first."""
    fds: list[int] = []
    r, w = os.pipe()

    def opener() -> None:
        for name, flags in FIFOS:
            fds.append(os.open(os.path.join(d, name), flags))
        os.write(w, b"x")
    threading.Thread(target=opener, daemon=True).start()
    try:
        ready, _, _ = select.select([r, waiter.fd], [], [])
    finally:
        os.close(r)
    return fds if r in ready else None


def _feed(fin: int) -> None:
    """The CLI's stdin -> the command's, then end of file."""
    out = _writer(fin, closefd=True)
    try:
        while data := os.read(sys.stdin.fileno(), CHUNK):
            out.write(data)
            out.flush()
    except OSError:
        pass                                     # no stdin, or it stopped reading
    try:
        out.close()
    except OSError:
        pass


def _copy_out(pairs: dict) -> None:
    """Copy each FIFO to its host fd as bytes come, until both reach end of file."""
    while pairs:
        try:
            ready, _, _ = select.select(list(pairs), [], [])
        except InterruptedError:
            continue
        for src in ready:
            data = os.read(src, CHUNK)
            try:
                if data:
                    pairs[src].write(data)
                    pairs[src].flush()
                    continue
            except OSError:                      # our stdout closed (| head): the
                pass                             # task's write fails, SIGPIPE there
            del pairs[src]
            os.close(src)


def _forward(fsig: int, sig: int) -> None:
    try:
        os.write(fsig, bytes([sig]))
    except OSError:
        pass                                     # the session has ended


def _writer(fd: int, closefd: bool = False):
    """A binary file on `fd` whose write + flush writes all of it."""
    return open(fd, "wb", closefd=closefd)
