"""drivers.nic without a node: the driver's NetService against the mkNIC model on a port
bus and fake physical memory (the DMA region at an odd physical base, seen at VBASE):
init, SEND outcomes, frames queued by EtherType until RECV, waiters that gave up, RX
overflow, and recovery from a bus error. Requests go through the driver's Dispatch, as
in its task."""
import errno
from types import SimpleNamespace

from drivers.nic import RX_N, VBASE, Card, NetService, Rings
from hw.nic import NIC
from hw.ports import PortBus
from microkernel.abi import IpcCode, IpcError, Msg, Phase, ThreadId
from nic_rig import BCAST, FakeMemory, eth
from protocols.net import NET, Op
from protocols.server import Dispatch
from protocols.timer import Op as TimerOp

INFO, RECV, SEND = Op.INFO, Op.RECV, Op.SEND

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
        self.myself = lambda: ThreadId.make(40, 0, 1, 1, chief=4)
        self.chief = lambda: ThreadId.make(4, 0, 1, 1)
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


def tid(n):
    """Client thread n (a task of its own)."""
    return ThreadId.make(100 + n, 0, 1, 1)


def req(svc, words, strings=(), sender=7):
    return Dispatch(NET, svc, svc.rt)(Msg(words=words, strings=strings, sender=tid(sender)))


def recvd(client, frame):
    """What the driver sends a waiting RECV client."""
    return (tid(client), NET.reply(Op.RECV, (frame,)))


def test_info_and_send_without_carrier():
    nic, rt, svc = rig()
    r = req(svc, (INFO,))
    assert r.words[:4] == (0, 0x5254, 0x00000009, 0)
    assert req(svc, (SEND,), (eth(BCAST, MAC),)).words == (errno.EIO, 3)    # NOCARRIER
    assert nic.stats["tx_dropped"] == 1 and req(svc, (INFO,)).words[5] == 1
    for words, strings in [((SEND,), ()), ((SEND,), (b"x" * 13,)), ((SEND,), (b"x" * 1515,)),
                           ((SEND,), (b"x" * 60, b"y" * 60)), ((RECV, 1, 2), ()),
                           ((INFO, 1), ())]:
        assert req(svc, words, strings).words == (errno.EINVAL,)
    for words in [(0x99,), (), (TimerOp.NOW,)]:
        assert req(svc, words).words == (errno.ENOSYS,)


def test_send_with_carrier_uses_every_slot_in_turn():
    sent = []
    cable = SimpleNamespace(send=lambda f: sent.append(f) or True, carrier=True,
                            close=lambda: None, recv_ready=lambda: [])
    nic, rt, svc = rig(cable)
    frames = [eth(BCAST, MAC, bytes([i]) * 100) for i in range(40)]
    for f in frames:
        assert req(svc, (SEND,), (f,)).words == (0,)
    assert sent == frames and req(svc, (INFO,)).words[4] == 40


def test_frames_wait_in_the_ring_until_recv_and_overflow_is_counted():
    nic, rt, svc = rig()
    rt.alive = {tid(7), tid(8)}
    frames = [eth(MAC, BCAST, i.to_bytes(2, "big") * 30) for i in range(RX_N + 9)]
    for f in frames:
        nic.receive(f)
    svc.interrupt()                              # RX and RXOVF
    assert rt.sent == [] and svc.stats["rx_missed"] == 10      # 63 slots hold frames
    for i in range(RX_N - 1):                    # out of the ring, queued: answered now
        assert req(svc, (RECV, 0)) == NET.reply(Op.RECV, (frames[i],))
    assert req(svc, (RECV, 0), sender=8) is None and rt.sent == []   # waits
    nic.receive(frames[-1])                      # the ring was refilled: room again
    svc.interrupt()
    assert rt.sent[-1] == recvd(8, frames[-1])


def test_a_waiter_that_gave_up_is_skipped_and_the_frame_kept():
    nic, rt, svc = rig()
    rt.alive = {tid(8)}
    req(svc, (RECV, 0), sender=7)                # 7 will have gone
    req(svc, (RECV, 0), sender=8)
    f = eth(BCAST, BCAST, b"x" * 50)
    nic.receive(f)
    svc.interrupt()
    assert rt.sent == [recvd(8, f)]
    g = eth(BCAST, BCAST, b"y" * 50)
    nic.receive(g)
    svc.interrupt()                              # nobody waits: it is queued
    rt.alive = {tid(9)}
    assert req(svc, (RECV, 0), sender=9) == NET.reply(Op.RECV, (g,))


def test_bus_error_resets_and_reinitialises_the_card():
    nic, rt, svc = rig()
    rt.alive = {tid(7)}
    rt.outl(0x310, 0xFFFFFF00)                   # TX_BASE outside memory, as a wild write
    rt.outb(0x314, 16)
    rt.outb(0x316, 1)                            # doorbell: the card cannot read it
    assert nic.buserr
    svc.interrupt()                              # ERR: reset, re-init
    assert not nic.buserr and nic.tx_base == PHYS
    req(svc, (RECV, 0))
    f = eth(MAC, BCAST, b"after")
    nic.receive(f)
    svc.interrupt()
    assert rt.sent == [recvd(7, f)]
    assert req(svc, (SEND,), (f,)).words == (errno.EIO, 3)


def test_a_claimed_ethertype_goes_to_its_claimant_only():
    nic, rt, svc = rig()
    rt.alive = {tid(7), tid(8)}
    assert req(svc, (RECV, 0x88B5), sender=8) is None     # claims 0x88B5, waits
    assert req(svc, (RECV, 0), sender=7) is None          # any unclaimed type
    comm = eth(BCAST, MAC, b"c" * 50, ethertype=0x88B5)
    other = eth(BCAST, MAC, b"o" * 50, ethertype=0x0800)
    nic.receive(comm)
    nic.receive(other)
    svc.interrupt()
    assert rt.sent == [recvd(8, comm), recvd(7, other)]
    nic.receive(comm)                                     # nobody waits for it: queued
    svc.interrupt()
    assert req(svc, (RECV, 0), sender=7) is None and len(rt.sent) == 2
    assert req(svc, (RECV, 0x88B5), sender=8) == NET.reply(Op.RECV, (comm,))


def test_sendv_sends_a_batch_in_order_and_recvv_takes_what_is_queued():
    sent = []
    cable = SimpleNamespace(send=lambda f: sent.append(f) or True, carrier=True,
                            close=lambda: None, recv_ready=lambda: [])
    nic, rt, svc = rig(cable)
    frames = tuple(eth(BCAST, MAC, bytes([i]) * 100, ethertype=0x88B6) for i in range(31))
    assert req(svc, (Op.SENDV,), frames).words == (0, 31)          # more than the 15 TX slots
    assert sent == list(frames)
    for words, strings in [((Op.SENDV,), ()), ((Op.SENDV,), frames + frames[:1]),
                           ((Op.RECVV, 0, 0), ()), ((Op.RECVV, 0, 32), ())]:
        assert req(svc, words, strings).words == (errno.EINVAL,)
    rt.alive = {tid(7)}
    for f in frames[:5]:
        nic.receive(f)
    svc.interrupt()
    assert req(svc, (Op.RECVV, 0, 3)) == NET.reply(Op.RECVV, (frames[:3],))
    assert req(svc, (Op.RECVV, 0, 31)) == NET.reply(Op.RECVV, (frames[3:5],))
    assert req(svc, (Op.RECVV, 0, 31)) is None                     # waits
    nic.receive(frames[5])
    svc.interrupt()
    assert rt.sent[-1] == (tid(7), NET.reply(Op.RECVV, (frames[5:6],)))
