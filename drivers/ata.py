"""The ATA PIO disk driver (ata0): the block protocol over the primary channel.

One task, one thread, one request at a time (the channel does one command at a time).
At start it resets the drive (SRST: a driver restarted in the middle of a transfer
finds the drive ready again), reads IDENTIFY DEVICE for the LBA28 capacity (words
60-61) and the largest READ/WRITE MULTIPLE block (word 47), and sets the largest
power-of-two block size the drive accepts.

Why this shape:
- A DRQ block costs the interrupt and one PORT_BATCH trap (status read + `rep insw` or
  `rep outsw` of the whole block); if the status says the drive was not ready, the
  words moved nothing (the bus floats / the drive ignores them) and the block is done
  again after waiting.
- Transfers use READ/WRITE MULTIPLE when the drive offers it (up to 128 sectors per
  DRQ block), else READ/WRITE SECTORS (one per block). Every port access is a round trip to
  the kernel, so the cost that matters is accesses per sector: a block costs one status
  read and one `rep insw`/`rep outsw` of the whole block, and a command is issued with
  two accesses (a 32-bit write to 0x1F2-0x1F5 and a 16-bit one to 0x1F6-0x1F7, which the
  8-bit task file takes as byte cycles on consecutive ports, ISA bus sizing).
- Waiting follows the datasheet: read the status register (which acknowledges INTRQ);
  while BSY, wait for IRQ14 by a closed receive from irq_id(14) with a timeout, then read
  status again. A drive that answers at once (no latency) is never waited for; an
  interrupt that was already acknowledged by a status read only costs one more read.
- ERR or DF in the status gives EIO (and a reset, so the drive is never left in the
  middle of a command); a range past the capacity is ERANGE before anything moves;
  anything malformed is EINVAL, and the driver goes on serving.

The protocol (operations, layouts, errors) is protocols/block.py; requests reach the
handlers at the end of `Ata` through Dispatch, and a failure is an OSError whose errno
is the reply's.
"""
from __future__ import annotations

import errno
import time

from microkernel.abi import IpcCode, IpcError, irq_id
from protocols.block import BLOCK, MAX_COUNT, SECTOR
from protocols.server import Dispatch, serve

from .driver import start

__all__ = ["main", "Ata", "MAX_COUNT"]

DATA, ERROR, NSECTOR, STATUS, SELECT = 0, 1, 2, 7, 6     # offsets from 0x1F0
BSY, DRDY, DF, DRQ, ERR = 0x80, 0x40, 0x20, 0x08, 0x01
NIEN, SRST = 0x02, 0x04
LBA_MASTER = 0xE0                # drive/head: LBA mode, master (bits 7 and 5 set)
CMD_READ, CMD_WRITE = 0x20, 0x30
CMD_READ_MULTIPLE, CMD_WRITE_MULTIPLE, CMD_SET_MULTIPLE = 0xC4, 0xC5, 0xC6
CMD_FLUSH, CMD_IDENTIFY = 0xE7, 0xEC
WORDS = SECTOR // 2
TIMEOUT = 5.0                    # seconds a command may take before it is EIO


