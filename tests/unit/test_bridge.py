"""The switch's learning bridge (cluster/bridge.py), without sockets: what goes out of
which port, what is learned and forgotten, and what each counter says."""
import pytest

from cluster.bridge import AGEING, Bridge
from cluster.impair import Impairment

MAC = {n: bytes.fromhex(f"52540000000{n}") for n in (1, 2, 3)}
BCAST = b"\xff" * 6


def eth(dst: bytes, src: bytes, size: int = 60) -> bytes:
    return dst + src + b"\x88\xb5" + bytes(size - 14)


class Rig:
    """A bridge of ports p1..p3 whose sends are recorded; `closed` ports refuse them."""

    def __init__(self):
        self.now, self.sent, self.closed, self.captured = 0.0, [], set(), []
        self.b = Bridge(self.send, lambda d, fn: fn(), self.captured.append,
                        clock=lambda: self.now)
        for n in (1, 2, 3):
            self.b.add(f"p{n}", n, seed=n)

    def send(self, name, frame):
        if name in self.closed:
            return False
        self.sent.append((name, frame))
        return True

    def c(self, name: str) -> dict:
        return self.b.ports[name].counters

    def take(self) -> list[str]:
        out, self.sent = [n for n, _ in self.sent], []
        return out


@pytest.fixture
def rig():
    return Rig()


def test_broadcast_and_unknown_unicast_are_flooded_to_every_other_port(rig):
    rig.b.ingress("p1", eth(BCAST, MAC[1]))
    assert rig.take() == ["p2", "p3"]
    rig.b.ingress("p1", eth(MAC[2], MAC[1]))              # p2's address not learned yet
    assert rig.take() == ["p2", "p3"]


def test_a_learned_address_gets_its_frames_alone(rig):
    rig.b.ingress("p2", eth(BCAST, MAC[2]))
    rig.take()
    rig.b.ingress("p1", eth(MAC[2], MAC[1], 100))
    assert rig.take() == ["p2"]
    assert rig.b.learned() == {"52:54:00:00:00:01": "p1", "52:54:00:00:00:02": "p2"}
    assert rig.c("p1")["rx_frames"] == 1 and rig.c("p1")["rx_bytes"] == 100
    assert rig.c("p2")["tx_frames"] == 1 and rig.c("p2")["tx_bytes"] == 100
    assert rig.c("p3")["tx_frames"] == 1                  # only the first broadcast


def test_a_frame_for_its_own_port_is_filtered(rig):
    rig.b.ingress("p1", eth(BCAST, MAC[1]))
    rig.take()
    rig.b.ingress("p1", eth(MAC[1], MAC[3]))
    assert rig.take() == [] and rig.b.filtered == 1


def test_a_multicast_source_is_not_learned(rig):
    rig.b.ingress("p1", eth(BCAST, b"\x01\x00\x5e\x00\x00\x01"))
    assert rig.b.learned() == {}


def test_addresses_age_out(rig):
    rig.b.ingress("p2", eth(BCAST, MAC[2]))
    rig.now += AGEING + 1
    rig.take()
    rig.b.ingress("p1", eth(MAC[2], MAC[1]))
    assert rig.take() == ["p2", "p3"] and "52:54:00:00:00:02" not in rig.b.learned()


def test_a_port_that_goes_down_is_forgotten_and_skipped(rig):
    rig.b.ingress("p2", eth(BCAST, MAC[2]))
    rig.b.ports["p2"].up = False
    rig.b.forget("p2")
    rig.take()
    rig.b.ingress("p1", eth(MAC[2], MAC[1]))
    assert rig.take() == ["p3"]
    rig.b.ingress("p2", eth(BCAST, MAC[2]))               # a down port takes nothing in
    assert rig.take() == [] and rig.c("p2")["drops"] == 1


def test_a_send_that_fails_counts_as_a_drop(rig):
    rig.closed.add("p3")
    rig.b.ingress("p1", eth(BCAST, MAC[1]))
    assert rig.take() == ["p2"]
    assert rig.c("p3")["drops"] == 1 and rig.c("p3")["tx_frames"] == 0


@pytest.mark.parametrize("size", [13, 1515])
def test_a_frame_of_a_bad_size_goes_nowhere(rig, size):
    rig.b.ingress("p1", BCAST + bytes(size - 6))
    assert rig.take() == [] and rig.b.malformed == 1 and rig.c("p1")["drops"] == 1


def test_every_forwarded_frame_is_captured_once(rig):
    rig.b.ingress("p1", eth(BCAST, MAC[1]))
    rig.b.ingress("p2", eth(MAC[1], MAC[2]))
    assert len(rig.captured) == 2 and len(rig.take()) == 3


def test_loss_applies_on_the_way_in_and_on_the_way_out(rig):
    rig.b.ports["p1"].impair(Impairment(loss=1.0, seed=1))
    rig.b.ingress("p1", eth(BCAST, MAC[1]))               # lost entering the switch
    assert rig.take() == [] and rig.c("p1")["lost"] == 1 and rig.captured == []
    rig.b.ingress("p2", eth(BCAST, MAC[2]))               # lost leaving toward p1
    assert rig.take() == ["p3"] and rig.c("p1")["lost"] == 2 == rig.c("p1")["drops"]


def test_a_removed_ports_delayed_frames_go_nowhere():
    timers = []
    sent = []
    b = Bridge(lambda n, f: sent.append(n) or True, lambda d, fn: timers.append(fn))
    b.add("p1", 1, 1).impair(Impairment(delay=0.1, seed=1))
    b.add("p2", 2, 2)
    b.ingress("p1", eth(BCAST, MAC[1]))               # waits in p1's inbound lane
    b.remove("p1")
    timers.pop()()
    assert sent == [] and b.learned() == {}
