"""An ATA (IDE) hard disk on the primary channel, PIO only, backed by a raw image file.

The task file at 0x1F0-0x1F7 and the control block at 0x3F6, one master drive (the
slave is absent and reads 0, which is how xv6 probes), LBA28 and CHS addressing. The
commands a 486-era driver uses: IDENTIFY DEVICE, READ/WRITE SECTORS (and the no-retry
and MULTIPLE variants), SET MULTIPLE MODE, FLUSH CACHE, READ VERIFY, EXECUTE DEVICE
DIAGNOSTIC, and as accepted no-ops SET FEATURES, INITIALIZE DEVICE PARAMETERS,
RECALIBRATE and SEEK. Anything else aborts (ERR + ABRT), an address past the end of the
image fails before any data moves (ERR + IDNF), so nothing outside the image is touched.

The protocol is ATA-1's as drivers see it (reference §5.3): data-in raises IRQ14 as each
block is ready; data-out asks for the first block at once (no interrupt) and interrupts
after each block is written; reading the status register acknowledges the interrupt,
the alternate status does not, nIEN masks the line, SRST resets without an interrupt.
Work completes at once unless `latency` (seconds per step) is set, in which case BSY is
visible until `machine.clock` fires. Written sectors go straight to the file (pwrite);
FLUSH CACHE and close() fsync it.
"""
from __future__ import annotations

import errno
import os
from typing import Callable

from .device import Device

__all__ = ["ATADisk", "SECTOR", "LBA28_MAX"]

SECTOR = 512
LBA28_MAX = 0x0FFFFFFF          # IDENTIFY words 60-61 cap (Seagate ATA manual)
MAX_MULTIPLE = 128              # sectors per block for READ/WRITE MULTIPLE (word 47)
MULTIPLE_SIZES = (0, 1, 2, 4, 8, 16, 32, 64, 128)   # SET MULTIPLE MODE accepts these (0 = off)
HEADS, SPT = 16, 63             # default translated geometry, as QEMU guesses it

# Status, error, device control and drive/head bits (reference §5.1).
BSY, DRDY, DF, DSC, DRQ, ERR = 0x80, 0x40, 0x20, 0x10, 0x08, 0x01
UNC, IDNF, ABRT = 0x40, 0x10, 0x04
NIEN, SRST = 0x02, 0x04
LBA_MODE, DRV1 = 0x40, 0x10
READY = DRDY | DSC

# Register offsets in the command block; writes to 1..5 land in these attributes.
DATA, ERROR, NSECTOR, SECT, LCYL, HCYL, SELECT, STATUS = range(8)
_TASK_FILE = {ERROR: "features", NSECTOR: "nsector", SECT: "sect", LCYL: "lcyl", HCYL: "hcyl"}

# READ/WRITE SECTORS (with and without retries) and MULTIPLE: direction, sectors per
# block (0 = the SET MULTIPLE MODE setting).
CMD_RW = {0x20: ("in", 1), 0x21: ("in", 1), 0xC4: ("in", 0),
          0x30: ("out", 1), 0x31: ("out", 1), 0xC5: ("out", 0)}
CMD_VERIFY, CMD_SET_MULTIPLE, CMD_DIAGNOSE, CMD_INIT_PARAMS = (0x40, 0x41), 0xC6, 0x90, 0x91
CMD_FLUSH, CMD_IDENTIFY, CMD_SET_FEATURES = 0xE7, 0xEC, 0xEF
NO_OPS = {CMD_SET_FEATURES, *range(0x10, 0x20), *range(0x70, 0x80)}   # recalibrate, seek