class Ata:
    """The master drive of one channel, driven by port I/O and its IRQ."""

    def __init__(self, rt, base: int = 0x1F0, ctrl: int = 0x3F6, irq: int = 14,
                 multiple: bool = True):
        self.rt, self.base, self.ctrl = rt, base, ctrl
        self.irq = irq_id(irq) if irq is not None else None
        self.sectors = 0
        self.per = 1                         # sectors per DRQ block
        self.want_multiple = multiple
        self.model = ""
        self.errors = 0

    # -- the drive ----------------------------------------------------------------

    def reset(self) -> None:
        """Software reset (SRST), then interrupts on (nIEN clear); waits for not BSY."""
        self.rt.outb(self.ctrl, SRST | NIEN)
        self.rt.outb(self.ctrl, 0)
        self.wait()

    def setup(self) -> None:
        """Reset, IDENTIFY DEVICE, and the largest READ/WRITE MULTIPLE block offered."""
        self.reset()
        self.issue(CMD_IDENTIFY, 0, 0)
        st = self.wait()
        if st & (ERR | DF) or not st & DRQ:
            raise OSError(errno.EIO, f"IDENTIFY failed (status {st:#x})")
        ident = self.rt.insw(self.base + DATA, WORDS)
        w = [int.from_bytes(ident[i:i + 2], "little") for i in range(0, SECTOR, 2)]
        if not w[49] & (1 << 9):
            raise OSError(errno.EIO, "drive has no LBA")
        self.sectors = w[60] | w[61] << 16
        self.model = bytes(b for x in w[27:47] for b in (x >> 8, x & 0xFF)).decode(
            "ascii", "replace").strip()
        self.per, most = 1, w[47] & 0xFF if w[47] >> 8 == 0x80 else 0
        size = 1 << (most.bit_length() - 1) if most > 1 and self.want_multiple else 0
        while size > 1:                 # the largest power of two the drive takes
            self.issue(CMD_SET_MULTIPLE, 0, size)
            if not self.wait() & (ERR | DF):
                self.per = size
                break
            size //= 2

    def issue(self, cmd: int, lba: int, count: int) -> None:
        """Write the task file and the command: two port accesses (bus sizing)."""
        b = self.base
        self.rt.port_batch(("outl", b + NSECTOR, (count & 0xFF) | (lba & 0xFFFFFF) << 8),
                           ("outw", b + SELECT, (LBA_MASTER | lba >> 24 & 0x0F) | cmd << 8))

    def wait(self, timeout: float = TIMEOUT, irq_first: bool = False) -> int:
        """Status once the drive is not BSY; between reads, wait for IRQ14. With
        `irq_first` (a data block or a completion is due, which always interrupts) the
        interrupt is awaited before the first status read, saving that port access."""
        deadline = None
        if irq_first and self.irq is not None:
            try:
                self.rt.receive(self.irq, timeout=timeout)
            except IpcError as e:
                if e.code != IpcCode.TIMEOUT:
                    raise
        while True:
            st = self.rt.inb(self.base + STATUS)       # also acknowledges INTRQ
            if st == 0xFF:
                raise self.failed("no drive (the bus floats)")
            if not st & BSY:
                return st
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                break
            try:
                if self.irq is not None:
                    self.rt.receive(self.irq, timeout=min(deadline - now, 0.5))
                else:
                    self.rt.sleep(0.001)
            except IpcError as e:
                if e.code != IpcCode.TIMEOUT:
                    raise
        self.reset_quietly()
        raise self.failed(f"drive busy for {timeout}s")

    def await_irq(self, timeout: float = TIMEOUT) -> None:
        """Wait for IRQ14 (a data block or a completion is due); a timeout is left to
        the status read that follows to judge."""
        if self.irq is not None:
            try:
                self.rt.receive(self.irq, timeout=timeout)
            except IpcError as e:
                if e.code != IpcCode.TIMEOUT:
                    raise

    def check(self, st: int, what: str, drq: bool) -> None:
        """EIO (after a reset) unless the status is clean and DRQ is as expected."""
        if st & (ERR | DF) or bool(st & DRQ) != drq:
            err = self.rt.inb(self.base + ERROR)
            self.errors += 1
            self.reset_quietly()
            raise self.failed(f"{what}: status {st:#x} error {err:#x}")

    def failed(self, text: str) -> OSError:
        """The EIO of a drive that failed, logged (the client sees only the errno)."""
        print(f"ata: {text}", flush=True)
        return OSError(errno.EIO, text)

    def reset_quietly(self) -> None:
        try:
            self.rt.outb(self.ctrl, SRST | NIEN)
            self.rt.outb(self.ctrl, 0)
        except Exception:                              # the caller reports EIO anyway
            pass

    def read_sectors(self, lba: int, count: int) -> bytes:
        """`count` sectors from `lba`, one status read and one insw per DRQ block."""
        self.in_range(lba, count)
        multi = self.per > 1
        self.issue(CMD_READ_MULTIPLE if multi else CMD_READ, lba, count)
        parts, left, port = [], count, self.base + DATA
        while left:
            n = min(self.per, left)
            self.await_irq()
            st, data = self.rt.port_batch(("inb", self.base + STATUS), ("insw", port, n * WORDS))
            if st & BSY or not st & DRQ:      # not ready: that insw moved nothing (floats)
                self.check(self.wait(), f"read at {lba + count - left}", drq=True)
                data = self.rt.insw(port, n * WORDS)
            else:
                self.check(st, f"read at {lba + count - left}", drq=True)
            parts.append(data)
            left -= n
        return b"".join(parts)

    def write_sectors(self, lba: int, data: bytes) -> None:
        """Sectors from `lba`: a block per DRQ, then the completion status."""
        count = len(data) // SECTOR
        self.in_range(lba, count)
        multi = self.per > 1
        self.issue(CMD_WRITE_MULTIPLE if multi else CMD_WRITE, lba, count)
        done, port, view = 0, self.base + DATA, memoryview(data)
        while done < count:                  # the first block is wanted at once (no IRQ)
            n = min(self.per, count - done)
            block = view[done * SECTOR:(done + n) * SECTOR]
            if done:
                self.await_irq()
            st, _ = self.rt.port_batch(("inb", self.base + STATUS), ("outsw", port, block))
            if st & BSY or not st & DRQ:      # not ready: the drive ignored those words
                self.check(self.wait(), f"write at {lba + done}", drq=True)
                self.rt.outsw(port, block)
            else:
                self.check(st, f"write at {lba + done}", drq=True)
            done += n
        self.check(self.wait(irq_first=True), f"write at {lba}", drq=False)

    def flush_cache(self) -> None:
        """CACHE FLUSH (0xE7): the image is on stable storage when it returns."""
        self.issue(CMD_FLUSH, 0, 0)
        self.check(self.wait(), "flush", drq=False)

    def in_range(self, lba: int, count: int) -> None:
        if lba + count > self.sectors:
            raise OSError(errno.ERANGE, f"sectors {lba}+{count} past {self.sectors}")

    # -- requests (protocols.block; Dispatch calls them by name) -------------------

    def info(self, req, msg) -> tuple:
        """INFO: the capacity, the sector size and the drive's model."""
        return self.sectors, SECTOR, self.model.encode()

    def read(self, req, msg) -> tuple:
        """READ: `count` sectors from `lba`."""
        return (self.read_sectors(req.lba, self.count(req.count)),)

    def write(self, req, msg) -> tuple:
        """WRITE: exactly `count` sectors of data from `lba`."""
        count = self.count(req.count)
        if len(req.data) != count * SECTOR:
            raise OSError(errno.EINVAL, f"{len(req.data)} bytes for {count} sectors")
        self.write_sectors(req.lba, req.data)
        return ()

    def flush(self, req, msg) -> tuple:
        """FLUSH: answered once written sectors are on stable storage."""
        self.flush_cache()
        return ()

    @staticmethod
    def count(n: int) -> int:
        """A request's sector count, 1..MAX_COUNT (else EINVAL)."""
        if not 0 < n <= MAX_COUNT:
            raise OSError(errno.EINVAL, f"{n} sectors in one request")
        return n


def main(rt, name: str, names_id: str) -> None:
    """Driver task entry: resources from root, reset and identify the drive, serve
    requests one at a time (a stray interrupt in the open wait is dropped)."""
    drv = start(rt, name, names_id)
    base = min(p for p, _ in drv.ports)
    disk = Ata(rt, base, base + 0x206, drv.irq)          # 0x1F0 -> 0x3F6, as on the AT
    disk.setup()
    print(f"{name}: {disk.model!r}, {disk.sectors} sectors, {disk.per} per block", flush=True)
    drv.register(rt)
    serve(rt, Dispatch(BLOCK, disk, rt))
