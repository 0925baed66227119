"""The block device protocol (ata0, drivers/ata.py): 512-byte sectors by LBA.

    INFO                     -> sectors sector_size | model
    READ   lba count         -> | data            count 1..MAX_COUNT sectors
    WRITE  lba count | data  ->                   len(data) == count * 512
    FLUSH                    ->                   on stable storage when answered

Errors: EINVAL (malformed), ERANGE (past the end of the disk; nothing moved), EIO (the
drive reported an error; it was reset). Reads, and writes of the same bytes to the same
sectors, are idempotent, so every operation may be resent to a restarted driver.
The device classes (block, char, net) share the codes of INFO, READ and WRITE; a
request of another class's layout is malformed (EINVAL), an operation the class lacks
ENOSYS.
"""
from __future__ import annotations

import enum

from .client import Service
from .interface import Interface, call

__all__ = ["Op", "BLOCK", "BlockDevice", "SECTOR", "MAX_COUNT"]

SECTOR = 512
MAX_COUNT = 256                  # sectors per request (the ATA task file's count register)


class Op(enum.IntEnum):
    INFO = 0xD001
    READ = 0xD002
    WRITE = 0xD003
    FLUSH = 0xD004


BLOCK = Interface("block", Op, {
    Op.INFO: call("", "sectors sector_size | model", retry=True),
    Op.READ: call("lba count", "| data", retry=True),
    Op.WRITE: call("lba count | data", "", retry=True),
    Op.FLUSH: call("", "", retry=True),
})


class BlockDevice(Service):
    """A block driver's client stubs; long transfers are split into MAX_COUNT sectors."""

    iface = BLOCK

    def info(self) -> tuple[int, int]:
        """(sectors, sector size)."""
        r = self.call(Op.INFO)
        return r.sectors, r.sector_size

    def read(self, lba: int, count: int = 1) -> bytes:
        """`count` sectors from `lba`."""
        parts = []
        while count > 0:
            n = min(count, MAX_COUNT)
            parts.append(self.call(Op.READ, lba, n).data)
            lba, count = lba + n, count - n
        return b"".join(parts)

    def write(self, lba: int, data: bytes) -> None:
        """Whole sectors from `lba` (len(data) a multiple of 512)."""
        if len(data) % SECTOR:
            raise ValueError(f"{len(data)} bytes is not a whole number of sectors")
        view = memoryview(bytes(data))
        for off in range(0, len(view), MAX_COUNT * SECTOR):
            chunk = view[off:off + MAX_COUNT * SECTOR]
            self.call(Op.WRITE, lba + off // SECTOR, len(chunk) // SECTOR, bytes(chunk))

    def flush(self) -> None:
        """Ask the drive to put written sectors on stable storage."""
        self.call(Op.FLUSH)
