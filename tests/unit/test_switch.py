"""The switch process (cluster/switch.py) with NIC cables (hw/nic_cable.py) as its nodes:
carrier follows `link down|up`, a delayed port holds up nobody else, the capture is one
pcap file tcpdump reads, a CurveZMQ join is admitted with a listed key and refused (and
logged as refused) with another, and bad requests get error replies. Every wait is a
bounded wait_until; nothing is timed."""
from __future__ import annotations

import os
import shutil
import subprocess

import msgpack
import pytest
import zmq

from cluster import ClusterError
from cluster.client import SwitchClient, join
from cluster.keys import Keys, write_private
from hw.nic_cable import Cable
from microkernel.user.testing import wait_until

pytestmark = pytest.mark.timeout(60)
MAC = {n: bytes.fromhex(f"52540000000{n}") for n in (1, 2, 3)}
BCAST = b"\xff" * 6


def eth(dst: bytes, src: bytes, tag: bytes = b"") -> bytes:
    return (dst + src + b"\x88\xb5" + tag).ljust(60, b"\0")


@pytest.fixture
def sw(tmp_path):
    """A switch of its own (listening on a free loopback port), stopped afterwards."""
    client = SwitchClient(str(tmp_path))
    client.start(pcap=True, listen="tcp://127.0.0.1:*")
    cables: list[Cable] = []
    client.cables = cables
    yield client
    for c in cables:
        c.close()
    client.stop()


def plug(sw: SwitchClient, name: str, site: int) -> Cable:
    """A cable into a new port `name`, with carrier."""
    cable = Cable("connect:" + sw.request("add", name=name, site=site)["endpoint"])
    sw.cables.append(cable)
    carrier(cable, True)
    return cable


def carrier(cable: Cable, up: bool) -> None:
    wait_until(lambda: (cable.carrier_events(), cable.carrier == up)[1], 10,
               f"carrier {'up' if up else 'down'}")


def frames(cable: Cable, n: int) -> list[bytes]:
    got: list[bytes] = []
    wait_until(lambda: got.extend(cable.recv_ready()) or len(got) >= n, 10, f"{n} frames")
    return got


def port(sw: SwitchClient, name: str) -> dict:
    return next(p for p in sw.request("status")["ports"] if p["name"] == name)


def test_link_down_drops_the_nodes_carrier_and_up_brings_it_back(sw):
    a, b = plug(sw, "a", 1), plug(sw, "b", 2)
    assert port(sw, "a")["node"] and port(sw, "a")["up"]
    assert sw.request("link", name="a", state="down")["up"] is False
    carrier(a, False)
    assert not a.send(eth(BCAST, MAC[1]))                  # nothing to send into
    b.send(eth(BCAST, MAC[2]))
    wait_until(lambda: port(sw, "b")["counters"]["rx_frames"] == 1, 10, "b's frame")
    sw.request("link", name="a", state="up")
    carrier(a, True)
    b.send(eth(BCAST, MAC[2], b"again"))
    assert frames(a, 1)[0][14:19] == b"again"              # what was sent while down is gone


def test_a_delayed_port_holds_up_nobody_else(sw):
    a, b, c = plug(sw, "a", 1), plug(sw, "b", 2), plug(sw, "c", 3)
    sw.request("link", name="a", delay=0.3)
    a.send(eth(MAC[2], MAC[1], b"slow"))
    c.send(eth(MAC[2], MAC[3], b"fast"))
    got = frames(b, 2)
    assert [f[14:18] for f in got] == [b"fast", b"slow"]
    assert port(sw, "a")["impairment"]["delay_ms"] == 300


def test_every_forwarded_frame_is_in_one_pcap_that_tcpdump_reads(sw):
    if shutil.which("tcpdump") is None:
        pytest.skip("tcpdump is not installed (.ci/run installs it)")
    a, b = plug(sw, "a", 1), plug(sw, "b", 2)
    a.send(eth(BCAST, MAC[1]))
    frames(b, 1)
    b.send(eth(MAC[1], MAC[2]))
    frames(a, 1)
    st = sw.request("status")
    assert st["captured"] == 2
    out = subprocess.run(["tcpdump", "-nn", "-e", "-r", st["pcap"]], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if not ln.startswith("\t")]   # not hex
    assert len(lines) == 2, out.stdout
    assert "52:54:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype Unknown (0x88b5), length 60" in lines[0]
    assert "52:54:00:00:00:02 > 52:54:00:00:00:01" in lines[1]


def _rogue_bundle(sw: SwitchClient, path: str, name: str) -> str:
    """A well-formed bundle for `name` whose key is on no allow-list."""
    switch_public, _ = Keys(sw.folder).switch_keypair()
    public, secret = (k.decode() for k in zmq.curve_keypair())
    write_private(path, f'node = "{name}"\nswitch_public = "{switch_public}"\n'
                        f'public = "{public}"\nsecret = "{secret}"\n')
    return path


