"""Distributed shared memory on a real three-node cluster (`mk up --nodes 3`), with tasks
started by `mk run` on each node: a write on one node is seen by reads on every other;
no read is stale once a write has completed; the lock excludes (a counter incremented
under it by tasks on every node ends at the exact sum) and is released by a task that
ends holding it; bad attaches get their errors; a stranger calling every operation
changes nothing; a write waits for a silent holder of a read copy only until the node
is called gone; a page whose only copy was on a node that falls silent is a
SegmentFault for the next task to touch it, never a hang. Task code:
tasks/dsm_tasks.py."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest

from conftest import TestNode
from microkernel.user.testing import wait_until

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
TASKS = "dsm_tasks.py"
PAGE = 4096


def mk(home: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


@pytest.fixture(scope="module")
def cluster(mk_home):
    r = mk(mk_home, "up", "--nodes", "3")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield tuple(TestNode(f"n{i}", mk_home) for i in (1, 2, 3))
    finally:
        mk(mk_home, "down", "--all")


def test_a_write_on_one_node_is_read_on_every_other(cluster):
    n1, n2, n3 = cluster
    assert n2.facts(TASKS, "write", "co@n1", 2 * PAGE, 100, "from-n2")["wrote"] == "from-n2"
    for n in (n1, n3, n2):
        assert n.facts(TASKS, "read", "co@n1", 2 * PAGE, 100, 7)["read"] == "from-n2"
    # every node now holds a read copy; a write invalidates them all
    assert n3.facts(TASKS, "write", "co@n1", 2 * PAGE, 100, "from-n3")["wrote"] == "from-n3"
    for n in (n1, n2):
        assert n.facts(TASKS, "read", "co@n1", 2 * PAGE, 100, 7)["read"] == "from-n3"


def test_no_read_is_stale_after_a_write_completes(cluster):
    n1, n2, n3 = cluster
    n1.facts(TASKS, "write", "st@n2", PAGE, 0, "old")
    poller = n3.start(TASKS, "poll", "st@n2", PAGE, 0, "new", 30)      # a read copy on n3
    n3.wait_for(lambda: n3.task_pid(poller["task"]) is not None, 10, "the poller")
    assert n1.facts(TASKS, "write", "st@n2", PAGE, 0, "new")["wrote"] == "new"
    assert n2.facts(TASKS, "read", "st@n2", PAGE, 0, 3)["read"] == "new"
    assert n3.facts(TASKS, "read", "st@n2", PAGE, 0, 3)["read"] == "new"
    assert n3.wait(poller["task"], 40) == 0
    assert "new" in n3.output(poller["task"])


def test_the_lock_excludes_across_nodes(cluster):
    n1, n2, n3 = cluster
    times, tasks = 25, [n1, n2, n3, n2]
    started = [(n, n.start(TASKS, "count", "ctr@n1", PAGE, times, len(tasks))) for n in tasks]
    for n, t in started:
        assert n.wait(t["task"], 120) == 0, n.output(t["task"])
        assert f'"total": {times * len(tasks)}' in n.output(t["task"]), n.output(t["task"])


def test_a_task_that_ends_holding_the_lock_releases_it(cluster):
    n1, n2, _ = cluster
    assert n2.facts(TASKS, "lock_and_die", "ld@n1", PAGE)["locked"] is True
    assert n1.facts(TASKS, "count", "ld@n1", PAGE, 1, 1, timeout=20)["total"] == 1


@pytest.mark.parametrize("name,size,addr,code", [
    ("bad@@name", PAGE, "0x30000000", -1),
    ("ok@n1", 0, "0x30000000", errno.EINVAL),
    ("ok@n1", PAGE + 1, "0x30000000", errno.EINVAL),
    ("ok@n1", PAGE, "0x30000001", errno.EINVAL),
    ("ok@n1", 32 << 20, "0x30000000", errno.EINVAL),
    ("ok@n1", 2 * PAGE, "0xBFFFF000", errno.EINVAL),
    ("ok@nosuchnode", PAGE, "0x30000000", errno.ENOENT),
])
def test_a_bad_attach_gets_its_error(cluster, name, size, addr, code):
    _, n2, _ = cluster
    assert n2.facts(TASKS, "attach_error", name, size, addr)["errno"] == code


def test_a_name_that_clashes_gets_an_error(cluster):
    n1, n2, _ = cluster
    n1.facts(TASKS, "write", "clash@n1", PAGE, 0, "x")
    got = n2.facts(TASKS, "attach_error", "clash@n1", 2 * PAGE, "0x30000000")
    assert got["errno"] == errno.EEXIST, got


def test_a_stranger_changes_nothing(cluster):
    n1, n2, _ = cluster
    n1.facts(TASKS, "write", "str@n1", PAGE, 0, "intact")
    got = n2.facts(TASKS, "stranger", "str@n1", PAGE)
    e = got["errnos"]
    for op in ("open", "read", "write", "gone", "fetch", "invalidate", "invalidated", "forget",
               "unlock_not_held", "push"):
        assert e[op] == errno.EPERM, (op, e)
    for op in ("lock_bad_number", "barrier_zero", "attach_short", "attach_bad_utf8",
               "attach_huge_name", "attach_bad_ahead", "attach_huge_size"):
        assert e[op] == errno.EINVAL, (op, e)
    assert e["lock_no_segment"] == errno.ENOENT and e["unknown"] == errno.ENOSYS, e
    assert e["detach_none"] == errno.ENOENT and e["why_elsewhere"] == 0, e
    assert e["writeback_none"] == errno.ENOENT, e
    assert bytes.fromhex(got["before"]).startswith(b"intact") and got["after"] == got["before"]
    assert n1.facts(TASKS, "read", "str@n1", PAGE, 0, 6)["read"] == "intact"


def test_writes_stay_coherent_when_invalidations_are_lost(cluster, mk_home):
    """INVALIDATE and INVALIDATED are datagrams: on a link that loses a quarter of its
    frames, a writer that misses an answer asks again, and no read on n3 is stale."""
    n1, n2, n3 = cluster
    n1.facts(TASKS, "write", "lossy@n1", PAGE, 0, "v0")
    assert mk(mk_home, "link", "n3", "--loss", "0.25", "--seed", "7").returncode == 0
    try:
        for i in range(1, 4):
            assert n3.facts(TASKS, "read", "lossy@n1", PAGE, 0, 2, timeout=60)["read"] == \
                f"v{i - 1}"                                    # a read copy on n3
            assert n2.facts(TASKS, "write", "lossy@n1", PAGE, 0, f"v{i}",
                            timeout=60)["wrote"] == f"v{i}"
    finally:
        assert mk(mk_home, "link", "n3", "--clear").returncode == 0
    assert n3.facts(TASKS, "read", "lossy@n1", PAGE, 0, 2)["read"] == "v3"


def test_a_barrier_writes_the_pages_back_to_the_home(cluster, mk_home):
    """n2's page, passed through a barrier, is at the home: n1 reads it with n2 off the
    wire (without the write-back the home would FETCH it from n2: lost, a SegmentFault).
    A write after it is an upgrade that voids the home's copy too."""
    n1, n2, n3 = cluster
    assert n2.facts(TASKS, "write_and_pass", "wb@n1", 2 * PAGE, 0, "v1")["wrote"] == "v1"
    assert mk(mk_home, "link", "n2", "down").returncode == 0
    try:
        t0 = time.monotonic()
        assert n1.facts(TASKS, "read", "wb@n1", 2 * PAGE, 0, 2, timeout=15)["read"] == "v1"
        assert time.monotonic() - t0 < 10
    finally:
        assert mk(mk_home, "link", "n2", "up").returncode == 0
    assert n3.facts(TASKS, "read", "wb@n1", 2 * PAGE, 0, 2)["read"] == "v1"
    assert n2.facts(TASKS, "write", "wb@n1", 2 * PAGE, 0, "v2", timeout=60)["wrote"] == "v2"
    for n in (n1, n3):
        assert n.facts(TASKS, "read", "wb@n1", 2 * PAGE, 0, 2)["read"] == "v2"


