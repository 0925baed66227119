"""A mounted ext2 volume: the device, its buffer cache, superblock, group descriptors
and the inode table. This is the lower half the file operations (fs.py) build on.

Mounting trusts nothing on the disk. A superblock, group descriptor or root inode that
cannot be right refuses the mount (FsError EINVAL, naming the problem). A volume that
could be read but not safely written (the superblock's error flag, unknown read-only
features, or what the mount-time check (check.py) finds) is mounted read-only, and
`ro_reason` says why. Corruption met later (`corrupt()`) answers EIO, is logged, sets
the superblock's error flag and refuses every further change, as Linux's
errors=remount-ro.

Mounting read-write clears the superblock's VALID state bit and bumps the mount count,
and writes that at once, so after a crash e2fsck sees "not cleanly unmounted" and checks.
`sync()` writes everything back (the superblock stays not-clean); `close()` syncs and
sets VALID again. The superblock and descriptors are kept decoded in memory and copied
into their blocks (primary copies only, as Linux does) when written back.
"""
from __future__ import annotations

import errno
import logging
import time

from .cache import BITMAP, INODE, SUMMARY, BufferCache, device_error
from .check import check_volume
from .device import SECTOR
from .errors import FsError
from .group import DESC_SIZE, GroupDesc
from .inode import ROOT_INO, Inode
from .superblock import (INCOMPAT_FILETYPE, SB_OFFSET, SB_SIZE, STATE_ERROR, STATE_VALID,
                         Superblock, check_features, check_superblock)

__all__ = ["Volume", "CACHE_BYTES"]

log = logging.getLogger("mk.fs.ext2")
CACHE_BYTES = 8 << 20           # the cache never holds more, whatever cache_blocks says


