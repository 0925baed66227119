"""`mk sh`: shell sessions on a node.

An interactive session runs `/bin/sh` on a serial line through its UART driver and the
tty server, exactly as a person at a terminal on that line would: the CLI claims a free
line (COM2 first, then UARTs it plugs into the machine for the session, each with its
driver), starts the session task (personalities/unix/session.py) through root, and
connects the host terminal to the line's pseudo-terminal until the shell exits. When
the terminal leaves first (Ctrl-], or it closes), the line is hung up as a modem's
carrier drop would: the session's processes get SIGHUP and the line is free for the
next `mk sh`. `mk sh -c CMD` is cli/piped.py.
"""
from __future__ import annotations

import os
import select
import signal

from .node import Node, NodeError
from .piped import one_command
from .taskwait import TaskWaiter
from .terminal import relay

__all__ = ["interactive", "one_command", "claim_line", "EXTRA_LINES"]

SESSION = "personalities.unix.session:main"
HANGUP = "personalities.unix.session:hangup"
HANGUP_PATIENCE = 5.0          # seconds for the hang-up, then for the shell to go
LINE_GONE_PATIENCE = 15.0      # seconds to learn why the line's far side went
# Serial lines a session may use: COM2, then cards plugged in on demand (free ISA IRQs).
EXTRA_LINES = [("com3", 0x3E8, 5), ("com4", 0x2E8, 10), ("com5", 0x2F0, 11),
               ("com6", 0x3E0, 12), ("com7", 0x2E0, 15)]


def interactive(node: Node) -> int:
    """An interactive shell in this terminal; its exit status. Leaving first (Ctrl-],
    or the terminal closing: SIGHUP, end of input) hangs the line up."""
    line, lock = claim_line(node)
    saved = signal.getsignal(signal.SIGHUP)
    try:
        with open(node.path(f"{line}.pty")) as f:
            pty = f.read().strip()
        started = node.root({"op": "run", "entry": SESSION, "args": ["tty", line]})
        waiter = TaskWaiter(node, started["task"])
        signal.signal(signal.SIGHUP, _hung_up)
        try:
            why = relay(pty, stop_fd=waiter.fd)
        except HungUp:
            why = "left"
        finally:                                   # leaving: a SIGHUP now changes nothing
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if why == "line":                          # the node's side went (mk down)
            select.select([waiter.fd], [], [], LINE_GONE_PATIENCE)
        if not waiter.done():
            hang_up(node, line, started["task"], waiter)
            return 128 + signal.SIGHUP
        return waiter.status()
    finally:
        os.unlink(lock)
        signal.signal(signal.SIGHUP, saved)


class HungUp(Exception):
    """The host terminal closed."""


def _hung_up(sig, frame):
    raise HungUp()


def hang_up(node: Node, line: str, task: int, waiter: TaskWaiter) -> None:
    """The terminal left the line: the session's processes get SIGHUP, and the session
    task goes if its shell outlives that."""
    if _hang_up_line(node, line) and select.select([waiter.fd], [], [], HANGUP_PATIENCE)[0]:
        return
    try:
        node.root({"op": "kill", "task": task})
    except NodeError:
        pass


def claim_line(node: Node) -> tuple[str, str]:
    """A serial line no live session holds (plugging a UART in if needed); (name, lock)."""
    os.makedirs(node.path("sessions"), exist_ok=True)
    plugged = {d["name"] for d in node.control({"op": "status"})["devices"]}
    for name, base, irq in [("com2", 0x2F8, 3)] + EXTRA_LINES:
        lock = node.path("sessions", f"{name}.lock")
        if _held(lock):
            continue
        if os.path.exists(lock):                   # its holder died without hanging up
            _hang_up_line(node, name)
        if name not in plugged:
            from .main import plug
            try:
                plug(node, name, "uart", base, irq)
            except NodeError:
                continue
        with open(lock, "w") as f:
            f.write(str(os.getpid()))
        return name, lock
    raise NodeError("every serial line has a session on it")


def _hang_up_line(node: Node, line: str) -> bool:
    """The Unix server's HANGUP of `line`, through a task; whether it was done."""
    try:
        t = node.root({"op": "run", "entry": HANGUP, "args": [line]})
        node.root({"op": "wait", "task": t["task"]}, timeout=HANGUP_PATIENCE)
        return True
    except NodeError:
        return False


def _held(lock: str) -> bool:
    try:
        with open(lock) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False
