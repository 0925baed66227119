"""What docs/security.md promises the host enforces, checked on a running node: the node
folder, the kernel's sockets and the physical-memory segment are the owner's alone, and
task processes are not dumpable (no same-user ptrace or /proc/PID/mem). The other
promises have their own tests (listed in docs/security.md)."""
import os
import stat

import pytest

pytestmark = pytest.mark.timeout(60)


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_node_is_the_owners_alone(node):
    assert mode(node.dir) == 0o700
    for sock in ("kernel.sock", "control.sock", "trace.sock", "notes.sock", "root.sock"):
        assert mode(node.path(sock)) == 0o600, sock
    segment = [f for f in os.listdir("/dev/shm") if f.startswith(f"mk-{node.pid()}-")]
    assert len(segment) == 1 and mode(f"/dev/shm/{segment[0]}") == 0o600, segment


def test_task_processes_are_not_dumpable(node):
    assert node.facts("hostile_tasks.py", "dumpable") == {"dumpable": 0}
