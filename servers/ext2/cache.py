"""The buffer cache: file-system blocks over a sector device, LRU, write-back.

A block is read once and kept in a bytearray; callers change the bytearray and hand it
back with `put(blk, buf, kind)`, which marks it dirty (and re-admits it if it was
evicted meanwhile, so a change is never lost). Nothing is written until `sync()` or
until the cache is full of dirty blocks; either way every dirty block is written in one
orderly pass, by kind and then by block number:

    DATA       file contents
    INDIRECT   indirect blocks (pointers to data)
    DIR        directory blocks (names pointing to inodes)
    BITMAP     block and inode bitmaps (what is allocated)
    INODE      inode table blocks (sizes, link counts, pointers)
    SUMMARY    group descriptors and the superblock (free counts, state)

Contents go before the pointers that reach them, pointers before the summary. The cache
never writes a single dirty block out of that order to make room: when it must evict a
dirty block it writes back everything first (without the device flush of `sync`).
An unjournaled ext2 cannot be made crash-proof by ordering alone; see docs/ext2.md.
A device that fails (an I/O error, a sector past its end) is FsError(EIO) here; a
failed write-back keeps its blocks dirty for the next attempt.
"""
from __future__ import annotations

import errno
from collections import OrderedDict

from .device import SECTOR
from .errors import FsError

__all__ = ["BufferCache", "DATA", "INDIRECT", "DIR", "BITMAP", "INODE", "SUMMARY",
           "device_error"]

DATA, INDIRECT, DIR, BITMAP, INODE, SUMMARY = range(6)


def device_error(what: str, lba: int | None, e: Exception) -> FsError:
    """The EIO for a device that failed to `what` ("read", "write") at sector `lba`."""
    at = "" if lba is None else f" at sector {lba}"
    return FsError(errno.EIO, f"disk {what}{at} failed: {e}")


class BufferCache:
    """At most `capacity` blocks of `block_size` bytes of `dev`, least recently used out."""

    def __init__(self, dev, block_size: int, capacity: int = 2048):
        self.dev = dev
        self.block_size = block_size
        self.spb = block_size // SECTOR
        self.capacity = max(16, capacity)
        self.blocks: OrderedDict[int, bytearray] = OrderedDict()
        self.dirty: dict[int, int] = {}           # block -> kind
        self.reads = self.writes = self.hits = self.writebacks = 0

    def get(self, blk: int) -> bytearray:
        """Block `blk`'s buffer, read from the device on a miss."""
        buf = self.blocks.get(blk)
        if buf is not None:
            self.hits += 1
            self.blocks.move_to_end(blk)
            return buf
        self.reads += 1
        try:
            buf = bytearray(self.dev.read(blk * self.spb, self.spb))
        except Exception as e:
            raise device_error("read", blk * self.spb, e) from e
        if len(buf) != self.block_size:
            raise device_error("read", blk * self.spb, ValueError("short read"))
        self._admit(blk, buf)
        return buf

    def zero(self, blk: int, kind: int) -> bytearray:
        """A dirty, zero-filled buffer for a newly allocated block, without reading it."""
        buf = bytearray(self.block_size)
        self.put(blk, buf, kind)
        return buf

    def put(self, blk: int, buf: bytearray, kind: int) -> None:
        """Mark `buf` as block `blk`'s new contents, to be written back as `kind`."""
        if len(buf) != self.block_size:
            raise ValueError("a buffer is one whole block")
        if self.blocks.get(blk) is not buf:
            self._admit(blk, buf)
        else:
            self.blocks.move_to_end(blk)
        self.dirty[blk] = min(kind, self.dirty.get(blk, kind))

    def forget(self, blk: int) -> None:
        """Drop block `blk` without writing it (it was freed)."""
        self.blocks.pop(blk, None)
        self.dirty.pop(blk, None)

    def sync(self) -> None:
        """Write every dirty block back in order, then flush the device."""
        self.write_back()
        try:
            self.dev.flush()
        except Exception as e:
            raise device_error("flush", None, e) from e

    def write_back(self) -> None:
        """Write every dirty block back, by kind and then by block number."""
        if not self.dirty:
            return
        self.writebacks += 1
        for blk in sorted(self.dirty, key=lambda b: (self.dirty[b], b)):
            try:
                self.dev.write(blk * self.spb, bytes(self.blocks[blk]))
            except Exception as e:
                raise device_error("write", blk * self.spb, e) from e
            self.writes += 1
        self.dirty.clear()

    def _admit(self, blk: int, buf: bytearray) -> None:
        self.blocks[blk] = buf
        self.blocks.move_to_end(blk)
        while len(self.blocks) > self.capacity:
            old = next(iter(self.blocks))
            if old in self.dirty:
                self.write_back()
            del self.blocks[old]
