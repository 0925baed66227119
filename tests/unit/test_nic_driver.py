"""drivers.nic without a node: the driver's NetService against the mkNIC model on a port
bus and fake physical memory (the DMA region at an odd physical base, seen at VBASE):
init, SEND outcomes, frames kept in the RX ring until RECV, waiters that gave up, RX
overflow, and recovery from a bus error."""
from types import SimpleNamespace

from drivers.nic import RX_N, VBASE, Card, NetService, Rings
from drivers.protocol import E_INVAL, E_IO, INFO, OK, RECV, SEND
from hw.nic import NIC
from hw.ports import PortBus
from microkernel.abi import IpcCode, IpcError, Msg, Phase
from nic_rig import BCAST, FakeMemory, eth

PHYS = 0x60000                       # where "sigma0" put the region
MAC = bytes.fromhex("525400000009")


class Window:
    """rt.mem for the region: virtual VBASE + off is physical PHYS + off."""

    def __init__(self, mem):
        self.mem = mem

    def read(self, va, n):
        return self.mem.read(va - VBASE + PHYS, n)

    def write(self, va, data):
        self.mem.write(va - VBASE + PHYS, data)


class FakeRt:
    """Port I/O onto the bus; `send` delivers to `alive` clients and records it."""

    def __init__(self, bus):
        self.bus, self.sent, self.alive = bus, [], set()
        for w, n in (("b", 1), ("w", 2), ("l", 4)):
            setattr(self, "in" + w, lambda p, n=n: bus.read(p, n))
            setattr(self, "out" + w, lambda p, v, n=n: bus.write(p, n, v))

    def send(self, client, msg, timeout=None):
        if client not in self.alive:
            raise IpcError(IpcCode.TIMEOUT, Phase.SEND)
        self.sent.append((client, msg))


def rig(cable=None):
    mem = FakeMemory(1 << 20)
    nic = NIC("net0", mac=MAC)
    nic.cable = cable
    bus = PortBus()
    bus.register(nic, 0x300, 32)
    nic.plugged(SimpleNamespace(memory=mem), {})
    rt = FakeRt(bus)
    return nic, rt, NetService(rt, Card(rt, 0x300), Rings(Window(mem), VBASE, PHYS))


def req(svc, words, strings=(), sender=7):
    return svc.request(Msg(words=words, strings=strings, sender=sender))


def test_info_and_send_without_carrier():
    nic, rt, svc = rig()
    r = req(svc, (INFO,))
    assert r.words[:4] == (OK, 0x5254, 0x00000009, 0)
    assert req(svc, (SEND,), (eth(BCAST, MAC),)).words == (E_IO, 3)     # NOCARRIER
    assert nic.stats["tx_dropped"] == 1 and req(svc, (INFO,)).words[5] == 1
    for words, strings in [((SEND,), ()), ((SEND,), (b"x" * 13,)), ((SEND,), (b"x" * 1515,)),
                           ((RECV, 0), ()), ((0x99,), ()), ((), ())]:
        assert req(svc, words, strings).words == (E_INVAL,)


def test_send_with_carrier_uses_every_slot_in_turn():
    sent = []
    cable = SimpleNamespace(send=lambda f: sent.append(f) or True, carrier=True,
                            close=lambda: None, recv_ready=lambda: [])
    nic, rt, svc = rig(cable)
    frames = [eth(BCAST, MAC, bytes([i]) * 100) for i in range(40)]
    for f in frames:
        assert req(svc, (SEND,), (f,)).words == (OK,)
    assert sent == frames and req(svc, (INFO,)).words[4] == 40


def test_frames_wait_in_the_ring_until_recv_and_overflow_is_counted():
    nic, rt, svc = rig()
    rt.alive = {7, 8}
    frames = [eth(MAC, BCAST, i.to_bytes(2, "big") * 30) for i in range(RX_N + 9)]
    for f in frames:
        nic.receive(f)
    svc.interrupt()                              # RX and RXOVF
    assert rt.sent == [] and svc.stats["rx_missed"] == 10      # 63 slots hold frames
    for i in range(RX_N - 1):
        assert req(svc, (RECV,)) is None
        assert rt.sent[-1] == (7, Msg(words=(OK,), strings=(frames[i],)))
    assert req(svc, (RECV,), sender=8) is None and len(rt.sent) == RX_N - 1   # waits
    nic.receive(frames[-1])                      # the ring was refilled: room again
    svc.interrupt()
    assert rt.sent[-1] == (8, Msg(words=(OK,), strings=(frames[-1],)))


def test_a_waiter_that_gave_up_is_skipped_and_the_frame_kept():
    nic, rt, svc = rig()
    rt.alive = {8}
    req(svc, (RECV,), sender=7)                  # 7 will have gone
    req(svc, (RECV,), sender=8)
    f = eth(BCAST, BCAST, b"x" * 50)
    nic.receive(f)
    svc.interrupt()
    assert rt.sent == [(8, Msg(words=(OK,), strings=(f,)))]
    g = eth(BCAST, BCAST, b"y" * 50)
    nic.receive(g)
    svc.interrupt()                              # nobody waits: it stays in the ring
    rt.alive = {9}
    req(svc, (RECV,), sender=9)
    assert rt.sent[-1] == (9, Msg(words=(OK,), strings=(g,)))


def test_bus_error_resets_and_reinitialises_the_card():
    nic, rt, svc = rig()
    rt.alive = {7}
    rt.outl(0x310, 0xFFFFFF00)                   # TX_BASE outside memory, as a wild write
    rt.outb(0x314, 16)
    rt.outb(0x316, 1)                            # doorbell: the card cannot read it
    assert nic.buserr
    svc.interrupt()                              # ERR: reset, re-init
    assert not nic.buserr and nic.tx_base == PHYS
    req(svc, (RECV,))
    f = eth(MAC, BCAST, b"after")
    nic.receive(f)
    svc.interrupt()
    assert rt.sent == [(7, Msg(words=(OK,), strings=(f,)))]
    assert req(svc, (SEND,), (f,)).words == (E_IO, 3)