def test_a_page_whose_only_copy_is_gone_is_a_fault_not_a_hang(cluster, mk_home):
    """Last: it takes n3 off the wire."""
    n1, n2, n3 = cluster
    holder = n3.start(TASKS, "hold", "lost@n1", 2 * PAGE, 0, "only-here", 120)
    wait_until(lambda: '"holding"' in n3.output(holder["task"]), 30, "n3 to hold the page")
    n1.facts(TASKS, "write", "kept@n1", PAGE, 0, "v1")
    assert n3.facts(TASKS, "read", "kept@n1", PAGE, 0, 2)["read"] == "v1"   # a copy on n3
    assert mk(mk_home, "link", "n3", "down").returncode == 0
    t0 = time.monotonic()            # n3 cannot answer INVALIDATED: the write waits for
    assert n2.facts(TASKS, "write", "kept@n1", PAGE, 0, "v2", timeout=30)["wrote"] == "v2"
    assert time.monotonic() - t0 < 20                      # the comm server to call it gone
    assert n1.facts(TASKS, "read", "kept@n1", PAGE, 0, 2)["read"] == "v2"
    t0 = time.monotonic()
    got = n2.facts(TASKS, "fault", "lost@n1", 2 * PAGE, 0, timeout=30)
    assert "lost" in got["fault"] and "only copy" in got["fault"], got
    assert time.monotonic() - t0 < 20
    again = n1.facts(TASKS, "fault", "lost@n1", 2 * PAGE, 0)        # at once, this time
    assert "lost" in again["fault"] and again["after"] < 2.0, again
    assert n1.facts(TASKS, "read", "lost@n1", 2 * PAGE, PAGE, 4)["read"] == "\0" * 4
