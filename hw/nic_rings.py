"""mkNIC's bus-master side: the descriptor layout and the engines that walk the TX and
RX rings in physical memory by DMA.

`RingEngine` is mixed into the card (hw/nic.py, which keeps the registers, port I/O,
interrupts and the cable). It reads the card's registers as attributes (`ctrl`,
`tx_base`, `tx_size`, `tx_head`, `tx_tail`, the same for rx, `mac`, `missed`, `buserr`)
and calls back the card's `_raise(cause)`, its `cable`, `pcap`, `poll_link` and `stats`.
A TX doorbell sends every complete frame the driver gave the card; a frame from the wire
(`receive`) lands in the RX ring. A DMA address outside physical memory is reported in
the descriptor; a descriptor that cannot be read or written is a bus error, which halts
both engines until reset. The bits below are the card's (docs/hardware.md, NIC).
"""
from __future__ import annotations

import struct

from .device import BadAccess
from .nic_cable import BROADCAST, ETH_MAX, ETH_MIN

__all__ = [
    "RingEngine", "CTRL_RESET", "CTRL_RXEN", "CTRL_TXEN", "CTRL_PROMISC", "CTRL_ALLMULTI",
    "INT_RX", "INT_TX", "INT_RXOVF", "INT_LINK", "INT_ERR", "DESC_SIZE", "DESC_OWN",
    "DESC_ERR", "DESC_EOP", "ERR_NONE", "ERR_LENGTH", "ERR_ADDRESS", "ERR_NOCARRIER", "DESC",
]

CTRL_RESET, CTRL_RXEN, CTRL_TXEN, CTRL_PROMISC, CTRL_ALLMULTI = 0x01, 0x02, 0x04, 0x08, 0x10
INT_RX, INT_TX, INT_RXOVF, INT_LINK, INT_ERR = 0x01, 0x02, 0x04, 0x08, 0x10
DESC_SIZE = 16
DESC_OWN, DESC_ERR, DESC_EOP = 0x8000, 0x4000, 0x0001
ERR_NONE, ERR_LENGTH, ERR_ADDRESS, ERR_NOCARRIER = 0, 1, 2, 3

# A descriptor: buffer address, length (driver's), flags, count, frame_len, error (device's);
# bytes 13..15 belong to the driver and are never written by the card.
DESC = struct.Struct("<IHHHHB3x")
_STATUS = struct.Struct("<HHB")       # count, frame_len, error (at descriptor + 8)


class _BusError(Exception):
    """A descriptor could not be read or written: the engines halt."""


class RingEngine:
    """The card's DMA and its TX and RX rings (mixed into hw.nic.NIC)."""

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
            # no carrier, no frame: even while ZeroMQ still holds the pipe of a far end
            # whose going its monitor has already reported
            if self.link_up and self.cable.send(frame):
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
