"""The mkNIC wire: frames across a real ZeroMQ cable (also between two processes), pcap.

Every wait on the cable is a bounded zmq poll (`nic_rig.pump`). The pcap capture is
checked by a pure-Python parser always, and by tcpdump itself when it is installed.
"""
from __future__ import annotations

import multiprocessing
import shutil
import struct
import subprocess
import time

import pytest

from hw.nic import (DESC_EOP, DESC_ERR, ERR_NOCARRIER, ERR_NONE, INT_LINK, INT_RX, INT_TX,
                    NIC, STATUS_LINK)
from nic_rig import BCAST, MAC_A, MAC_B, Rig, eth, pump


@pytest.fixture
def pair():
    """Two cards joined by a tcp cable, carrier up on both ends."""
    a = NIC("a", mac=MAC_A, link="bind:tcp://127.0.0.1:*")
    b = NIC("b", mac=MAC_B, link="connect:" + a.link_endpoint)
    try:
        pump([a, b], lambda: a.link_up and b.link_up)
        yield Rig(a).start(), Rig(b).start()
    finally:
        b.close()
        a.close()


# -- the cable ---------------------------------------------------------------------------

def test_tx_crosses_the_cable_into_the_peer_rx_ring(pair):
    a, b = pair
    assert a.rd("status") & STATUS_LINK and a.rd("isr") & INT_LINK
    frame = eth(MAC_B, MAC_A, bytes(range(100)))
    b.wr("isr", 0xFF)
    assert a.send(frame) == [0]
    assert a.rd("tx_head") == 1 and a.rd("isr") & INT_TX
    addr, length, flags, count, flen, err = a.desc("tx", 0)
    assert (flags, count, flen, err) == (DESC_EOP, len(frame), len(frame), ERR_NONE)
    edges = b.edges
    pump([a.nic, b.nic], lambda: b.rd("rx_head") == 1)
    _, length, flags, count, flen, err = b.desc("rx", 0)
    assert (length, flags, count, flen, err) == (2048, DESC_EOP, len(frame), len(frame), 0)
    assert b.rx_data(0) == frame and b.rd("isr") & INT_RX and b.edges == edges + 1
    assert b.nic.stats["rx_frames"] == 1 and a.nic.stats["tx_frames"] == 1


def _echo_node(endpoint: str, results, done) -> None:
    """Child process: a second machine that echoes one frame back to its sender."""
    nic = NIC("child", mac=MAC_B, link="connect:" + endpoint)
    try:
        r = Rig(nic).start()
        pump([nic], lambda: r.rd("rx_head") == 1, timeout=20)
        frame = r.rx_data(0)
        r.send(eth(frame[6:12], MAC_B, b"echo:" + frame[14:]))
        results.put((r.desc("rx", 0), r.edges, r.desc("tx", 0)))
        done.wait(20)                       # keep the cable in until the echo is read
    finally:
        nic.close()


