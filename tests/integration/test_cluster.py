"""A cluster of three real nodes on the switch, booted as a user would (`mk up --nodes 3
--pcap --listen tcp://127.0.0.1:*`): frames between the nodes' NICs through their net0
drivers (broadcast flooded, unicast to the learned port only, counters), `mk link` down
and up as the driver's INFO link, a seeded loss pattern reproduced exactly, the capture
read by tcpdump, and a node of "another host" (a second $MK_HOME) joining over CurveZMQ,
then a key on no allow-list refused, and logged as refused. Task code is in
tasks/cluster_tasks.py; each task reports facts."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import zmq

from cluster.client import SwitchClient
from cluster.impair import Impairment, Lane
from cluster.keys import Keys, write_private
from conftest import TestNode
from microkernel.user.testing import facts, wait_until

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
TASKS = "cluster_tasks.py"
MAC = {n: f"52:54:00:00:00:{n:02x}" for n in (1, 2, 3, 9)}
BROADCAST = "ff:ff:ff:ff:ff:ff"


def mk(home: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


@pytest.fixture(scope="module")
def cluster(mk_home):
    r = mk(mk_home, "up", "--nodes", "3", "--pcap", "--listen", "tcp://127.0.0.1:*")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        nodes = {f"n{i}": TestNode(f"n{i}", mk_home) for i in (1, 2, 3)}
        for n in nodes.values():            # the wire alone: no comm server's frames
            n.root({"op": "driver_stop", "name": "comm"})
        yield nodes
    finally:
        mk(mk_home, "down", "--all")


def run(node: TestNode, func: str, *args) -> dict:
    return node.facts(TASKS, func, *args, timeout=60)


def exchange(sender: TestNode, send_args: tuple, receivers: dict[str, tuple]) -> dict:
    """Start `recv` on each receiver node, run `send` on the sender; every one's facts."""
    started = {n: (node, node.start(TASKS, "recv", *args))
               for n, (node, args) in receivers.items()}
    out = {"sender": run(sender, "send", *send_args)}
    for n, (node, t) in started.items():
        assert node.wait(t["task"], 60) == 0, node.output(t["task"])
        out[n] = facts(node.output(t["task"]))
    return out


def counters(home: str) -> dict[str, dict]:
    return {p["name"]: p["counters"] for p in SwitchClient(home).request("status")["ports"]}


def delta(before: dict, after: dict, port: str, key: str) -> int:
    return after[port][key] - before[port][key]


