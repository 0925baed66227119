"""A bus-master Ethernet card ("mkNIC") with descriptor rings in physical memory.

The NE2000 moves every byte through a data port; a bus master instead reads and writes
the frames itself, so the driver only fills 16-byte descriptors, rings a doorbell and
handles an interrupt. There is no period card small enough to model whole, so mkNIC is an
invented minimum in the spirit of the AMD LANCE (OWN bits, rings in host memory) and
Intel e1000 (head/tail doorbells): 32 ports, one IRQ, two rings, four interrupt causes and
a bus-error cause. The full register map is in docs/hardware.md (NIC).

Work is synchronous, as in QEMU's NE2000: the TX doorbell sends at once, and a frame from
the cable lands in the RX ring inside the owner's poll callback. A DMA address outside
physical memory is reported in the descriptor (or, for a descriptor itself, as a bus
error that halts the engines until reset); it never raises into the machine.
The cable and the pcap tap live in `hw.nic_cable`.
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Callable

from .device import BadAccess, Device, IrqLine
from .nic_cable import (BROADCAST, ETH_MAX, ETH_MIN, Cable, PcapWriter, format_mac,
                        parse_mac, random_mac)

if TYPE_CHECKING:
    from .machine import Machine

__all__ = [
    "NIC", "NIC_ID", "REG", "CTRL_RESET", "CTRL_RXEN", "CTRL_TXEN", "CTRL_PROMISC",
    "CTRL_ALLMULTI", "STATUS_LINK", "STATUS_BUSERR", "INT_RX", "INT_TX", "INT_RXOVF",
    "INT_LINK", "INT_ERR", "DESC_SIZE", "DESC_OWN", "DESC_ERR", "DESC_EOP",
    "ERR_NONE", "ERR_LENGTH", "ERR_ADDRESS", "ERR_NOCARRIER", "DESC",
]

NIC_ID = 0x014E4B4D          # bytes "MKN", version 1
# name -> (offset, width); every register is reachable by byte, word or dword access
REG = {
    "id": (0x00, 4), "ctrl": (0x04, 1), "status": (0x05, 1), "isr": (0x06, 1),
    "imr": (0x07, 1), "mac": (0x08, 6), "missed": (0x0E, 2),
    "tx_base": (0x10, 4), "tx_size": (0x14, 1), "tx_head": (0x15, 1), "tx_tail": (0x16, 1),
    "rx_base": (0x18, 4), "rx_size": (0x1C, 1), "rx_head": (0x1D, 1), "rx_tail": (0x1E, 1),
}
CTRL_RESET, CTRL_RXEN, CTRL_TXEN, CTRL_PROMISC, CTRL_ALLMULTI = 0x01, 0x02, 0x04, 0x08, 0x10
STATUS_LINK, STATUS_BUSERR = 0x01, 0x02
INT_RX, INT_TX, INT_RXOVF, INT_LINK, INT_ERR = 0x01, 0x02, 0x04, 0x08, 0x10
DESC_SIZE = 16
DESC_OWN, DESC_ERR, DESC_EOP = 0x8000, 0x4000, 0x0001
ERR_NONE, ERR_LENGTH, ERR_ADDRESS, ERR_NOCARRIER = 0, 1, 2, 3

# A descriptor: buffer address, length (driver's), flags, count, frame_len, error (device's);
# bytes 13..15 belong to the driver and are never written by the card.
DESC = struct.Struct("<IHHHHB3x")
_STATUS = struct.Struct("<HHB")       # count, frame_len, error (at descriptor + 8)
_BYTE_REG = {off + i: name for name, (off, width) in REG.items() for i in range(width)}


class _BusError(Exception):
    """A descriptor could not be read or written: the engines halt."""


class NIC(Device):
    """The mkNIC card: 32 ports at `base`, one IRQ, a ZeroMQ `link`, an optional `pcap`."""

    def __init__(self, name: str = "net0", base: int = 0x300, irq: int = 9,
                 mac: bytes | str | None = None, link: str | None = None,
                 pcap: str | None = None):
        super().__init__()
        self.name, self.base, self.irq = name, base, irq
        self.port_ranges = ((base, 32),)
        self.irqs = (irq,)
        self.factory_mac = parse_mac(mac) if mac is not None else random_mac()
        self.cable: Cable | None = None
        self.pcap: PcapWriter | None = None
        self.stats = dict.fromkeys(("tx_frames", "tx_dropped", "tx_errors", "rx_frames",
                                    "rx_missed", "rx_filtered", "rx_errors", "rx_disabled"), 0)
        self._reset()
        if pcap is not None:
            self.start_capture(pcap)
        if link is not None:
            self.connect_link(link)

    # -- registers --------------------------------------------------------------------

    def _reset(self) -> None:
        """Power-on state of every register; the cable and the counters in `stats` stay."""
        self.ctrl = self.isr = self.imr = self.missed = 0
        self.buserr = False
        self.mac = bytearray(self.factory_mac)
        self.tx_base = self.tx_size = self.tx_head = self.tx_tail = 0
        self.rx_base = self.rx_size = self.rx_head = self.rx_tail = 0
        self._update_irq()

    def _get(self, name: str) -> int:
        if name == "id":
            return NIC_ID
        if name == "status":
            return (STATUS_LINK if self.link_up else 0) | (STATUS_BUSERR if self.buserr else 0)
        if name == "mac":
            return int.from_bytes(self.mac, "little")
        return getattr(self, name)

    def _set(self, name: str, value: int) -> None:
        if name == "ctrl":
            if value & CTRL_RESET:
                self._reset()
                return
            self.ctrl = value & (CTRL_RXEN | CTRL_TXEN | CTRL_PROMISC | CTRL_ALLMULTI)
            self._tx_run()
        elif name == "isr":
            self.isr &= ~value
            self._update_irq(retrigger=True)
        elif name == "imr":
            self.imr = value & 0x1F
            self._update_irq(retrigger=True)
        elif name == "mac":
            self.mac = bytearray(value.to_bytes(6, "little"))
        elif name in ("tx_base", "tx_size", "rx_base", "rx_size"):
            setattr(self, name, value)
            ring = name[:2]                           # a new ring starts empty, at slot 0
            setattr(self, ring + "_head", 0)
            setattr(self, ring + "_tail", 0)
        elif name == "tx_tail":
            self.tx_tail = value % self.tx_size if self.tx_size else 0
            self._tx_run()
        elif name == "rx_tail":
            self.rx_tail = value % self.rx_size if self.rx_size else 0
        # id, status, missed, tx_head and rx_head are read-only

    def io_read(self, port: int, size: int) -> int:
        off, out = self._offset(port, size), 0
        for k, i in enumerate(range(off, off + size)):
            name = _BYTE_REG.get(i)                    # reserved bytes read as zero
            if name is not None:
                out |= (self._get(name) >> 8 * (i - REG[name][0]) & 0xFF) << 8 * k
        return out

    def io_write(self, port: int, size: int, value: int) -> None:
        off = self._offset(port, size)
        data = value.to_bytes(size, "little")
        merged: dict[str, int] = {}
        for i in range(off, off + size):
            name = _BYTE_REG.get(i)
            if name is None:
                continue
            roff, width = REG[name]
            cur = merged.get(name, 0 if name == "isr" else self._get(name))
            shift = 8 * (i - roff)
            merged[name] = cur & ~(0xFF << shift) & ((1 << 8 * width) - 1) | data[i - off] << shift
        for name in sorted(merged, key=lambda n: REG[n][0]):   # e.g. size before tail
            self._set(name, merged[name])

    def _offset(self, port: int, size: int) -> int:
        off = port - self.base
        if size not in (1, 2, 4) or not 0 <= off <= 32 - size:
            raise BadAccess(f"{self.name}: {size}-byte access at port {port:#x}")
        return off

    # -- interrupts -------------------------------------------------------------------

    def _raise(self, cause: int) -> None:
        self.isr |= cause
        self._update_irq()

    def _update_irq(self, retrigger: bool = False) -> None:
        """Line level = ISR & IMR != 0; an acknowledge that leaves causes gives a new edge."""
        line: IrqLine | None = self.irq_lines.get(self.irq)
        if line is None:
            return
        pending = bool(self.isr & self.imr)
        if retrigger and pending and line.level:
            line.lower()
        line.set(pending)

    # -- DMA ----------------------------------------------------------------------------

    def _mem_ok(self, addr: int, n: int) -> bool:
        size = getattr(self.machine.memory, "size", 1 << 32)
        return 0 <= addr and addr + n <= size

    def _dma_read(self, addr: int, n: int) -> bytes | None:
        """n bytes of physical memory, or None if any of them lies outside it."""
        try:
            data = bytes(self.machine.memory.read(addr, n)) if self._mem_ok(addr, n) else b""
        except (BadAccess, IndexError, ValueError, OverflowError):
            return None
        return data if len(data) == n else None

    def _dma_write(self, addr: int, data: bytes) -> bool:
        if not self._mem_ok(addr, len(data)):
            return False
        try:
            self.machine.memory.write(addr, data)
        except (BadAccess, IndexError, ValueError, OverflowError):
            return False
        return True

    def _desc(self, ring: str, index: int) -> tuple[int, ...]:
        raw = self._dma_read(getattr(self, ring + "_base") + DESC_SIZE * index, DESC_SIZE)
        if raw is None:
            raise _BusError(ring)
        return DESC.unpack(raw)

    def _complete(self, ring: str, index: int, flags: int, count: int, frame_len: int,
                  error: int) -> None:
        """Write back status, then flags with OWN clear (the driver polls OWN last)."""
        at = getattr(self, ring + "_base") + DESC_SIZE * index
        if error:
            flags |= DESC_ERR
        if not (self._dma_write(at + 8, _STATUS.pack(count, frame_len, error))
                and self._dma_write(at + 6, struct.pack("<H", flags & ~DESC_OWN & 0xFFFF))):
            raise _BusError(ring)

    def _bus_error(self) -> None:
        self.buserr = True
        self._raise(INT_ERR)

    # -- transmit -----------------------------------------------------------------------

    def _tx_run(self) -> None:
        """Send every complete frame between TX_HEAD and TX_TAIL whose descriptors we own."""
        if (self.machine is None or self.buserr or not self.ctrl & CTRL_TXEN
                or not self.tx_size):
            return
        done = False
        try:
            while self.tx_head != self.tx_tail:
                chain, i = [], self.tx_head
                while True:
                    if i == self.tx_tail:
                        return                        # frame not finished by the driver yet
                    d = self._desc("tx", i)
                    if not d[2] & DESC_OWN:
                        return                        # driver still owns it: wait
                    chain.append((i, d))
                    i = (i + 1) % self.tx_size
                    if d[2] & DESC_EOP:
                        break
                self._tx_frame(chain)
                self.tx_head, done = i, True
        except _BusError:
            self._bus_error()
        finally:
            if done:
                self._raise(INT_TX)

    def _tx_frame(self, chain: list[tuple[int, tuple[int, ...]]]) -> None:
        parts, error = [], ERR_NONE
        total = sum(d[1] for _, d in chain)
        if not ETH_MIN <= total <= ETH_MAX:
            error = ERR_LENGTH
        else:
            for _, d in chain:
                part = self._dma_read(d[0], d[1])
                if part is None:
                    error = ERR_ADDRESS
                    break
                parts.append(part)
        if error == ERR_NONE:
            frame = b"".join(parts)
            if self.pcap is not None:
                self.pcap.write(frame)
            if self.cable is not None and self.cable.send(frame):
                self.stats["tx_frames"] += 1
            else:
                self.stats["tx_dropped"] += 1
                error = ERR_NOCARRIER
        else:
            self.stats["tx_errors"] += 1
        for i, d in chain:
            self._complete("tx", i, d[2], d[1] if error in (ERR_NONE, ERR_NOCARRIER) else 0,
                           total, error)
        if self.cable is not None:
            # a send may take the cable socket's "frames arrived" signal (ZeroMQ's FD is
            # edge-like, and the owner may watch it): look for them now
            self.poll_link()

    # -- receive ------------------------------------------------------------------------

    def receive(self, frame: bytes) -> bool:
        """A frame arrives from the wire; True when it landed in the RX ring."""
        if not ETH_MIN <= len(frame) <= ETH_MAX:
            self.stats["rx_errors"] += 1
            return False
        if self.machine is None or self.buserr or not self.ctrl & CTRL_RXEN or not self.rx_size:
            self.stats["rx_disabled"] += 1
            return False
        if not self._accepts(frame[:6]):
            self.stats["rx_filtered"] += 1
            return False
        try:
            return self._rx_frame(frame)
        except _BusError:
            self._bus_error()
            return False

    def _accepts(self, dst: bytes) -> bool:
        if self.ctrl & CTRL_PROMISC or dst == self.mac or dst == BROADCAST:
            return True
        return bool(dst[0] & 1 and self.ctrl & CTRL_ALLMULTI)

    def _rx_frame(self, frame: bytes) -> bool:
        chain, room, i = [], 0, self.rx_head
        while room < len(frame):
            d = None if i == self.rx_tail else self._desc("rx", i)
            if d is None or not d[2] & DESC_OWN:
                self.missed = min(self.missed + 1, 0xFFFF)
                self.stats["rx_missed"] += 1
                self._raise(INT_RXOVF)
                return False
            chain.append((i, d))
            room += d[1]
            i = (i + 1) % self.rx_size
        error = ERR_NONE
        if not all(self._mem_ok(d[0], d[1]) for _, d in chain):
            error = ERR_ADDRESS
        pos = 0
        for n, (idx, d) in enumerate(chain):
            piece = frame[pos:pos + d[1]] if error == ERR_NONE else b""
            if piece and not self._dma_write(d[0], piece):
                error = ERR_ADDRESS
            pos += len(piece)
            last = n == len(chain) - 1
            self._complete("rx", idx, DESC_EOP if last else 0, len(piece), len(frame), error)
        self.rx_head = i
        self.stats["rx_frames" if error == ERR_NONE else "rx_errors"] += 1
        self._raise(INT_RX)
        return error == ERR_NONE

    # -- the cable and the tap ------------------------------------------------------------

    @property
    def link_up(self) -> bool:
        """Carrier: a cable is plugged in and its far end is there."""
        return self.cable is not None and self.cable.carrier

    @property
    def link_endpoint(self) -> str | None:
        return self.cable.endpoint if self.cable is not None else None

    def connect_link(self, spec: str) -> None:
        """Plug a cable in ("bind:ENDPOINT" or "connect:ENDPOINT"), replacing any other."""
        self.disconnect_link()
        self.cable = Cable(spec)

    def disconnect_link(self) -> None:
        """Pull the cable out; frames sent from now on are dropped and counted."""
        if self.cable is None:
            return
        was_up = self.link_up
        self.cable.close()
        self.cable = None
        if was_up:
            self._raise(INT_LINK)

    def poll_sources(self) -> list[tuple[Any, Callable[[], None]]]:
        """The cable's frame socket and its carrier monitor; empty with no cable."""
        if self.cable is None:
            return []
        return [(self.cable.sock, self.poll_link), (self.cable.monitor, self.poll_carrier)]

    def poll_link(self) -> int:
        """Take every frame waiting on the cable (never blocks); returns how many."""
        frames = self.cable.recv_ready() if self.cable is not None else []
        for frame in frames:
            if self.pcap is not None:
                self.pcap.write(frame)
            self.receive(frame)
        return len(frames)

    def poll_carrier(self) -> None:
        """Follow the far end coming and going; a change raises INT_LINK."""
        if self.cable is not None and self.cable.carrier_events():
            self._raise(INT_LINK)

    def start_capture(self, path: str) -> None:
        """Append every frame sent or received on the wire to a new pcap file at `path`."""
        self.stop_capture()
        self.pcap = PcapWriter(path)

    def stop_capture(self) -> None:
        if self.pcap is not None:
            self.pcap.close()
            self.pcap = None

    # -- lifecycle ------------------------------------------------------------------------

    def plugged(self, machine: "Machine", lines: dict[int, IrqLine]) -> None:
        super().plugged(machine, lines)
        self._update_irq()
        self._tx_run()                              # a doorbell rung while unplugged

    def close(self) -> None:
        self.disconnect_link()
        self.stop_capture()

    def describe(self) -> dict:
        d = super().describe()
        d.update(mac=format_mac(self.mac), link=self.cable.spec if self.cable else None,
                 carrier=self.link_up, pcap=self.pcap.path if self.pcap else None,
                 stats=dict(self.stats))
        return d