def test_a_listed_key_joins_over_curve_and_an_unknown_one_is_refused(sw, tmp_path):
    listen = sw.request("status")["listen"]
    bundle = Keys(sw.folder).invite("far")
    endpoint = join(listen, bundle, "far", 9)
    assert endpoint.startswith("tcp://127.0.0.1:") and port(sw, "far")["kind"] == "tcp"
    far = Cable(f"connect:{endpoint}#curve={bundle}")
    sw.cables.append(far)
    carrier(far, True)
    a = plug(sw, "a", 1)
    far.send(eth(BCAST, bytes.fromhex("525400000009"), b"far"))
    assert frames(a, 1)[0][14:17] == b"far"

    rogue = _rogue_bundle(sw, str(tmp_path / "rogue.keys"), "rogue")
    with pytest.raises(ClusterError, match="refused node rogue's key: it is not on its allow-list"):
        join(listen, rogue, "rogue", 10)
    with pytest.raises(ClusterError, match="this key is far's: it cannot join as 'other'"):
        join(listen, bundle, "other", 11)
    impostor = Cable(f"connect:{endpoint}#curve={rogue}")    # straight at far's port
    sw.cables.append(impostor)
    wait_until(lambda: (impostor.carrier_events(), impostor.refused)[1], 10, "a refusal")
    assert not impostor.carrier
    with open(sw.path("switch.log")) as f:
        log = f.read()
    assert log.count("refused a connection from 127.0.0.1") >= 2, log
    assert "key not on the allow-list" in log
    assert sw.request("status")["refused"] >= 2
    assert {p["name"] for p in sw.request("status")["ports"]} == {"far", "a"}


BAD = [
    (b"\xc1", "a request is a map"), (msgpack.packb([1, 2]), "a request is a map"),
    (msgpack.packb({"op": "fly"}), "unknown op 'fly'"),
    (msgpack.packb({"op": "link", "name": "ghost"}), "no node 'ghost' on the switch"),
    (msgpack.packb({"op": "add", "name": "x", "site": 0}), "a site is 1..65535"),
    (msgpack.packb({"op": "add", "name": "../x", "site": 1}), "bad node name"),
    (msgpack.packb({"op": "add", "name": "b", "site": 1}), "site 1 is node 'a''s"),
    (msgpack.packb({"op": "link", "name": "a", "loss": 3}), "loss is a probability"),
    (msgpack.packb({"op": "link", "name": "a", "state": "sideways"}), "up or down"),
    (msgpack.packb({"op": "listen", "endpoint": "tcp://127.0.0.1:1"}), "already listens"),
]


def test_bad_requests_get_an_error_reply_and_the_switch_goes_on(sw):
    plug(sw, "a", 1)
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.connect(f"ipc://{sw.path('control.sock')}")
    try:
        for raw, says in BAD:
            s.send(raw)
            assert s.poll(5000), says
            reply = msgpack.unpackb(s.recv(), raw=False)
            assert says in reply["error"], reply
    finally:
        s.close()
    assert [p["name"] for p in sw.request("status")["ports"]] == ["a"]


def test_a_socket_closed_by_a_handler_of_the_same_round_is_passed_over(tmp_path):
    """`link down` closes a port's socket from the control socket's handler; if the
    port had frames waiting in the same poll, the loop must not call its handler."""
    from cluster.switch import Switch
    sw = Switch(str(tmp_path / "sw"))
    try:
        pairs = [(sw.ctx.socket(zmq.PAIR), sw.ctx.socket(zmq.PAIR)) for _ in range(2)]
        for i, (a, b) in enumerate(pairs):
            a.bind(f"inproc://t{i}")
            b.connect(f"inproc://t{i}")
        (first, first_peer), (second, second_peer) = pairs
        ran = []

        def close_second():
            first.recv()
            sw.unwatch(second)
            second.close()
            ran.append("first")
        sw.watch(first, close_second)
        sw.watch(second, lambda: ran.append("second"))
        first_peer.send(b"x")
        second_peer.send(b"y")
        wait_until(lambda: first.poll(0) and second.poll(0), 10, "both readable")
        sw.schedule(0.2, lambda: setattr(sw, "stopping", True))
        sw.run()                                     # a KeyError here ended the switch
        assert ran == ["first"]
        for a, b in pairs:
            b.close()
            if not a.closed:
                a.close()
    finally:
        sw.close()


def test_stop_leaves_no_socket_behind(tmp_path):
    sw = SwitchClient(str(tmp_path))
    pid = sw.start()
    sw.request("add", name="a", site=1)
    assert os.path.exists(sw.path("a.port")) and oct(os.stat(sw.path("control.sock")).st_mode)[-3:] == "600"
    assert sw.stop() and sw.pid() is None and not os.path.exists(f"/proc/{pid}")
    assert sorted(os.listdir(sw.folder)) == ["switch.log"]
    with pytest.raises(ClusterError, match="the switch is not running"):
        sw.request("status")


def test_the_allow_list_takes_every_z85_key(tmp_path):
    keys = Keys(str(tmp_path))
    for name in ("a", "b", "c"):
        keys.invite(name)
    with open(keys.path("allowed"), "a") as f:
        f.write("# a comment\nd " + "#ke%y:with[#{z85}@chars.".ljust(40, "-") + "\n")
    assert sorted(keys.allowed().values()) == ["a", "b", "c", "d"]
    assert keys.revoke("b") and not keys.revoke("b")
    assert sorted(keys.allowed().values()) == ["a", "c", "d"]
    assert oct(os.stat(keys.path("allowed")).st_mode)[-3:] == "600"
    assert oct(os.stat(keys.dir).st_mode)[-3:] == "700"