def test_every_node_has_carrier_through_the_switch(cluster, mk_home):
    for i in (1, 2, 3):
        assert run(cluster[f"n{i}"], "info") == {"mac": MAC[i], "link": 1}
    r = mk(mk_home, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    for i in (1, 2, 3):
        assert f"n{i}: up, site {i}, 16 MiB" in r.stdout
    assert r.stdout.count("net0 switch, carrier up, ready") == 3, r.stdout
    assert "switch: up" in r.stdout and "3 ports, listening on tcp://127.0.0.1:" in r.stdout


def test_a_broadcast_is_flooded_to_every_other_node(cluster, mk_home):
    n1, n2, n3 = cluster["n1"], cluster["n2"], cluster["n3"]
    before = counters(mk_home)
    got = exchange(n1, (BROADCAST, "bcast", 3), {"n2": (n2, ("bcast", 3)),
                                                 "n3": (n3, ("bcast", 3))})
    assert got["sender"]["sent"] == 3
    for n in ("n2", "n3"):
        assert got[n]["got"] == [0, 1, 2] and got[n]["src"] == MAC[1], got
        assert got[n]["dst"] == BROADCAST
    after = counters(mk_home)
    assert delta(before, after, "n1", "rx_frames") == 3
    assert delta(before, after, "n1", "rx_bytes") == 180
    assert delta(before, after, "n2", "tx_frames") == delta(before, after, "n3", "tx_frames") == 3
    assert delta(before, after, "n1", "tx_frames") == 0      # never back where it came from


def test_unicast_goes_to_the_learned_port_only(cluster, mk_home):
    n1, n2 = cluster["n1"], cluster["n2"]
    run(n2, "send", BROADCAST, "iam-n2", 1)            # the switch learns n2's address
    wait_until(lambda: SwitchClient(mk_home).request("status")["learned"].get(MAC[2]) == "n2",
               10, "n2's address to be learned")
    before = counters(mk_home)
    got = exchange(n1, (MAC[2], "uni", 5, 1514), {"n2": (n2, ("uni", 5))})
    assert got["n2"]["got"] == [0, 1, 2, 3, 4] and got["n2"]["dst"] == MAC[2], got
    after = counters(mk_home)
    assert delta(before, after, "n2", "tx_frames") == 5
    assert delta(before, after, "n2", "tx_bytes") == 5 * 1514
    assert delta(before, after, "n3", "tx_frames") == 0
    assert all(delta(before, after, p, "drops") == 0 for p in after)


def test_link_down_drops_the_carrier_and_up_restores_it(cluster, mk_home):
    n3 = cluster["n3"]
    r = mk(mk_home, "link", "n3", "down")
    assert r.returncode == 0 and r.stdout.startswith("n3: link down"), r.stdout + r.stderr
    assert run(n3, "wait_link", 0)["link"] == 0
    assert "net0 switch, no carrier" in mk(mk_home, "status", "--node", "n3").stdout
    assert mk(mk_home, "link", "n3", "up").returncode == 0
    assert run(n3, "wait_link", 1)["link"] == 1


def _expected_survivors(seed: int, loss: float, n: int) -> list[int]:
    """Which of n frames from a port survive its inbound lane: the model, by hand."""
    kept: list[int] = []
    lane = Lane("in", lambda f: kept.append(int(f)), lambda d, fn: fn(),
                dict.fromkeys(("lost", "drops", "duplicated", "reordered"), 0))
    lane.set(Impairment(loss=loss, seed=seed))
    for seq in range(n):
        lane.offer(b"%d" % seq)
    return kept


def test_a_seeded_loss_pattern_is_the_same_every_time(cluster, mk_home):
    n1, n2 = cluster["n1"], cluster["n2"]
    run(n2, "send", BROADCAST, "iam-n2", 1)
    patterns = []
    for attempt in range(2):
        r = mk(mk_home, "link", "n1", "--loss", "0.3", "--seed", "7")
        assert r.returncode == 0 and "loss 0.3, seed 7" in r.stdout, r.stdout + r.stderr
        before = counters(mk_home)
        got = exchange(n1, (MAC[2], f"loss{attempt}", 40), {"n2": (n2, (f"loss{attempt}", 40))})
        patterns.append(got["n2"]["got"])
        assert delta(before, counters(mk_home), "n1", "lost") == 40 - len(patterns[-1])
    assert mk(mk_home, "link", "n1", "--clear").returncode == 0
    assert patterns[0] == patterns[1] == _expected_survivors(7, 0.3, 40)
    assert 0 < len(patterns[0]) < 40


def test_the_capture_is_one_pcap_file_that_tcpdump_reads(cluster, mk_home):
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (.ci/run installs it)")
    st = SwitchClient(mk_home).request("status")
    out = subprocess.run(["tcpdump", "-nn", "-e", "-r", st["pcap"]], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    records = [ln for ln in out.stdout.splitlines() if not ln.startswith("\t")]
    assert len(records) >= st["captured"] >= 10       # (more may have come since)
    assert any(f"{MAC[1]} > {BROADCAST}, ethertype Unknown (0x88b6), length 60" in ln
               for ln in records)
    assert any(f"{MAC[1]} > {MAC[2]}, ethertype Unknown (0x88b6), length 1514" in ln
               for ln in records)


def test_a_node_of_another_host_joins_over_curve(cluster, mk_home):
    listen = SwitchClient(mk_home).request("status")["listen"]
    r = mk(mk_home, "switch", "invite", "far")
    assert r.returncode == 0, r.stderr
    bundle = Keys(os.path.join(mk_home, "switch")).path("far.keys")
    elsewhere = tempfile.mkdtemp(prefix="mkj", dir="/tmp")      # the other host's $MK_HOME
    try:
        r = mk(elsewhere, "up", "--site", "9", "--join", listen, "--keys", bundle)
        assert r.returncode == 0, r.stdout + r.stderr       # node "far": the keys say so
        assert r.stdout.startswith("node far up"), r.stdout
        far = TestNode("far", elsewhere)
        assert run(far, "wait_link", 1)["link"] == 1
        st = mk(elsewhere, "status").stdout
        assert "far: up, site 9, 16 MiB" in st and "net0 switch at tcp://127.0.0.1:" in st
        got = exchange(far, (BROADCAST, "far", 2), {"n1": (cluster["n1"], ("far", 2))})
        assert got["n1"]["got"] == [0, 1] and got["n1"]["src"] == MAC[9], got
        r = mk(elsewhere, "down", "--node", "far")
        assert r.returncode == 0 and f"left the switch at {listen}" in r.stdout, r.stdout
        ports = [p["name"] for p in SwitchClient(mk_home).request("status")["ports"]]
        assert ports == ["n1", "n2", "n3"]
    finally:
        mk(elsewhere, "down", "--all")
        shutil.rmtree(elsewhere, ignore_errors=True)


def test_a_key_on_no_allow_list_is_refused_and_logged_as_refused(cluster, mk_home, tmp_path):
    listen = SwitchClient(mk_home).request("status")["listen"]
    switch_public, _ = Keys(os.path.join(mk_home, "switch")).switch_keypair()
    public, secret = (k.decode() for k in zmq.curve_keypair())
    rogue = str(tmp_path / "rogue.keys")
    write_private(rogue, f'node = "rogue"\nswitch_public = "{switch_public}"\n'
                         f'public = "{public}"\nsecret = "{secret}"\n')
    r = mk(mk_home, "up", "--node", "rogue", "--site", "10", "--join", listen, "--keys", rogue)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"Error: the switch at {listen} refused node rogue's "
                                     "key: it is not on its allow-list"], r.stderr
    with open(os.path.join(mk_home, "switch", "switch.log")) as f:
        log = f.read()
    assert f"refused a connection from 127.0.0.1 (key {public}): key not on the allow-list" \
        in log, log
    assert not TestNode("rogue", mk_home).running()
    assert "rogue" not in {p["name"] for p in SwitchClient(mk_home).request("status")["ports"]}


def test_mk_link_of_an_unknown_node_is_one_line(cluster, mk_home):
    r = mk(mk_home, "link", "nosuch", "down")
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["Error: no node 'nosuch' on the switch "
                                     "(its ports: n1, n2, n3)"], r.stderr
