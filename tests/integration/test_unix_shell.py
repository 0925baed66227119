"""Programs from /bin on the ext2 image, run by /bin/sh: exec, files, the shell."""
from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.timeout(60)


def sh(node, cmd: str, stdin: str = "") -> tuple[int, str]:
    """`sh -c CMD` as a process; (exit code, fds 1 and 2)."""
    status, out = node.run("unix_tasks.py", "shell", cmd, stdin, timeout=45)
    assert status == 0, out
    r = json.loads(next(ln for ln in out.splitlines() if ln.startswith("{")))
    st = r["status"]
    return (os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)), r["out"]


def test_echo(node):
    assert sh(node, "echo hello world") == (0, "hello world\n")