class Volume:
    """`dev` mounted (read-only if asked, or if writing it is unsafe); `clock` gives the
    seconds stamped on disk."""

    def __init__(self, dev, readonly: bool = False, cache_blocks: int = 2048,
                 clock=time.time):
        self.dev = dev
        self.clock = clock
        self.errors: str | None = None
        if dev.sectors * SECTOR < SB_OFFSET + SB_SIZE:
            raise FsError(errno.EINVAL, "device too small for ext2")
        sb = Superblock(self.read_sectors(SB_OFFSET // SECTOR, SB_SIZE // SECTOR))
        check_superblock(sb, dev.sectors * SECTOR)
        why = check_features(sb, readonly)
        self.sb = sb
        self.block_size = bs = sb.block_size
        self.spb = bs // SECTOR
        self.ptrs = bs // 4
        self.inode_size = sb.inode_size
        self.filetype = bool(sb.feature_incompat & INCOMPAT_FILETYPE)
        self.ngroups = sb.group_count
        self.itb = sb.inode_blocks_per_group
        # the geometry, fixed while mounted, as plain ints (the hot paths read them)
        self.fdb, self.nblocks = sb.first_data_block, sb.blocks_count
        self.bpg, self.ipg, self.ninodes = (sb.blocks_per_group, sb.inodes_per_group,
                                            sb.inodes_count)
        self.inodes_per_block = bs // self.inode_size
        self.cache = BufferCache(dev, bs, min(cache_blocks, max(16, CACHE_BYTES // bs)))
        self.gdt_block = sb.first_data_block + 1
        per = bs // DESC_SIZE
        self.gdt_blocks = -(-self.ngroups // per)
        if self.gdt_block + self.gdt_blocks > self.group_first(0) + self.group_blocks(0):
            raise FsError(errno.EINVAL, f"{self.ngroups} group descriptors do not fit")
        self.groups = []
        for g in range(self.ngroups):
            buf = self.cache.get(self.gdt_block + g // per)
            off = g % per * DESC_SIZE
            self.groups.append(GroupDesc(buf[off:off + DESC_SIZE]))
        self._check_groups()
        self.tables = [gd.inode_table for gd in self.groups]
        self._check_root()
        self.generation = int(clock()) & 0xFFFFFFFF
        self.readonly = True                # while checking
        if readonly:
            why = "mounted read-only as asked"
        elif why is None and sb.state & STATE_ERROR:
            why = "the file system is marked as having errors (run e2fsck)"
        elif why is None:
            why = check_volume(self)
        self.ro_reason = why
        self.readonly = why is not None
        if self.readonly:
            if not readonly:
                log.warning("ext2: mounted read-only: %s", why)
            return
        sb.state &= ~STATE_VALID
        sb.mnt_count = (sb.mnt_count + 1) & 0xFFFF
        sb.mtime = self.now()
        self.write_summary()
        self.cache.sync()

    def now(self) -> int:
        return int(self.clock()) & 0xFFFFFFFF

    def read_sectors(self, lba: int, count: int) -> bytes:
        """Sectors straight from the device (not cached); a device failure is EIO."""
        try:
            return self.dev.read(lba, count)
        except Exception as e:
            raise device_error("read", lba, e) from e

    # -- mount-time checks --------------------------------------------------------------

    def _check_groups(self) -> None:
        """Each group's bitmaps and inode table lie inside the group (as Linux checks)."""
        for g, gd in enumerate(self.groups):
            first = self.group_first(g)
            last = first + self.group_blocks(g) - 1
            for what, b, n in (("block bitmap", gd.block_bitmap, 1),
                               ("inode bitmap", gd.inode_bitmap, 1),
                               ("inode table", gd.inode_table, self.itb)):
                if not (first <= b and b + n - 1 <= last):
                    raise FsError(errno.EINVAL, f"corrupt group descriptor: group {g}'s "
                                  f"{what} at block {b} is outside the group "
                                  f"({first}-{last}; run e2fsck)")

    def _check_root(self) -> None:
        root = self.get_inode(ROOT_INO)
        if not root.is_dir or not root.links or not root.size or not root.blocks:
            raise FsError(errno.EINVAL, f"corrupt root inode (mode {root.mode:#o}, "
                          f"{root.links} links, size {root.size}; run e2fsck)")

    # -- geometry ---------------------------------------------------------------------

    def group_first(self, g: int) -> int:
        """The first block of group `g`."""
        return self.fdb + g * self.bpg

    def group_blocks(self, g: int) -> int:
        """How many blocks group `g` has (the last group may be short)."""
        return min(self.bpg, self.nblocks - self.group_first(g))

    def group_of_block(self, blk: int) -> int:
        return (blk - self.fdb) // self.bpg

    def group_of_inode(self, ino: int) -> int:
        return (ino - 1) // self.ipg

    def valid_block(self, blk: int) -> bool:
        """Can `blk` be a file system block (the range of the superblock's count)?"""
        return self.fdb <= blk < self.nblocks

    # -- errors -----------------------------------------------------------------------

    def corrupt(self, what: str) -> FsError:
        """Corruption found: note it (the first is logged and flags the superblock), refuse
        changes from now on, and return the EIO to raise."""
        if self.errors is None:
            self.errors = what
            log.error("ext2: %s; no further changes (run e2fsck)", what)
            if not self.readonly:
                self.sb.state |= STATE_ERROR
        return FsError(errno.EIO, what)

    def check_writable(self) -> None:
        if self.readonly:
            raise FsError(errno.EROFS, f"read-only: {self.ro_reason}")
        if self.errors is not None:
            raise FsError(errno.EROFS, f"read-only after an error: {self.errors}")

    # -- inodes -----------------------------------------------------------------------

    def _inode_place(self, ino: int) -> tuple[int, int]:
        if not 1 <= ino <= self.ninodes:
            raise FsError(errno.EINVAL, f"inode {ino} out of range")
        g, i = divmod(ino - 1, self.ipg)
        per = self.inodes_per_block
        blk = self.tables[g] + i // per
        return blk, i % per * self.inode_size

    def get_inode(self, ino: int) -> Inode:
        """Inode `ino` as a fresh decoded copy."""
        blk, off = self._inode_place(ino)
        buf = self.cache.get(blk)
        return Inode(ino, buf[off:off + self.inode_size])

    def put_inode(self, inode: Inode) -> None:
        """Store `inode` back into its inode-table block."""
        self.check_writable()
        blk, off = self._inode_place(inode.ino)
        buf = self.cache.get(blk)
        buf[off:off + self.inode_size] = inode.raw
        self.cache.put(blk, buf, INODE)

    # -- write-back -------------------------------------------------------------------

    def write_summary(self) -> None:
        """Copy the superblock and group descriptors into their (dirty) blocks."""
        per = self.block_size // DESC_SIZE
        for i in range(self.gdt_blocks):
            blk = self.gdt_block + i
            buf = self.cache.get(blk)
            for g in range(i * per, min(self.ngroups, (i + 1) * per)):
                off = g % per * DESC_SIZE
                buf[off:off + DESC_SIZE] = self.groups[g].raw
            self.cache.put(blk, buf, SUMMARY)
        blk, off = divmod(SB_OFFSET, self.block_size)
        buf = self.cache.get(blk)
        buf[off:off + SB_SIZE] = self.sb.raw
        self.cache.put(blk, buf, SUMMARY)

    def sync(self) -> None:
        """Write every change back to the device, in the cache's order (after an error
        too: what was done before it, and the error flag)."""
        if self.readonly:
            return
        self.sb.wtime = self.now()
        self.write_summary()
        self.cache.sync()

    def close(self) -> None:
        """Sync and mark the file system cleanly unmounted."""
        if self.readonly:
            return
        self.sb.state |= STATE_VALID
        self.sync()

    # -- bitmaps ----------------------------------------------------------------------

    def bitmap(self, blk: int) -> bytearray:
        return self.cache.get(blk)

    def put_bitmap(self, blk: int, buf: bytearray) -> None:
        self.cache.put(blk, buf, BITMAP)
