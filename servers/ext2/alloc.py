"""Allocating and freeing blocks and inodes in the group bitmaps.

Every change to a bitmap changes the group's free count and the superblock's total in
the same step, so the three always agree (e2fsck pass 5 compares them). Placement is
simple and ext2-like: a block goes at or after a goal (the next block of the same file,
or the start of the inode's group), wrapping through the groups; a new directory goes to
the group with the most free inodes (spreading the tree), any other inode near its
parent directory.
"""
from __future__ import annotations

import errno

from . import bitmap
from .errors import FsError

__all__ = ["alloc_block", "free_block", "alloc_inode", "free_inode"]


def alloc_block(vol, goal: int = 0) -> int:
    """A free block, as near at-or-after `goal` as possible; FsError(ENOSPC) if none."""
    vol.check_writable()
    sb = vol.sb
    if sb.free_blocks_count == 0:
        raise FsError(errno.ENOSPC, "no free blocks")
    if not sb.first_data_block <= goal < sb.blocks_count:
        goal = sb.first_data_block
    g0 = vol.group_of_block(goal)
    for k in range(vol.ngroups + 1):
        g = (g0 + k) % vol.ngroups
        gd = vol.groups[g]
        if gd.free_blocks_count == 0:
            continue
        start = goal - vol.group_first(g) if k == 0 else 0
        buf = vol.bitmap(gd.block_bitmap)
        bit = bitmap.find_zero(buf, start, vol.group_blocks(g))
        if bit < 0:
            continue
        bitmap.set_bit(buf, bit)
        vol.put_bitmap(gd.block_bitmap, buf)
        gd.free_blocks_count -= 1
        sb.free_blocks_count -= 1
        return vol.group_first(g) + bit
    raise FsError(errno.ENOSPC, "no free blocks (counts were wrong)")


def free_block(vol, blk: int) -> None:
    """Return block `blk` to its group; EIO (corruption) if it was not in use."""
    sb = vol.sb
    if not vol.valid_block(blk):
        raise vol.corrupt(f"freeing block {blk}, outside the file system")
    g = vol.group_of_block(blk)
    gd = vol.groups[g]
    buf = vol.bitmap(gd.block_bitmap)
    bit = blk - vol.group_first(g)
    if not bitmap.test(buf, bit):
        raise vol.corrupt(f"freeing block {blk}, which is already free")
    bitmap.clear_bit(buf, bit)
    vol.put_bitmap(gd.block_bitmap, buf)
    vol.cache.forget(blk)
    gd.free_blocks_count += 1
    sb.free_blocks_count += 1


def _inode_group(vol, parent: int, is_dir: bool) -> list[int]:
    n = vol.ngroups
    pg = vol.group_of_inode(parent) if parent else 0
    if is_dir:
        order = sorted(range(n), key=lambda g: (-vol.groups[g].free_inodes_count,
                                                vol.groups[g].used_dirs_count, g))
        return order
    return [(pg + k) % n for k in range(n)]


def alloc_inode(vol, parent: int, is_dir: bool) -> int:
    """A free inode number for a child of directory `parent`; FsError(ENOSPC) if none."""
    vol.check_writable()
    sb = vol.sb
    if sb.free_inodes_count == 0:
        raise FsError(errno.ENOSPC, "no free inodes")
    ipg = sb.inodes_per_group
    for g in _inode_group(vol, parent, is_dir):
        gd = vol.groups[g]
        if gd.free_inodes_count == 0:
            continue
        buf = vol.bitmap(gd.inode_bitmap)
        lo = max(0, sb.first_ino - 1 - g * ipg)       # never a reserved inode
        bit = bitmap.find_zero(buf, lo, ipg)
        if bit < lo:
            continue
        bitmap.set_bit(buf, bit)
        vol.put_bitmap(gd.inode_bitmap, buf)
        gd.free_inodes_count -= 1
        sb.free_inodes_count -= 1
        if is_dir:
            gd.used_dirs_count += 1
        return g * ipg + bit + 1
    raise FsError(errno.ENOSPC, "no free inodes (counts were wrong)")


def free_inode(vol, ino: int, is_dir: bool) -> None:
    """Return inode `ino` to its group's bitmap."""
    g = vol.group_of_inode(ino)
    gd = vol.groups[g]
    buf = vol.bitmap(gd.inode_bitmap)
    bit = (ino - 1) % vol.sb.inodes_per_group
    if not bitmap.test(buf, bit):
        raise vol.corrupt(f"freeing inode {ino}, which is already free")
    bitmap.clear_bit(buf, bit)
    vol.put_bitmap(gd.inode_bitmap, buf)
    gd.free_inodes_count += 1
    vol.sb.free_inodes_count += 1
    if is_dir:
        gd.used_dirs_count -= 1

