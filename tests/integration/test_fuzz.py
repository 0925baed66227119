"""Hostile input: a task sends the kernel 100,000 random and mutated requests.

Every one must be answered (an error reply for what is malformed), the kernel must still
serve afterwards, its tables must pass its own self-check (control port `check`, see
microkernel/kernel/invariants.py), both mid-run and after, and once the hostile tasks
are gone the node's counts must be back where they were: open fds, tasks, threads,
sockets bound to threads, pidfds and IRQ owners exactly; mappings, kernel frames and
live timers within a small slack for the servers' own lazy growth. Nothing leaked. See
tasks/fuzz_tasks.py for what is sent.

MK_FUZZ_SEED and MK_FUZZ_REQUESTS change the run (the seed is printed on failure).
The tests marked xfail reproduce kernel bugs the fuzz found; each one passes once its
bug is fixed, and then xfail_strict makes it fail until the marker goes.
"""
from __future__ import annotations

import os
import re
import time

import pytest

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
    """Poll until the exact counts stop moving (or equal `want`'s); the last snapshot."""
    deadline = time.monotonic() + timeout
    last = _snapshot(node)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = _snapshot(node)
        if now[:2] == (last if want is None else want)[:2]:
            return now
        last = now
    return last


def _sink_id(node, task: int) -> str | None:
    out = node.output(task)
    return out.split()[1] if out.startswith("sink ") and out.endswith("\n") else None


def test_fuzz_every_request_answered_nothing_broken_nothing_leaked(fresh_node):
    node = fresh_node
    status, out = node.run("fuzz_tasks.py", "normal")      # the pager has memory now
    assert status == 0 and "normal hello [42]" in out, out
    before = _settle(node)
    check = node.control({"op": "check"}, timeout=60)
    assert check["violations"] == [], check

    sink = node.start("fuzz_tasks.py", "sink", 600)
    sink_id = node.wait_for(lambda: _sink_id(node, sink["task"]), what="the sink's id")
    per_thread = -(-TOTAL // THREADS)
    t0 = time.monotonic()
    status, out = node.run("fuzz_tasks.py", "fuzz", SEED, TOTAL, THREADS, sink_id,
                           per_thread * 4 // 5, timeout=240)
    seconds = time.monotonic() - t0
    print(out)
    done = re.search(r"fuzz done requests=(\d+) answered=(\d+) failures=(\d+)", out)
    assert status == 0 and done, f"seed {SEED}, {seconds:.0f}s:\n{out[-6000:]}"
    assert int(done[2]) >= TOTAL and done[3] == "0", out[-3000:]
    assert "mid-run checks=1 violations=0" in out, out[-3000:]
    assert "TASK_NEW -> ok" not in out                     # it owns no task number

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

    status, out = node.run("fuzz_tasks.py", "normal")      # and a normal task still runs
    assert status == 0 and "normal hello [42]" in out, out


def test_failed_page_fault_leaves_no_stale_state(node):
    status, out = node.run("fuzz_tasks.py", "failed_page_fault")
    assert status == 0, out
    assert "fault refused NOT_EXISTENT" in out
    assert "violations []" in out
    assert "received [7]" in out


def test_timer_heap_does_not_grow_with_cancelled_timeouts(node):
    status, out = node.run("fuzz_tasks.py", "timer_heap", 3000)
    assert status == 0, out
    before, after = map(int, re.search(r"timers (\d+) (\d+)", out).groups())
    assert after - before < 100, out


def test_refused_requests_change_nothing_and_wrong_types_are_refused(node):
    status, out = node.run("fuzz_tasks.py", "refusals_change_nothing")
    assert status == 0, out
    assert "schedule refused BAD_ARGUMENT" in out
    assert "prio unchanged True" in out
    assert not re.search(r"^accepted", out, re.M), out


@pytest.mark.xfail(reason="a frame over the kernel socket's MAXMSGSIZE (64 MiB, far above the "
                          "ABI's 4 MiB strings) is dropped by ZeroMQ: the kernel never sees the "
                          "request, so it gets no reply (the kernel itself is unharmed)")
def test_frame_over_64_mib_is_answered(node):
    status, out = node.run("fuzz_tasks.py", "oversized")
    assert status == 0, out
    assert "oversized answered True then True" in out, out