class ATADisk(Device):
    """The master drive of an ATA channel; `latency` > 0 makes BSY last that long per
    step, and `rate` > 0 adds the time the step's bytes take at that many bytes/s."""

    model = "MK ATA DISK"
    firmware = "0.1"

    def __init__(self, path: str | os.PathLike, name: str = "ata0", base: int = 0x1F0,
                 ctrl: int = 0x3F6, irq: int = 14, latency: float = 0.0,
                 rate: float = 0.0):
        super().__init__()
        self.path = os.fspath(path)
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "ATA disk image not found", self.path) from None
        size = os.fstat(fd).st_size
        if size <= 0 or size % SECTOR:
            os.close(fd)
            raise ValueError(f"ATA disk image {self.path!r}: size {size} is not a positive "
                             f"multiple of {SECTOR} bytes")
        self._fd: int | None = fd
        self.sectors = size // SECTOR
        self.name, self.base, self.ctrl, self.irq = name, base, ctrl, irq
        self.port_ranges = ((base, 8), (ctrl, 1))
        self.irqs = (irq,)
        self.latency = latency
        self.rate = rate                           # bytes/s over the interface; 0 = instant
        self.cylinders = max(1, min(16383, self.sectors // (HEADS * SPT)))
        self.heads, self.spt = HEADS, SPT          # current CHS translation (0x91 sets it)
        self.multiple = self.control = 0           # SET MULTIPLE MODE block (0 = off), 0x3F6
        self._reset()

    def _reset(self) -> None:
        """Power-on / SRST state: ATA signature in the task file, ready, no interrupt."""
        self._abort()
        self._signature()
        self.features, self.select, self.status, self._pending = 0, 0xA0, READY, False
        self._update_line()

    def _signature(self) -> None:
        """Diagnostic code 1 (no error) and the ATA device signature."""
        self.error, self.nsector, self.sect, self.lcyl, self.hcyl = 0x01, 1, 1, 0, 0

    def _abort(self) -> None:
        self.cancel_timer()
        self._xfer: str | None = None              # "in", "out" or None
        self._buf = bytearray()
        self._pos = self._lba = self._left = self._n = self._per = 0

    # -- lifecycle ----------------------------------------------------------------------

    def unplugged(self) -> None:
        """An unplug mid-command loses that command; the drive comes back ready."""
        self._abort()
        self.status, self._pending = READY, False
        super().unplugged()

    def close(self) -> None:
        """fsync and close the image; later commands abort."""
        self._abort()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def describe(self) -> dict:
        return {**super().describe(), "image": self.path, "sectors": self.sectors}

    # -- port I/O -----------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        """16-bit data port (32-bit reads take two words); other registers are 8-bit."""
        if port == self.base:
            return int.from_bytes(self._data_in(2 if size == 4 else 1), "little")
        value = 0
        for i in range(size):                      # bus sizing: byte cycles on port+i
            value |= self._reg_read(port + i) << (8 * i)
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        if port == self.base:
            self._data_out(value.to_bytes(4 if size == 4 else 2, "little"))
            return
        for i in range(size):
            self._reg_write(port + i, value >> (8 * i) & 0xFF)

    def io_read_string(self, port: int, count: int) -> bytes:
        """`rep insw` on the data port: `count` words, crossing block boundaries."""
        if port == self.base:
            return self._data_in(count)
        return b"".join(self.io_read(port, 2).to_bytes(2, "little") for _ in range(count))

    def io_write_string(self, port: int, data: bytes) -> None:
        if port == self.base:
            self._data_out(data)
            return
        for i in range(0, len(data), 2):
            self.io_write(port, 2, int.from_bytes(data[i:i + 2], "little"))

    def _present(self) -> bool:
        return not self.select & DRV1

    def _reg_read(self, port: int) -> int:
        off = port - self.base
        if port != self.ctrl and not 0 < off < 8:
            return 0xFF                            # nobody drives the byte: floating
        if off == SELECT:
            return self.select
        if not self._present():
            return 0                               # absent slave: status 0 (xv6's probe)
        if port == self.ctrl:
            return self.status                     # alternate status: no acknowledge
        if off == STATUS:
            self._pending = False                  # the status read acknowledges INTRQ
            self._update_line()
            return self.status
        return (0, self.error, self.nsector, self.sect, self.lcyl, self.hcyl)[off]

    def _reg_write(self, port: int, v: int) -> None:
        if port == self.ctrl:
            self._write_control(v)
            return
        off = port - self.base
        if not 0 < off < 8 or self.status & BSY:   # the task file is locked while BSY
            return
        if off == STATUS:
            self._command(v)
        elif off == SELECT:
            self.select = v | 0xA0                 # bits 7 and 5 are obsolete ones
        else:
            setattr(self, _TASK_FILE[off], v)

    def _write_control(self, v: int) -> None:
        old, self.control = self.control, v
        if v & SRST and not old & SRST:            # reset asserted: abort, BSY
            self._abort()
            self.status, self._pending = BSY, False
        elif old & SRST and not v & SRST:          # released: done, no interrupt
            self._reset()
        self._update_line()

    def _update_line(self) -> None:
        line = self.irq_lines.get(self.irq)
        if line is not None:
            line.set(self._pending and not self.control & NIEN)

    def _interrupt(self) -> None:
        self._pending = True
        self._update_line()

    def _after(self, fn: Callable[[], None], nbytes: int = 0) -> None:
        """Run the next step now, or with BSY set for `latency` plus the time `nbytes`
        take at `rate` (PIO mode 4 moves 16.6 MB/s)."""
        delay = self.latency + (nbytes / self.rate if self.rate > 0 and nbytes else 0.0)
        if delay <= 0 or self.machine is None:
            fn()
            return
        self.status = (self.status | BSY) & ~DRQ

        def fire() -> None:
            self._timer = None
            self.status &= ~BSY
            fn()
        self._timer = self.machine.clock.call_later(delay, fire)

    # -- data port ----------------------------------------------------------------------

    def _data_in(self, words: int) -> bytes:
        """Words from the sector buffer; without DRQ the bus floats (0xFFFF words)."""
        want, out = 2 * words, bytearray()
        while len(out) < want and self._xfer == "in" and self.status & DRQ:
            take = min(want - len(out), len(self._buf) - self._pos)
            out += self._buf[self._pos:self._pos + take]
            self._pos += take
            if self._pos >= len(self._buf):
                self._block_read()
        return bytes(out) + b"\xff" * (want - len(out))

    def _data_out(self, data: bytes) -> None:
        """Words into the sector buffer; outside DRQ they are ignored."""
        pos = 0
        while pos < len(data) and self._xfer == "out" and self.status & DRQ:
            take = min(len(data) - pos, len(self._buf) - self._pos)
            self._buf[self._pos:self._pos + take] = data[pos:pos + take]
            self._pos += take
            pos += take
            if self._pos >= len(self._buf):
                self.status &= ~DRQ
                self._after(self._commit_block, len(self._buf))

    def _block_read(self) -> None:
        self._lba, self._left = self._lba + self._n, self._left - self._n
        self.status &= ~DRQ
        if self._left:
            self._after(self._fill_block, min(self._per, self._left) * SECTOR)
        else:
            self._xfer = None                      # last block: no extra interrupt

    def _fill_block(self) -> None:
        self._n = min(self._per, self._left)
        try:
            data = os.pread(self._image(), self._n * SECTOR, self._lba * SECTOR)
        except OSError:
            data = b""
        if len(data) != self._n * SECTOR:          # image vanished or shrank under us
            self._fail(UNC)
        else:
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        self._buf, self._pos = bytearray(data), 0
        self.status = READY | DRQ
        self._interrupt()

    def _want_block(self) -> None:
        self._n = min(self._per, self._left)
        self._buf, self._pos = bytearray(self._n * SECTOR), 0
        self.status = READY | DRQ

    def _commit_block(self) -> None:
        try:
            os.pwrite(self._image(), self._buf, self._lba * SECTOR)
        except OSError:
            return self._fail(ABRT, DF)            # write fault
        self._lba, self._left = self._lba + self._n, self._left - self._n
        if self._left:
            self._want_block()
        else:
            self._xfer = None
            self.status = READY
        self._interrupt()

    def _image(self) -> int:
        if self._fd is None:
            raise OSError(errno.EBADF, "disk image closed", self.path)
        return self._fd

    # -- commands -----------------------------------------------------------------------

    def _command(self, cmd: int) -> None:
        if not self._present() or self.status & (BSY | DRQ):
            return                 # absent drive, or busy: ignored (as QEMU ide_exec_cmd)
        self._abort()
        self.error, self.status, self._pending = 0, READY, False
        self._update_line()
        if cmd == CMD_IDENTIFY:
            self._xfer, self._left, self._n = "in", 1, 1
            self._after(lambda: self._deliver(self.identify()))
        elif cmd in CMD_RW:
            self._start(*CMD_RW[cmd])
        elif cmd in CMD_VERIFY:
            if self._target() is not None:
                self._after(self._done)
        elif cmd == CMD_SET_MULTIPLE and self.nsector in MULTIPLE_SIZES:
            self.multiple = self.nsector
            self._after(self._done)
        elif cmd == CMD_FLUSH:
            self._after(self._flush)
        elif cmd == CMD_DIAGNOSE:
            self._signature()
            self._after(self._done)
        elif cmd == CMD_INIT_PARAMS:
            self.heads, self.spt = (self.select & 0x0F) + 1, self.nsector
            self._after(self._done)
        elif cmd in NO_OPS:
            self._after(self._done)
        else:
            self._fail(ABRT)

    def _start(self, direction: str, per: int) -> None:
        per = per or self.multiple
        if not per:                # READ/WRITE MULTIPLE before SET MULTIPLE MODE
            self._fail(ABRT)
            return
        if (target := self._target()) is None:
            return
        self._xfer, (self._lba, self._left), self._per = direction, target, per
        if direction == "in":
            self._after(self._fill_block, min(per, self._left) * SECTOR)
        else:
            self._want_block()     # DRQ at once, no interrupt before the first block

    def _target(self) -> tuple[int, int] | None:
        """(first LBA, sector count) of the task file, or None after failing IDNF."""
        count = self.nsector or 256
        if self.select & LBA_MODE:
            lba = (self.select & 0x0F) << 24 | self.hcyl << 16 | self.lcyl << 8 | self.sect
        else:
            head, cyl = self.select & 0x0F, self.hcyl << 8 | self.lcyl
            if not 0 < self.sect <= self.spt or head >= self.heads:
                lba = self.sectors               # no such CHS address
            else:
                lba = (cyl * self.heads + head) * self.spt + self.sect - 1
        if lba + count > self.sectors:
            self._fail(IDNF)
            return None
        return lba, count

    def _flush(self) -> None:
        try:
            os.fsync(self._image())
        except OSError:
            return self._fail(ABRT, DF)
        self._done()

    def _done(self) -> None:
        self.status = READY
        self._interrupt()

    def _fail(self, error: int, extra: int = 0) -> None:
        self._abort()
        self.error, self.status = error, READY | ERR | extra
        self._interrupt()

    def identify(self) -> bytes:
        """The 512-byte IDENTIFY DEVICE block (reference §5.4, QEMU's ide_identify)."""
        w = [0] * 256
        lba28 = min(self.sectors, LBA28_MAX)
        chs = self.cylinders * self.heads * self.spt
        w[0] = 0x0040                              # fixed disk
        w[1], w[3], w[6] = self.cylinders, HEADS, SPT
        w[10:20] = _ata_string(f"MK{self.name.upper()}", 10)
        w[23:27] = _ata_string(self.firmware, 4)
        w[27:47] = _ata_string(self.model, 20)
        w[47] = 0x8000 | MAX_MULTIPLE
        w[48] = 1                                  # 32-bit data transfers
        w[49] = 1 << 9                             # LBA supported (no DMA)
        w[53] = 1                                  # words 54-58 valid
        w[54], w[55], w[56] = self.cylinders, self.heads, self.spt
        w[57], w[58] = chs & 0xFFFF, chs >> 16 & 0xFFFF
        w[59] = 0x100 | self.multiple if self.multiple else 0
        w[60], w[61] = lba28 & 0xFFFF, lba28 >> 16
        w[80] = 0x001E                             # ATA-1 .. ATA-4
        w[83] = 0x4000 | 1 << 12                   # FLUSH CACHE supported
        w[86] = 1 << 12                            # ... and enabled
        return b"".join(x.to_bytes(2, "little") for x in w)


def _ata_string(text: str, words: int) -> list[int]:
    """ATA strings put the first character in each word's high byte (space padded)."""
    raw = text.encode("ascii")[:2 * words].ljust(2 * words, b" ")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]
