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
This module is the card's registers, port I/O, interrupts, cable and lifecycle; the
descriptor layout and the DMA engines of its two rings live in `hw.nic_rings` (mixed
in, its constants re-exported here), the cable and the pcap tap in `hw.nic_cable`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .device import BadAccess, Device, IrqLine
from .nic_cable import Cable, PcapWriter, format_mac, parse_mac, random_mac
from .nic_rings import (CTRL_ALLMULTI, CTRL_PROMISC, CTRL_RESET, CTRL_RXEN, CTRL_TXEN, DESC,
                        DESC_EOP, DESC_ERR, DESC_OWN, DESC_SIZE, ERR_ADDRESS, ERR_LENGTH,
                        ERR_NOCARRIER, ERR_NONE, INT_ERR, INT_LINK, INT_RX, INT_RXOVF, INT_TX,
                        RingEngine)

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
STATUS_LINK, STATUS_BUSERR = 0x01, 0x02
_BYTE_REG = {off + i: name for name, (off, width) in REG.items() for i in range(width)}


class NIC(RingEngine, Device):
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

