"""Hostile input: a task sends the kernel 100,000 random and mutated requests.

Every one must be answered (an error reply for what is malformed), the kernel must still
serve afterwards, its tables must pass its own self-check (control port `check`, see
microkernel/kernel/invariants.py), both mid-run and after, and once the hostile tasks
are gone the node's counts must be back where they were: open fds, tasks, threads,
sockets bound to threads, pidfds and IRQ owners exactly; mappings, kernel frames and
live timers within a small slack for the servers' own lazy growth. Nothing leaked. See
tasks/fuzz_kernel_tasks.py for what is sent. A comm task (tasks/fuzz_sink_tasks.py:comm_sink,
kept by root at COMM_TASK while the fuzz runs) answers the IPC the fuzz aims at off-site ids
in their names, so remote IPC's redirection, deceit and error notices are hammered too.

MK_FUZZ_SEED and MK_FUZZ_REQUESTS change the run (the seed is printed on failure).
The tests marked xfail reproduce kernel bugs the fuzz found; each one passes once its
bug is fixed, and then xfail_strict makes it fail until the marker goes.
"""
from __future__ import annotations

import os
import time

import pytest

from microkernel.abi import COMM_TASK
from microkernel.user.testing import facts, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.fuzz, pytest.mark.timeout(300)]

SEED = int(os.environ.get("MK_FUZZ_SEED", "20251128"))
TOTAL = int(os.environ.get("MK_FUZZ_REQUESTS", "100000"))
THREADS = 2
# What must be back to its value from before the hostile tasks ran...
EXACT = ("tasks", "threads", "live_threads", "by_ident", "pidfds", "fds", "irq_owners")
# ...and what the node's own servers also change as they go (the pager, the file
# server and the others grow their memory lazily, sleep with timeouts): these may only
# have moved a little. That a dead task holds no mapping and no kernel frame is the
# self-check's part (`check`: only live spaces hold nodes, frames used == the live
# spaces' directories and tables).
SLACK = {"mappings": 1024, "kernel_frames": 8, "timers": 8}


def _snapshot(node) -> tuple[dict, list, dict]:
    counts = node.control({"op": "status"})["counts"]
    tasks = sorted((t["task"], t["entry"]) for t in node.control({"op": "ps"})["tasks"])
    return {k: counts[k] for k in EXACT}, tasks, {k: counts[k] for k in SLACK}


def _settle(node, want=None, timeout: float = 20.0) -> tuple[dict, list, dict]:
    """The snapshot once the exact counts stop moving over 0.3 s (or equal `want`'s);
    the last one if they never do within `timeout`."""
    seen = [_snapshot(node)]

    def settled():
        time.sleep(0.3)                   # the interval over which "not moving" is judged
        now = _snapshot(node)
        steady = now[:2] == (seen[-1] if want is None else want)[:2]
        seen.append(now)
        return steady
    try:
        wait_until(settled, timeout, "the node's counts to settle")
    except AssertionError:
        pass                              # the caller compares and says what differs
    return seen[-1]


def _normal_task_runs(node) -> None:
    got = node.facts("fuzz_repro_tasks.py", "normal")
    assert got["data"] == "hello" and got["words"] == [42], got


def test_fuzz_every_request_answered_nothing_broken_nothing_leaked(fresh_node):
    node = fresh_node
    _normal_task_runs(node)                                # the pager has memory now
    node.root({"op": "driver_stop", "name": "comm"})       # a sink plays it (below)
    before = _settle(node)
    check = node.control({"op": "check"}, timeout=60)
    assert check["violations"] == [], check

    sink = node.start("fuzz_sink_tasks.py", "sink", 600)
    sink_id = node.wait_for(lambda: facts(node.output(sink["task"])).get("sink"),
                            what="the sink's id")
    node.root({"op": "driver_start", "name": "fuzzcomm", "class": "server",
               "entry": os.path.join(os.path.dirname(__file__), "tasks",
                                     "fuzz_sink_tasks.py") + ":comm_sink", "task": COMM_TASK})
    comm_id = node.wait_for(lambda: facts(node.output(COMM_TASK)).get("comm"),
                            what="the comm task's id")
    per_thread = -(-TOTAL // THREADS)
    t0 = time.monotonic()
    status, out = node.run("fuzz_kernel_tasks.py", "fuzz", SEED, TOTAL, THREADS, sink_id,
                           per_thread * 4 // 5, comm_id, timeout=240)
    seconds = time.monotonic() - t0
    print(out)
    done = facts(out)
    assert status == 0 and done, f"seed {SEED}, {seconds:.0f}s:\n{out[-6000:]}"
    assert done["answered"] >= TOTAL and done["failures"] == 0, out[-3000:]
    assert done["checks"] == 1 and done["violations"] == 0, out[-3000:]
    assert done["task_new_ok"] == 0                        # it owns no task number
    assert facts(node.output(COMM_TASK)).get("redirected", 0) > 100   # remote IPC ran

    node.root({"op": "driver_stop", "name": "fuzzcomm"})
    node.root({"op": "kill", "task": sink["task"]})
    node.wait(sink["task"])
    status_reply = node.control({"op": "status"})          # the kernel still answers
    assert status_reply["ready"]
    check = node.control({"op": "check"}, timeout=60)
    assert check["violations"] == [], check
    after = _settle(node, want=before)
    assert after[:2] == before[:2], f"before {before}\nafter  {after}"
    for key, slack in SLACK.items():
        assert after[2][key] <= before[2][key] + slack, f"before {before}\nafter  {after}"

    _normal_task_runs(node)                                # and a normal task still runs


def test_failed_page_fault_leaves_no_stale_state(node):
    got = node.facts("fuzz_repro_tasks.py", "failed_page_fault")
    assert got["fault_refused"] == "NOT_EXISTENT", got
    assert got["violations"] == [] and got["received"] == [7], got


def test_timer_heap_does_not_grow_with_cancelled_timeouts(node):
    got = node.facts("fuzz_repro_tasks.py", "timer_heap", 3000)
    assert got["timers_after"] - got["timers_before"] < 100, got


def test_refused_requests_change_nothing_and_wrong_types_are_refused(node):
    got = node.facts("fuzz_repro_tasks.py", "refusals_change_nothing")
    assert got["schedule"] == "BAD_ARGUMENT" and got["prio_unchanged"], got
    assert set(got["cases"].values()) == {"BAD_REQUEST"}, got


@pytest.mark.xfail(reason="a frame over the kernel socket's MAXMSGSIZE (64 MiB, far above the "
                          "ABI's 4 MiB strings) is dropped by ZeroMQ: the kernel never sees the "
                          "request, so it gets no reply (the kernel itself is unharmed)")
def test_frame_over_64_mib_is_answered(node):
    got = node.facts("fuzz_repro_tasks.py", "oversized")
    assert got["answered"] and got["then"], got
