"""`mk trace --all` on a real two-node cluster (`mk up --nodes 2`): a remote call's frames
are on both nodes' timelines, one flow links the call from its caller on n1 through the
frames to the counter on n2 and back, the frames are counted, a lossy link shows
retransmissions, and the file stays well-formed trace-event JSON. Task code:
tasks/comm_tasks.py (the counter on n2, `call` on n1)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import TestNode
from microkernel.user.testing import wait_until

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))
from trace_events import problems  # noqa: E402

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]
TASKS = "comm_tasks.py"
PIDS = 100000                             # cli/timeline.py NODE_PIDS: node i's pids


def mk(home: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, "MK_HOME": home})


@pytest.fixture(scope="module")
def cluster(mk_home):
    r = mk(mk_home, "up", "--nodes", "2")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        n1, n2 = (TestNode(f"n{i}", mk_home) for i in (1, 2))
        n2.start(TASKS, "counter")
        wait_until(lambda: n1.run(TASKS, "call", "n2", 1, timeout=30)[0] == 0, 30,
                   "n1 to call n2's counter")
        yield n1, n2
    finally:
        mk(mk_home, "down", "--all")


def traced(home: str, n1: TestNode, calls: int, out) -> tuple[dict, dict]:
    """`calls` remote calls from n1 to n2's counter, traced on both nodes."""
    r = mk(home, "trace", "start", "--all")
    assert r.returncode == 0, r.stderr
    got = n1.facts(TASKS, "call", "n2", calls, 10, timeout=60)
    r = mk(home, "trace", "stop", "--all", "-o", str(out))
    assert r.returncode == 0 and "from 2 nodes" in r.stderr, r.stderr
    doc = json.loads(out.read_text())
    assert problems(doc) == []
    return doc, got


def _procs(ev) -> dict:
    return {e["pid"]: e["args"]["name"] for e in ev
            if e["ph"] == "M" and e["name"] == "process_name"}


def test_a_remote_call_is_seen_on_both_nodes_and_linked(cluster, mk_home, tmp_path):
    n1, _ = cluster
    doc, got = traced(mk_home, n1, 3, tmp_path / "t.json")
    assert got["ok"] == 3, got
    ev, counter = doc["traceEvents"], got["counter"]
    procs = _procs(ev)
    comm = {pid // PIDS for pid, name in procs.items() if name == "servers.comm"}
    assert comm == {1, 2}
    frames = [e for e in ev if e["ph"] == "X" and e["cat"] == "remote"]
    for node, verb, peer in ((1, "sent", 2), (2, "received", 1), (2, "sent", 1),
                             (1, "received", 2)):
        assert any(e["pid"] // PIDS == node and procs[e["pid"]] == "servers.comm"
                   and e["name"].startswith(f"frame {verb} data ") and
                   (e["args"]["dst"] if verb == "sent" else e["args"]["src"]) == peer
                   for e in frames), (node, verb)
    to_counter = [e for e in frames if e["args"].get("to") == counter]
    assert {e["pid"] // PIDS for e in to_counter} == {1, 2}    # the call's frame, both ends
    # one flow per call: the caller on n1 -> comm n1 -> comm n2 -> the counter on n2
    # (its receipt, its reply) -> comm n2 -> comm n1 -> the caller's delivery
    flows: dict = {}
    for e in sorted((e for e in ev if e["ph"] in "stf" and e["name"] == "remote call"),
                    key=lambda e: e["ts"]):
        flows.setdefault(e["id"], []).append((e["ph"], e["pid"]))
    counter_pid = {p for p, name in procs.items()
                   if p // PIDS == 2 and "comm_tasks.py:counter" in name}
    across = [f for f in flows.values() if {p for _, p in f} & counter_pid]
    assert len(across) >= 3, flows
    for f in across[:3]:
        assert [ph for ph, _ in f] == ["s"] + ["t"] * 7 + ["f"], f
        assert [p // PIDS for _, p in f] == [1, 1, 1, 2, 2, 2, 2, 1, 1], f
        assert [procs[p] for _, p in f][1:4] == ["servers.comm"] * 3
        assert f[0][1] == f[-1][1] and "comm_tasks.py:call" in procs[f[0][1]]
    last = {e["pid"] // PIDS: e["args"] for e in ev if e["ph"] == "C" and e["name"] == "frames"}
    assert all(last[n]["sent"] >= 3 and last[n]["received"] >= 3 for n in (1, 2)), last


def test_a_lossy_link_shows_retransmitted_frames(cluster, mk_home, tmp_path):
    n1, _ = cluster
    r = mk(mk_home, "link", "n1", "--loss", "0.4", "--seed", "5")
    assert r.returncode == 0, r.stderr
    try:
        doc, got = traced(mk_home, n1, 8, tmp_path / "lossy.json")
    finally:
        mk(mk_home, "link", "n1", "--clear")
    assert got["ok"] == 8, got
    ev = doc["traceEvents"]
    again = [e for e in ev if e["ph"] == "X" and e["name"].startswith("frame retransmitted")]
    assert again and all(e["args"]["dir"] == "retransmitted" for e in again)
    last = {e["pid"] // PIDS: e["args"] for e in ev if e["ph"] == "C" and e["name"] == "frames"}
    assert sum(c["retransmitted"] for c in last.values()) == len(again)
