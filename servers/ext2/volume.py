"""A mounted ext2 volume: the device, its buffer cache, superblock, group descriptors
and the inode table. This is the lower half the file operations (fs.py) build on.

Mounting read-write clears the superblock's VALID state bit and bumps the mount count,
and writes that at once, so after a crash e2fsck sees "not cleanly unmounted" and checks.
`sync()` writes everything back (the superblock stays not-clean); `close()` syncs and
sets VALID again. The superblock and descriptors are kept decoded in memory and copied
into their blocks (primary copies only, as Linux does) when written back.
"""
from __future__ import annotations

import errno
import time

from .cache import BITMAP, INODE, SUMMARY, BufferCache
from .device import SECTOR
from .errors import FsError
from .group import DESC_SIZE, GroupDesc
from .inode import Inode
from .superblock import (INCOMPAT_FILETYPE, SB_OFFSET, SB_SIZE, STATE_VALID, Superblock,
                         check_features)

__all__ = ["Volume"]


class Volume:
    """`dev` mounted (read-only if asked); `clock` gives the seconds stamped on disk."""

    def __init__(self, dev, readonly: bool = False, cache_blocks: int = 2048,
                 clock=time.time):
        self.dev = dev
        self.readonly = readonly
        self.clock = clock
        if dev.sectors * SECTOR < SB_OFFSET + SB_SIZE:
            raise FsError(errno.EINVAL, "device too small for ext2")
        sb = Superblock(dev.read(SB_OFFSET // SECTOR, SB_SIZE // SECTOR))
        check_features(sb, readonly)
        self.sb = sb
        self.block_size = bs = sb.block_size
        if sb.blocks_count * (bs // SECTOR) > dev.sectors:
            raise FsError(errno.EINVAL, "file system larger than the device")
        self.spb = bs // SECTOR
        self.ptrs = bs // 4
        self.inode_size = sb.inode_size
        self.filetype = bool(sb.feature_incompat & INCOMPAT_FILETYPE)
        self.ngroups = sb.group_count
        self.cache = BufferCache(dev, bs, cache_blocks)
        self.gdt_block = sb.first_data_block + 1
        per = bs // DESC_SIZE
        self.gdt_blocks = -(-self.ngroups // per)
        self.groups = []
        for g in range(self.ngroups):
            buf = self.cache.get(self.gdt_block + g // per)
            off = g % per * DESC_SIZE
            self.groups.append(GroupDesc(buf[off:off + DESC_SIZE]))
        for g, gd in enumerate(self.groups):
            for b in (gd.block_bitmap, gd.inode_bitmap, gd.inode_table):
                if not sb.first_data_block <= b < sb.blocks_count:
                    raise FsError(errno.EINVAL, f"group {g} descriptor is corrupt")
        self.generation = int(clock()) & 0xFFFFFFFF
        if not readonly:
            sb.state &= ~STATE_VALID
            sb.mnt_count = (sb.mnt_count + 1) & 0xFFFF
            sb.mtime = self.now()
            self.write_summary()
            self.cache.sync()

    def now(self) -> int:
        return int(self.clock()) & 0xFFFFFFFF

    # -- geometry ---------------------------------------------------------------------

    def group_first(self, g: int) -> int:
        """The first block of group `g`."""
        return self.sb.first_data_block + g * self.sb.blocks_per_group

    def group_blocks(self, g: int) -> int:
        """How many blocks group `g` has (the last group may be short)."""
        return min(self.sb.blocks_per_group, self.sb.blocks_count - self.group_first(g))

    def group_of_block(self, blk: int) -> int:
        return (blk - self.sb.first_data_block) // self.sb.blocks_per_group

    def group_of_inode(self, ino: int) -> int:
        return (ino - 1) // self.sb.inodes_per_group

    # -- inodes -----------------------------------------------------------------------

    def _inode_place(self, ino: int) -> tuple[int, int]:
        if not 1 <= ino <= self.sb.inodes_count:
            raise FsError(errno.EINVAL, f"inode {ino} out of range")
        g, i = divmod(ino - 1, self.sb.inodes_per_group)
        per = self.block_size // self.inode_size
        blk = self.groups[g].inode_table + i // per
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

    def check_writable(self) -> None:
        if self.readonly:
            raise FsError(errno.EROFS, "mounted read-only")

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
        """Write every change back to the device, in the cache's order."""
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
