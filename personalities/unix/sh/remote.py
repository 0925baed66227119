"""`on NODE COMMAND [ARG...]`: run COMMAND on node NODE with this process's fds 0-2 and
environment (as QNX's `on -n NODE`), over any libc-like `sys` that has `on`. It is the
shell's builtin (the shell makes the ON system call itself, so the one program started
is COMMAND, on NODE) and /bin/on's body (for xargs, env and other programs' exec).

COMMAND is NODE's /bin/COMMAND unless it has a slash; the status is COMMAND's (128 +
the signal that killed it); errors are said `on: NODE: reason` on fd 2.
"""
from __future__ import annotations

import errno
import os

__all__ = ["on"]

USAGE = "usage: on NODE COMMAND [ARG...]\n"


def on(sys, argv: list, env: dict) -> int:
    """Run argv[2:] on node argv[1] (see the module docstring); the exit status."""
    if len(argv) < 3:
        return _say(sys, USAGE, 2)
    if not hasattr(sys, "on"):
        return _say(sys, "on: no other nodes here\n", 127)
    node, cmd = argv[1], argv[2]
    path = cmd if "/" in cmd else f"/bin/{cmd}"
    try:
        status = sys.on(node, [path, *argv[3:]], env)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC) and _is_node(sys, node):
            return _say(sys, f"on: {node}: {cmd}: {e.strerror}\n",
                        127 if e.errno == errno.ENOENT else 126)
        why = e.strerror if e.errno != errno.ENOENT else "no such node"
        return _say(sys, f"on: {node}: {why}\n", 1)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _say(sys, text: str, status: int) -> int:
    try:
        sys.write(2, text.encode(errors="surrogateescape"))
    except OSError:
        pass
    return status


def _is_node(sys, node: str) -> bool:
    """Whether /net has `node` (the comm server knows it)."""
    try:
        return node in sys.listdir("/net")
    except OSError:
        return False
