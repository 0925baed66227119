"""The mkNIC card on its own: registers, interrupts, RX/TX rings, DMA errors, filtering.

Each card sits on a real PortBus with a real IrqLine and DMAs into a small fake physical
memory (or the real shared segment), driven through ports and descriptors like a driver.
The wire side (ZeroMQ cable, two processes, pcap) is in test_nic_cable.py.
"""
from __future__ import annotations

import pytest

from hw.clock import VirtualClock
from hw.device import BadAccess
from hw.machine import Machine
from hw.memory import PhysicalMemory
from hw.nic import (CTRL_ALLMULTI, CTRL_PROMISC, CTRL_RESET, CTRL_RXEN, CTRL_TXEN, DESC_EOP,
                    DESC_ERR, DESC_OWN, DESC_SIZE, ERR_ADDRESS, ERR_LENGTH, INT_ERR, INT_RX,
                    INT_RXOVF, INT_TX, NIC, NIC_ID, STATUS_BUSERR)
from nic_rig import BCAST, MAC_A, MAC_B, Rig, eth


# -- registers ---------------------------------------------------------------------------

def test_registers_by_byte_word_and_dword():
    r = Rig(NIC(mac=MAC_A))
    base = r.nic.base
    assert r.bus.inl(base) == NIC_ID and r.bus.inb(base) == ord("M")
    assert r.bus.inw(base + 2) == NIC_ID >> 16
    assert bytes(r.bus.inb(base + 8 + i) for i in range(6)) == MAC_A
    r.bus.outl(base + 8, 0x44332211)
    r.bus.outb(base + 0x0D, 0x66)
    assert r.bus.inl(base + 8) == 0x44332211 and r.bus.inw(base + 0x0C) == 0x6600 | MAC_A[4]
    assert r.bus.inb(base + 0x17) == 0 and r.bus.inb(base + 0x1F) == 0      # reserved
    r.bus.outl(base + 0x14, 0x00030008)     # size 8, head (read-only) ignored, tail 3
    assert (r.rd("tx_size"), r.rd("tx_head"), r.rd("tx_tail")) == (8, 0, 3)
    r.wr("tx_size", 4)                      # a new ring starts empty
    assert (r.rd("tx_head"), r.rd("tx_tail")) == (0, 0)
    r.wr("rx_size", 5)
    r.wr("rx_tail", 7)                      # taken modulo the ring size
    assert r.rd("rx_tail") == 2
    r.wr("id", 0)                           # read-only
    assert r.rd("id") == NIC_ID and r.rd("status") == 0
    r.wr("ctrl", CTRL_RXEN | CTRL_PROMISC)
    assert r.rd("ctrl") == CTRL_RXEN | CTRL_PROMISC
    r.wr("ctrl", CTRL_RESET | CTRL_TXEN)    # reset wins: everything back to power-on
    assert (r.rd("ctrl"), r.rd("rx_size"), r.rd("imr")) == (0, 0, 0)
    assert r.bus.inl(base + 8) == int.from_bytes(MAC_A[:4], "little")
    with pytest.raises(BadAccess):
        r.nic.io_read(base + 30, 4)         # would run past the 32-port window
    assert r.bus.inb(base + 32) == 0xFF     # not ours: the bus floats high


def test_isr_write_one_to_clear_and_irq_edges():
    r = Rig(NIC(mac=MAC_A)).start(give=0)
    assert r.nic.receive(eth(MAC_A, MAC_B)) is False           # no descriptor: overflow
    assert r.rd("isr") == INT_RXOVF and r.line.level and r.edges == 1
    r.wr("imr", 0)
    assert not r.line.level and r.rd("isr") == INT_RXOVF       # masked, still latched
    r.wr("imr", 0x1F)
    assert r.line.level and r.edges == 2
    r.nic.receive(eth(MAC_A, MAC_B))
    r.send(eth(MAC_B, MAC_A))                                   # no cable: TX done anyway
    assert r.rd("isr") == INT_RXOVF | INT_TX and r.edges == 2   # line already high
    r.wr("isr", INT_TX)                     # acknowledge one cause: a fresh edge for the rest
    assert r.rd("isr") == INT_RXOVF and r.line.level and r.edges == 3
    r.wr("isr", 0xFF)
    assert r.rd("isr") == 0 and not r.line.level


# -- rings running dry, bad descriptors, bad frames, the machine---------------------------------

def test_no_descriptor_drops_and_counts():
    r = Rig(NIC(mac=MAC_A)).start(give=2)
    frames = [eth(MAC_A, MAC_B, bytes([n]) * 30) for n in range(4)]
    assert [r.nic.receive(f) for f in frames] == [True, True, False, False]
    assert r.rd("missed") == 2 and r.nic.stats["rx_missed"] == 2
    assert r.rd("isr") == INT_RX | INT_RXOVF and r.rd("rx_head") == 2
    r.recycle()
    assert r.nic.receive(frames[3]) and r.rx_data(2) == frames[3]
    r.start(give=1, rx_buf=100)             # a big frame needs more room than one buffer
    assert not r.nic.receive(eth(MAC_A, MAC_B, bytes(200)))
    assert r.rd("rx_head") == 0 and r.desc("rx", 0)[2] == DESC_OWN


