"""A node's life on the host: after its kernel is killed nothing of it survives, `mk
down` removes (and says) what the dead kernel left, and `mk up` never trusts a stale
`ready`."""
import os
import signal

import psutil
import pytest

from microkernel.user.testing import wait_until

pytestmark = pytest.mark.timeout(120)


def test_a_killed_kernel_takes_its_processes_and_leaves_nothing_behind(fresh_node):
    node = fresh_node
    kernel = psutil.Process(node.pid())
    processes = kernel.children(recursive=True)
    assert len(processes) > 5                    # the factory and every task process
    shm = [f for f in os.listdir("/dev/shm") if f.startswith(f"mk-{kernel.pid}-")]
    assert len(shm) == 1
    kernel.send_signal(signal.SIGKILL)
    kernel.wait(10)
    wait_until(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                               for p in processes), 10, "the node's processes to die")

    stopped, removed = node.down()
    assert not stopped
    assert {"ready", "kernel.pid", "kernel.sock", "root.sock", "control.sock"} <= set(removed)
    assert f"/dev/shm/{shm[0]}" in removed and not os.path.exists(f"/dev/shm/{shm[0]}")
    assert node.down() == (False, [])            # nothing left the second time

    node.up()                                    # and it boots again, for real
    assert node.pid() != kernel.pid
    assert node.control({"op": "status"})["ready"]


def test_up_after_a_crash_boots_instead_of_trusting_ready(fresh_node):
    node = fresh_node
    old = node.pid()
    kernel = psutil.Process(old)
    kernel.send_signal(signal.SIGKILL)
    kernel.wait(10)                              # (and reaped: it is this test's child)
    assert os.path.exists(node.path("ready"))    # what fooled `mk up` before
    node.up()
    assert node.pid() not in (None, old)
    assert node.root({"op": "drivers"})["drivers"]        # root really serves


def test_a_normal_down_leaves_no_runtime_file(fresh_node):
    node = fresh_node
    stopped, removed = node.down()
    assert stopped and removed == []
    left = [n for n in os.listdir(node.dir) if n not in ("disk.img", "logs")]
    assert left == []
