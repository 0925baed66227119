"""`mk sh`: shell sessions on a node.

An interactive session runs `/bin/sh` on a serial line through its UART driver and the
tty server, exactly as a person at a terminal on that line would: the CLI claims a free
line (COM2 first, then UARTs it plugs into the machine for the session, each with its
driver), starts the session task (personalities/unix/session.py) through root, and
connects the host terminal to the line's pseudo-terminal until the shell exits.
`mk sh -c CMD` runs `sh -c CMD` with its output collected and exits with its status.
"""
from __future__ import annotations

import os
import sys
import threading

from .node import Node, NodeError
from .terminal import relay

__all__ = ["interactive", "one_command", "claim_line", "EXTRA_LINES"]

SESSION = "personalities.unix.session:main"
# Serial lines a session may use: COM2, then cards plugged in on demand (free ISA IRQs).
EXTRA_LINES = [("com3", 0x3E8, 5), ("com4", 0x2E8, 10), ("com5", 0x2F0, 11),
               ("com6", 0x3E0, 12), ("com7", 0x2E0, 15)]


def one_command(node: Node, command: str) -> int:
    """Run `sh -c command`; print what it wrote; its exit status."""
    started = node.root({"op": "run", "entry": SESSION, "args": ["capture", "-", "-c", command]})
    done = node.root({"op": "wait", "task": started["task"]}, timeout=None)
    with open(started["log"], "rb") as f:
        sys.stdout.write(f.read().decode(errors="replace"))
    sys.stdout.flush()
    return _status(done["status"])


def interactive(node: Node) -> int:
    """An interactive shell in this terminal; its exit status."""
    line, lock = claim_line(node)
    try:
        with open(node.path(f"{line}.pty")) as f:
            pty = f.read().strip()
        started = node.root({"op": "run", "entry": SESSION, "args": ["tty", line]})
        done: dict = {}
        r, w = os.pipe()

        def waiter() -> None:
            try:
                done.update(node.root({"op": "wait", "task": started["task"]}, timeout=None))
            except NodeError as e:
                done["error"] = str(e)
            os.write(w, b"x")
        threading.Thread(target=waiter, daemon=True).start()
        relay(pty, stop_fd=r)
        if "error" in done:
            raise NodeError(done["error"])
        if not done:                               # left with Ctrl-]: end the session
            node.root({"op": "kill", "task": started["task"]})
            return 130
        return _status(done.get("status"))
    finally:
        os.unlink(lock)


def claim_line(node: Node) -> tuple[str, str]:
    """A serial line no live session holds (plugging a UART in if needed); (name, lock)."""
    os.makedirs(node.path("sessions"), exist_ok=True)
    plugged = {d["name"] for d in node.control({"op": "status"})["devices"]}
    for name, base, irq in [("com2", 0x2F8, 3)] + EXTRA_LINES:
        lock = node.path("sessions", f"{name}.lock")
        if _held(lock):
            continue
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


def _held(lock: str) -> bool:
    try:
        with open(lock) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _status(status) -> int:
    return status if isinstance(status, int) and 0 <= status < 256 else 1
