#!mk
"""on NODE COMMAND [ARG...]: run COMMAND on node NODE (as QNX's `on -n NODE`).

COMMAND is looked up in NODE's /bin unless it has a slash, and runs under NODE's Unix
server (it shows in NODE's ps) with this process's stdin, stdout and stderr; the exit
status is COMMAND's (128 + the signal that killed it). `uname -n` names the nodes.
"""
import errno
import os
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    if len(argv) < 3:
        print("usage: on NODE COMMAND [ARG...]", file=sys.stderr)
        return 2
    node, cmd = argv[1], argv[2]
    path = cmd if "/" in cmd else f"/bin/{cmd}"
    try:
        status = libc.on(node, [path, *argv[3:]], envp)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC) and _is_node(node):
            print(f"on: {node}: {cmd}: {e.strerror}", file=sys.stderr)
            return 127 if e.errno == errno.ENOENT else 126
        why = e.strerror if e.errno != errno.ENOENT else "no such node"
        print(f"on: {node}: {why}", file=sys.stderr)
        return 1
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _is_node(node: str) -> bool:
    """Whether /net has `node` (the comm server knows it)."""
    try:
        return node in libc.listdir("/net")
    except OSError:
        return False
