"""Remote IPC through the comm servers, on a real three-node cluster booted as a user
would (`mk up --nodes 3 --pcap`): a call to a thread of another node is answered as
from that thread, calls from two nodes at once each run once, exactly once under a seeded lossy, duplicating, reordering link;
errors keep their V2 meaning; a 1 MiB string crosses intact; names across nodes; `mk
nodes`; the capture shows the comm frames; a killed comm server is restarted and IPC
works again; calls survive a short link outage exactly once; a longer one fails a
caller waiting with timeout NEVER within 3 announcement intervals, and IPC recovers; a
node that goes down says goodbye, so its callers fail at once. Task code: tasks/comm_tasks.py."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import TestNode
from microkernel.abi import COMM_TASK, ThreadId
from microkernel.user.testing import facts, wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]
TASKS = "comm_tasks.py"
INTERVAL = 1.0                          # servers/comm/peers.py


def mk(home: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


@pytest.fixture(scope="module")
def cluster(mk_home):
    r = mk(mk_home, "up", "--nodes", "3", "--pcap")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        n1, n2, n3 = (TestNode(f"n{i}", mk_home) for i in (1, 2, 3))
        n2.start(TASKS, "counter")
        for n in ("n1", "n3"):
            wait_until(lambda: _peer_alive(mk_home, n, "n2"), 20, f"{n} to hear of n2")
        yield n1, n2, n3
    finally:
        mk(mk_home, "down", "--all")


def _peer_alive(home: str, node: str, peer: str) -> bool:
    r = mk(home, "nodes", "--node", node, "--json")
    return r.returncode == 0 and any(p["name"] == peer and p["alive"]
                                     for p in json.loads(r.stdout)["peers"])


def _reported(node: TestNode, t: dict, key: str, timeout: float = 30.0):
    """Wait for task `t` to report `key`; on timeout, fail with what it printed."""
    try:
        return node.wait_for(lambda: facts(node.output(t["task"])).get(key), timeout, key)
    except AssertionError:
        raise AssertionError(f"task {t['task']} did not report {key!r}: "
                             f"{node.output(t['task'])[-3000:]}") from None


def test_a_call_to_another_nodes_thread_is_answered_as_from_it(cluster, mk_home):
    n1, *_ = cluster
    got = n1.facts(TASKS, "call", "n2", 20, timeout=60)
    assert got["ok"] == 20 and got["last"] - got["first"] == 19, got
    counter = ThreadId(got["counter"])
    assert counter.site == 2 and got["senders"] == [got["counter"]], got
    r = mk(mk_home, "nodes", "--node", "n1")
    assert r.returncode == 0, r.stderr
    assert "n1" in r.stdout and "n2" in r.stdout and "alive" in r.stdout, r.stdout


def test_calls_from_two_nodes_at_once_each_run_once(cluster):
    n1, n2, n3 = cluster
    before = n1.facts(TASKS, "call", "n2", 1)["last"]
    t = n3.start(TASKS, "call", "n2", 100, 30)
    got = n1.facts(TASKS, "call", "n2", 100, 30, timeout=120)
    assert n3.wait(t["task"], 120) == 0, n3.output(t["task"])
    other = facts(n3.output(t["task"]))
    assert got["ok"] == other["ok"] == 100, (got, other)
    after = n1.facts(TASKS, "call", "n2", 1)["last"]
    assert after == before + 201, (before, after)          # 200 and this one, no more


def test_sends_reach_an_open_and_a_closed_receive_in_order(cluster):
    n1, n2, _ = cluster
    t = n2.start(TASKS, "listen")
    me = _reported(n2, t, "listener")
    got = n1.facts(TASKS, "push", me, 7, 8)
    assert got["sent"] == [True, True], got
    assert n2.wait(t["task"], 30) == 0, n2.output(t["task"])
    heard = facts(n2.output(t["task"]))
    assert heard["open"] == {"sender": got["me"], "words": [7]}, heard
    assert heard["closed"] == {"sender": got["me"], "words": [8]}, heard


def test_a_stranger_cannot_make_the_comm_server_leave_or_stumble(cluster):
    n1, *_ = cluster
    got = n1.facts(TASKS, "stranger")
    assert got == {"leave": errno.EPERM, "huge": errno.ENOENT, "malformed": errno.EINVAL,
                   "unknown": errno.ENOSYS, "dgram_here": errno.EINVAL,
                   "dgram_none": errno.EINVAL, "dgram_nowhere": 0,
                   "dgram_huge": errno.EMSGSIZE, "dgram_words": errno.EINVAL,
                   "same": True}, got
    assert _peer_alive(cluster[0].home, "n2", "n1")            # n1 did not say goodbye


def test_errors_keep_their_v2_meaning_across_the_network(cluster):
    n1, *_ = cluster
    got = n1.facts(TASKS, "errors", "n2", timeout=60)
    assert got["no_thread"] == ["NOT_EXISTENT", "SEND"], got
    assert got["no_node"] == ["NOT_EXISTENT", "SEND"], got
    assert got["hold"] == ["TIMEOUT", "RECEIVE"] and 0.9 < got["held"] < 3, got
    assert got["map_item"] == ["MSG_CUT", "SEND"], got
    assert got["still"] >= 20, got


def test_a_mebibyte_string_crosses_intact(cluster):
    n1, *_ = cluster
    assert n1.facts(TASKS, "echo", "n2", 1 << 20, timeout=90)["intact"] is True


def test_a_server_is_found_by_name_at_a_node(cluster):
    n1, n2, _ = cluster
    got = n1.facts(TASKS, "by_name", "n2")
    assert ThreadId(got["found"]).site == 2, got
    assert got["unknown"] == 2, got                            # ENOENT: no such node


def test_every_call_executes_exactly_once_on_a_bad_link(cluster, mk_home):
    n1, *_ = cluster
    r = mk(mk_home, "link", "n1", "--loss", "0.1", "--dup", "0.05", "--reorder", "0.05",
           "--seed", "7")
    assert r.returncode == 0, r.stderr
    try:
        got = n1.facts(TASKS, "call", "n2", 300, 30, timeout=120)
    finally:
        mk(mk_home, "link", "n1", "--clear")
    assert got["ok"] == 300 and got["errors"] == [], got
    assert got["last"] - got["first"] == 299, got              # no call ran twice, none lost
    table = n1.facts(TASKS, "nodes")
    n2row = next(p for p in table["peers"] if p["name"] == "n2")
    assert n2row["retransmits"] > 0, table                     # the link did lose frames


def test_the_capture_shows_the_comm_frames(cluster, mk_home):
    pcap = os.path.join(mk_home, "switch", "switch.pcap")
    r = subprocess.run(["tcpdump", "-nn", "-e", "-r", pcap], capture_output=True, text=True,
                       timeout=60)
    assert "ethertype Unknown (0x88b5)" in r.stdout, r.stdout[-2000:] + r.stderr


def test_a_killed_comm_server_is_restarted_and_ipc_works_again(cluster, mk_home):
    n1, *_ = cluster
    pid = n1.task_pid(COMM_TASK)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: n1.task_pid(COMM_TASK) not in (None, pid), 10, "a new comm server")
    wait_until(lambda: _peer_alive(mk_home, "n1", "n2"), 20, "the new one to hear n2")
    got = n1.facts(TASKS, "call", "n2", 5, 5, timeout=60)
    assert got["ok"] == 5 and got["senders"] == [got["counter"]], got


def test_calls_survive_a_short_link_outage_exactly_once(cluster, mk_home):
    n1, *_ = cluster
    t = n1.start(TASKS, "call", "n2", 60, 30)
    assert mk(mk_home, "link", "n1", "down").returncode == 0
    time.sleep(0.5)                     # an outage shorter than the peers' 3 intervals
    assert mk(mk_home, "link", "n1", "up").returncode == 0
    assert n1.wait(t["task"], 120) == 0, n1.output(t["task"])
    got = facts(n1.output(t["task"]))
    assert got["ok"] == 60 and got["last"] - got["first"] == 59, got


def test_a_long_outage_fails_the_waiting_caller_then_ipc_recovers(cluster, mk_home):
    n1, *_ = cluster
    t = n1.start(TASKS, "hold", "n2")
    _reported(n1, t, "holding")
    assert mk(mk_home, "link", "n1", "down").returncode == 0
    try:
        assert n1.wait(t["task"], 30) == 0, n1.output(t["task"])
    finally:
        assert mk(mk_home, "link", "n1", "up").returncode == 0
    got = facts(n1.output(t["task"]))
    assert got["ended"][0] == "NOT_EXISTENT" and got["after"] < 3 * INTERVAL + 2, got
    wait_until(lambda: _peer_alive(mk_home, "n1", "n2"), 15, "n2 heard again")
    assert n1.facts(TASKS, "call", "n2", 1, 5, timeout=60)["ok"] == 1


def test_a_caller_of_a_node_that_goes_down_gets_not_existent(cluster):
    n1, n2, _ = cluster
    t = n1.start(TASKS, "hold", "n2")
    _reported(n1, t, "holding")
    n2.down()
    assert n1.wait(t["task"], 30) == 0, n1.output(t["task"])
    got = facts(n1.output(t["task"]))
    assert got["ended"][0] == "NOT_EXISTENT", got
    assert got["after"] < 1.0, got                 # it said goodbye: no 3 intervals
