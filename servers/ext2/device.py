"""Block devices the file system runs on: 512-byte sectors, addressed by LBA.

The file system needs only `read(lba, count) -> bytes`, `write(lba, data)`, `flush()` and
`sectors`; the fs server's real device forwards these over IPC to the ATA driver.
`FileDevice` is a raw image file (what mke2fs, e2fsck and debugfs take), `MemoryDevice`
a bytearray, for tests that want to cut power at a chosen write.
"""
from __future__ import annotations

import os
from typing import Protocol

__all__ = ["SECTOR", "BlockDevice", "FileDevice", "MemoryDevice"]

SECTOR = 512


class BlockDevice(Protocol):
    sectors: int

    def read(self, lba: int, count: int) -> bytes: ...

    def write(self, lba: int, data: bytes) -> None: ...

    def flush(self) -> None: ...


def _check(dev, lba: int, count: int) -> None:
    if lba < 0 or count < 0 or lba + count > dev.sectors:
        raise ValueError(f"sectors {lba}+{count} outside a {dev.sectors}-sector device")


class FileDevice:
    """A raw disk image file; `fsync=True` makes flush() reach the host's disk."""

    def __init__(self, path, readonly: bool = False, fsync: bool = False):
        self.path = os.fspath(path)
        self.readonly = readonly
        self.fsync = fsync
        self._f = open(self.path, "rb" if readonly else "r+b", buffering=0)
        self.sectors = os.fstat(self._f.fileno()).st_size // SECTOR

    def read(self, lba: int, count: int) -> bytes:
        """`count` sectors from `lba`."""
        _check(self, lba, count)
        return os.pread(self._f.fileno(), count * SECTOR, lba * SECTOR)

    def write(self, lba: int, data: bytes) -> None:
        """Whole sectors of `data` at `lba`."""
        if len(data) % SECTOR:
            raise ValueError("writes are whole sectors")
        if self.readonly:
            raise PermissionError(f"{self.path} is open read-only")
        _check(self, lba, len(data) // SECTOR)
        os.pwrite(self._f.fileno(), data, lba * SECTOR)

    def flush(self) -> None:
        """Make earlier writes durable (only with fsync=True does this wait for the disk)."""
        if self.fsync and not self.readonly:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MemoryDevice:
    """A device in a bytearray; `writes` counts sector writes, `fail_after` cuts power."""

    def __init__(self, data: bytes | int):
        self.data = bytearray(data) if not isinstance(data, int) else bytearray(data)
        self.sectors = len(self.data) // SECTOR
        self.writes = 0
        self.fail_after: int | None = None

    def read(self, lba: int, count: int) -> bytes:
        _check(self, lba, count)
        return bytes(self.data[lba * SECTOR:(lba + count) * SECTOR])

    def write(self, lba: int, data: bytes) -> None:
        if len(data) % SECTOR:
            raise ValueError("writes are whole sectors")
        _check(self, lba, len(data) // SECTOR)
        if self.fail_after is not None and self.writes >= self.fail_after:
            raise OSError(5, "power cut")
        self.writes += 1
        self.data[lba * SECTOR:lba * SECTOR + len(data)] = data

    def flush(self) -> None:
        pass