def test_two_machines_in_two_processes(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    results, done = ctx.Queue(), ctx.Event()
    a = NIC("a", mac=MAC_A, link=f"bind:ipc://{tmp_path}/lan0")
    child = ctx.Process(target=_echo_node, args=(a.link_endpoint, results, done))
    child.start()
    try:
        r = Rig(a).start()
        pump([a], lambda: a.link_up, timeout=30)
        frame = eth(MAC_B, MAC_A, b"ping" * 20)
        r.send(frame)
        pump([a], lambda: r.rd("rx_head") == 1, timeout=20)
        assert r.rx_data(0) == eth(MAC_A, MAC_B, b"echo:" + b"ping" * 20)
        assert r.rd("isr") & INT_RX
        rx_desc, child_edges, child_tx = results.get(timeout=20)
        assert rx_desc[2:5] == (DESC_EOP, len(frame), len(frame)) and child_edges >= 1
        assert child_tx[2] == DESC_EOP and child_tx[5] == ERR_NONE
    finally:
        done.set()
        child.join(20)
        if child.is_alive():
            child.kill()
            child.join(5)
        a.close()
        results.close()
        results.join_thread()
    assert child.exitcode == 0


def test_rings_wrap_around(pair):
    a, b = pair
    a.start(tx_size=4)
    b.start(rx_size=4)                      # three descriptors in the card's hands
    for n in range(11):
        frame = eth(MAC_B, MAC_A, bytes([n]) * (20 + n))
        [i] = a.send(frame)
        assert i == n % 4 and a.desc("tx", i)[2] == DESC_EOP
        pump([a.nic, b.nic], lambda: b.rd("rx_head") == (n + 1) % 4)
        assert b.rx_data(n % 4) == frame
        b.recycle()
    assert b.nic.stats["rx_frames"] == 11 and b.nic.stats["rx_missed"] == 0


def test_frame_spanning_several_descriptors(pair):
    a, b = pair
    b.start(rx_buf=256)
    frame = eth(MAC_B, MAC_A, bytes(range(256)) * 2 + b"tail")
    a.send(frame[:100], frame[100:])
    assert [a.desc("tx", i)[2:6] for i in (0, 1)] == [
        (0, 100, len(frame), 0), (DESC_EOP, len(frame) - 100, len(frame), 0)]
    pump([a.nic, b.nic], lambda: b.rd("rx_head") == 3)
    descs = [b.desc("rx", i) for i in range(3)]
    assert [d[2] for d in descs] == [0, 0, DESC_EOP]
    assert [d[3] for d in descs] == [256, 256, len(frame) - 512]
    assert b"".join(b.rx_data(i) for i in range(3)) == frame


def test_link_loss_drops_frames_and_interrupts(pair):
    a, b = pair
    a.wr("isr", 0xFF)
    b.nic.disconnect_link()
    assert b.rd("status") & STATUS_LINK == 0 and b.rd("isr") & INT_LINK
    pump([a.nic], lambda: not a.nic.link_up)
    assert a.rd("isr") == INT_LINK and a.rd("status") & STATUS_LINK == 0
    frame = eth(MAC_B, MAC_A)
    for rig in (a, b):                      # far end gone / no cable at all
        rig.send(frame)
        assert rig.desc("tx", 0)[2] == DESC_EOP | DESC_ERR
        assert rig.desc("tx", 0)[5] == ERR_NOCARRIER and rig.nic.stats["tx_dropped"] == 1
    assert b.nic.poll_sources() == []


def test_no_carrier_drops_a_frame_the_socket_would_still_take(pair):
    """The monitor reports a far end gone before ZeroMQ drops its pipe: in between, a
    send must fail NOCARRIER as the datasheet says, not vanish as if sent."""
    a, b = pair
    a.nic.cable.carrier = False             # the monitor's verdict, the pipe still there
    a.send(eth(MAC_B, MAC_A))
    assert a.desc("tx", 0)[5] == ERR_NOCARRIER and a.nic.stats["tx_dropped"] == 1
    assert a.nic.stats["tx_frames"] == 0


def test_bad_link_specs_are_refused_cleanly(pair):
    a, b = pair
    for spec in ("plug:tcp://127.0.0.1:1", "bind:nowhere", "connect"):
        with pytest.raises(ValueError, match="bad link spec"):
            NIC("x", link=spec)
    with pytest.raises(ValueError, match="cannot bind"):       # the port is a's already
        NIC("x", link="bind:" + a.nic.link_endpoint)
    old = a.nic.link_endpoint
    a.wr("isr", 0xFF)
    a.nic.connect_link("bind:tcp://127.0.0.1:*")                # replug: old cable closed
    assert a.nic.link_endpoint != old and not a.nic.link_up and a.rd("isr") == INT_LINK
    pump([b.nic], lambda: not b.nic.link_up)


# -- pcap --------------------------------------------------------------------------------

def _capture(pair, path) -> list[bytes]:
    a, b = pair
    a.nic.start_capture(str(path))
    frames = [eth(MAC_B, MAC_A, b"one" * 10), eth(BCAST, MAC_A, b"two", 0x0806)]
    for f in frames:
        a.send(f)
    pump([a.nic, b.nic], lambda: b.rd("rx_head") == 2)
    back = eth(MAC_A, MAC_B, b"three" * 50)
    b.send(back)
    pump([a.nic, b.nic], lambda: a.rd("rx_head") == 1)
    a.nic.stop_capture()
    a.send(eth(MAC_B, MAC_A, b"not captured"))
    return frames + [back]


def test_pcap_file_parses(pair, tmp_path):
    t0 = time.time()
    frames = _capture(pair, tmp_path / "a.pcap")
    raw = (tmp_path / "a.pcap").read_bytes()
    magic, major, minor, zone, sigfigs, snaplen, linktype = struct.unpack("<IHHiIII", raw[:24])
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 65535, 1)
    pos, records = 24, []
    while pos < len(raw):
        sec, usec, incl, orig = struct.unpack("<IIII", raw[pos:pos + 16])
        assert incl == orig and usec < 1_000_000 and t0 - 1 <= sec <= time.time() + 1
        records.append(raw[pos + 16:pos + 16 + incl])
        pos += 16 + incl
    assert pos == len(raw) and records == frames


def test_pcap_file_reads_in_tcpdump(pair, tmp_path):
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed")
    frames = _capture(pair, tmp_path / "a.pcap")
    out = subprocess.run([tcpdump, "-nn", "-e", "-xx", "-r", str(tmp_path / "a.pcap")],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    heads, dumps = [], []
    for line in out.splitlines():
        if line.startswith("\t0x"):                        # -xx: the whole frame in hex
            dumps[-1] += bytes.fromhex("".join(line.split(":", 1)[1].split()))
        elif line.strip():
            heads.append(line)
            dumps.append(b"")
    assert dumps == frames
    assert "02:aa:00:00:00:01 > 02:bb:00:00:00:02" in heads[0]
    assert f"length {len(frames[0])}" in heads[0]
    assert "ff:ff:ff:ff:ff:ff" in heads[1] and "ARP" in heads[1]
    assert "02:bb:00:00:00:02 > 02:aa:00:00:00:01" in heads[2]
    assert f"length {len(frames[2])}" in heads[2]
