"""A test rig for the mkNIC card: fake physical memory, a port bus, an IRQ line, a driver.

Shared by test_nic.py (the card) and test_nic_cable.py (the wire). `Rig` drives a card
through ports and descriptors exactly as a driver would; `pump` polls cards' sources as
the machine's owner would, always with a deadline.
"""
from __future__ import annotations

import struct
import time
from types import SimpleNamespace

import zmq

from hw.device import BadAccess, IrqLine
from hw.nic import CTRL_RXEN, CTRL_TXEN, DESC, DESC_EOP, DESC_OWN, DESC_SIZE, NIC, REG
from hw.ports import PortBus

__all__ = ["MAC_A", "MAC_B", "BCAST", "eth", "FakeMemory", "Rig", "pump"]

MAC_A, MAC_B = bytes.fromhex("02aa00000001"), bytes.fromhex("02bb00000002")
BCAST = b"\xff" * 6


def eth(dst: bytes, src: bytes, payload: bytes = b"hello", ethertype: int = 0x88B5) -> bytes:
    return dst + src + struct.pack(">H", ethertype) + payload


class FakeMemory:
    """Physical memory stand-in: a bytearray that refuses accesses past its end."""

    def __init__(self, size: int = 1 << 20):
        self.size, self.data = size, bytearray(size)

    def read(self, paddr: int, n: int) -> bytes:
        if paddr < 0 or paddr + n > self.size:
            raise BadAccess("outside memory")
        return bytes(self.data[paddr:paddr + n])

    def write(self, paddr: int, data: bytes) -> None:
        if paddr < 0 or paddr + len(data) > self.size:
            raise BadAccess("outside memory")
        self.data[paddr:paddr + len(data)] = data


class Rig:
    """One card plugged into a fake machine and driven through ports like a driver."""

    TX_RING, RX_RING, TX_BUF, RX_BUF = 0x1000, 0x2000, 0x10000, 0x40000

    def __init__(self, nic: NIC, mem_size: int = 1 << 20, mem=None):
        self.nic, self.mem, self.levels = nic, mem or FakeMemory(mem_size), []
        self.bus = PortBus()
        self.bus.register(nic, *nic.port_ranges[0])
        self.line = IrqLine(nic.irq, lambda irq, level: self.levels.append(level))
        nic.plugged(SimpleNamespace(memory=self.mem), {nic.irq: self.line})
        self.tx_tail = self.rx_tail = 0

    def rd(self, name: str) -> int:
        off, width = REG[name]
        return self.bus.read(self.nic.base + off, min(width, 4))

    def wr(self, name: str, value: int) -> None:
        off, width = REG[name]
        if width == 6:                      # the MAC: a dword and a word
            self.bus.outl(self.nic.base + off, value & 0xFFFFFFFF)
            self.bus.outw(self.nic.base + off + 4, value >> 32)
        else:
            self.bus.write(self.nic.base + off, width, value)

    def start(self, tx_size=8, rx_size=8, rx_buf=2048, give=None, ctrl=CTRL_RXEN | CTRL_TXEN):
        self.tx_size, self.rx_size, self.rx_buf, self.tx_tail = tx_size, rx_size, rx_buf, 0
        self.wr("tx_base", self.TX_RING)
        self.wr("tx_size", tx_size)
        self.wr("rx_base", self.RX_RING)
        self.wr("rx_size", rx_size)
        give = rx_size - 1 if give is None else give
        for i in range(give):
            self.put_rx(i)
        self.rx_tail = give % rx_size
        self.wr("rx_tail", self.rx_tail)
        self.wr("imr", 0x1F)
        self.wr("ctrl", ctrl)
        return self

    def put_rx(self, i: int, addr: int | None = None) -> None:
        addr = self.RX_BUF + i * self.rx_buf if addr is None else addr
        self.mem.write(self.RX_RING + i * DESC_SIZE, DESC.pack(addr, self.rx_buf, DESC_OWN,
                                                               0, 0, 0))

    def recycle(self) -> None:
        """Give the next consumed RX descriptor back to the card."""
        self.put_rx(self.rx_tail)
        self.rx_tail = (self.rx_tail + 1) % self.rx_size
        self.wr("rx_tail", self.rx_tail)

    def send(self, *pieces: bytes, addr: int | None = None) -> list[int]:
        """Queue one frame split over len(pieces) descriptors, then ring the doorbell."""
        used = []
        for k, piece in enumerate(pieces):
            i = self.tx_tail
            buf = self.TX_BUF + i * 0x800 if addr is None else addr
            if addr is None:
                self.mem.write(buf, piece)
            flags = DESC_OWN | (DESC_EOP if k == len(pieces) - 1 else 0)
            self.mem.write(self.TX_RING + i * DESC_SIZE, DESC.pack(buf, len(piece), flags,
                                                                   0, 0, 0))
            used.append(i)
            self.tx_tail = (i + 1) % self.tx_size
        self.wr("tx_tail", self.tx_tail)
        return used

    def desc(self, ring: str, i: int) -> tuple[int, ...]:
        base = self.TX_RING if ring == "tx" else self.RX_RING
        return DESC.unpack(self.mem.read(base + i * DESC_SIZE, DESC_SIZE))

    def rx_data(self, i: int) -> bytes:
        addr, _, _, count, _, _ = self.desc("rx", i)
        return self.mem.read(addr, count)

    @property
    def edges(self) -> int:
        return sum(1 for a, b in zip([False] + self.levels, self.levels) if b and not a)


def pump(nics, cond, timeout: float = 5.0) -> None:
    """Poll the cards' sources as a machine owner would, until cond() or the deadline."""
    deadline = time.monotonic() + timeout
    while not cond():
        left = deadline - time.monotonic()
        assert left > 0, "timed out waiting on the cable"
        poller, callbacks = zmq.Poller(), {}
        for nic in nics:
            for sock, cb in nic.poll_sources():
                poller.register(sock, zmq.POLLIN)
                callbacks[sock] = cb
        for sock, _ in poller.poll(int(min(left, 0.1) * 1000) + 1):
            callbacks[sock]()