def test_bad_addresses_are_reported_not_raised():
    r = Rig(NIC(mac=MAC_A), mem_size=1 << 20).start(give=0)
    r.send(eth(MAC_B, MAC_A), addr=(1 << 20) - 4)              # buffer runs off the end
    assert r.desc("tx", 0)[2] == DESC_EOP | DESC_ERR and r.desc("tx", 0)[5] == ERR_ADDRESS
    assert r.nic.stats["tx_errors"] == 1 and r.rd("isr") & INT_TX
    r.put_rx(0, addr=(1 << 20) - 10)
    r.put_rx(1, addr=0xFFFFFFF0)
    r.rx_tail = 2
    r.wr("rx_tail", 2)
    before = bytes(r.mem.data)
    assert r.nic.receive(eth(MAC_A, MAC_B)) is False
    assert r.nic.receive(eth(MAC_A, MAC_B)) is False
    after, ring = bytes(r.mem.data), slice(r.RX_RING, r.RX_RING + 2 * DESC_SIZE)
    assert after.replace(after[ring], b"") == before.replace(before[ring], b"")  # only descs
    assert [r.desc("rx", i)[2::3] for i in (0, 1)] == [(DESC_EOP | DESC_ERR, ERR_ADDRESS)] * 2
    assert r.rd("isr") & INT_RX and r.rd("status") & STATUS_BUSERR == 0
    r.wr("rx_base", 0x7FFFFFF0)             # the descriptor ring itself is outside memory
    r.wr("rx_tail", 1)
    assert r.nic.receive(eth(MAC_A, MAC_B)) is False
    assert r.rd("status") & STATUS_BUSERR and r.rd("isr") & INT_ERR and r.line.level
    r.wr("tx_base", 1 << 20)
    r.send(eth(MAC_B, MAC_A))                                   # also halted, no raise
    r.wr("ctrl", CTRL_RESET)
    assert r.rd("status") == 0 and r.rd("isr") == 0 and not r.line.level


def test_bad_lengths_get_the_error_flag():
    r = Rig(NIC(mac=MAC_A)).start()
    for frame in (b"\x00" * 13, b"\x00" * 1515):
        [i] = r.send(frame)
        assert r.desc("tx", i)[2] == DESC_EOP | DESC_ERR
        assert r.desc("tx", i)[3:] == (0, len(frame), ERR_LENGTH)
    r.send(b"\x00" * 1000, b"\x00" * 515)                       # too long in two pieces
    assert r.desc("tx", 3)[5] == ERR_LENGTH and r.nic.stats["tx_errors"] == 3
    assert r.nic.receive(eth(MAC_A, MAC_B, bytes(1501))) is False   # 1515 from the wire
    assert r.nic.stats["rx_errors"] == 1 and r.rd("rx_head") == 0
    assert r.nic.receive(eth(MAC_A, MAC_B, bytes(1500)))             # 1514 is fine
    assert r.desc("rx", 0)[3] == 1514 and r.nic.receive(MAC_A + MAC_B + b"\x08\x00")


def test_mac_filtering_and_promiscuous_mode():
    r = Rig(NIC(mac=MAC_A)).start(rx_size=16)
    other, multi = bytes.fromhex("02cc00000003"), bytes.fromhex("01005e000001")
    got = lambda dst: r.nic.receive(eth(dst, MAC_B))           # noqa: E731
    assert [got(MAC_A), got(BCAST), got(other), got(multi)] == [True, True, False, False]
    assert r.nic.stats["rx_filtered"] == 2
    r.wr("ctrl", CTRL_RXEN | CTRL_ALLMULTI)
    assert [got(multi), got(other)] == [True, False]
    r.wr("ctrl", CTRL_RXEN | CTRL_PROMISC)
    assert [got(other), got(multi)] == [True, True]
    r.wr("ctrl", CTRL_RXEN)
    r.wr("mac", int.from_bytes(other, "little"))                # the filter follows MAC
    assert [got(other), got(MAC_A)] == [True, False]
    r.wr("ctrl", 0)
    assert not got(other) and r.nic.stats["rx_disabled"] == 1


def test_dma_into_real_physical_memory():
    with PhysicalMemory(1 << 20) as mem:
        r = Rig(NIC(mac=MAC_A), mem=mem).start()
        frame = eth(MAC_A, MAC_B, b"shared segment")
        assert r.nic.receive(frame) and mem.read(r.RX_BUF, len(frame)) == frame
        r.put_rx(1, addr=mem.size - 8)
        r.recycle()
        assert not r.nic.receive(frame) and r.desc("rx", 1)[5] == ERR_ADDRESS


def test_hot_plug_into_a_machine():
    m = Machine(mem_size=1 << 20, clock=VirtualClock())
    nic = NIC("net0", mac=MAC_A, link="bind:tcp://127.0.0.1:*")
    try:
        m.attach(nic)
        assert m.ports.inl(0x300) == NIC_ID and m.ports.inb(0x308) == MAC_A[0]
        assert {s for s, _ in m.poll_sources()} >= {nic.cable.sock, nic.cable.monitor}
        assert nic.describe()["mac"] == "02:aa:00:00:00:01"
        m.detach("net0")
        assert m.ports.inl(0x300) == 0xFFFFFFFF and nic.machine is None
        assert nic.receive(eth(MAC_A, MAC_B)) is False          # off the bus: dropped
        m.attach(nic)                                           # and back in, same cable
        assert m.ports.inl(0x300) == NIC_ID and nic.cable is not None
    finally:
        nic.close()
        m.close()
