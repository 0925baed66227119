"""The block map of an inode: logical block -> physical block through i_block.

i_block[0..11] point at data, i_block[12] at a single indirect block (a block of
pointers), [13] at a double and [14] at a triple indirect block. A zero pointer is a hole
(reads as zeros). `map_alloc` fills in missing pointers on the way down, charging every
new block to i_blocks; `free_from` frees every data block at or after a logical block,
and every indirect block left empty. A pointer outside the file system is corruption
(EIO through `vol.corrupt`), never a read or write of whatever the device holds there.
"""
from __future__ import annotations

import errno
import struct

from .alloc import alloc_block, free_block
from .cache import INDIRECT
from .errors import FsError
from .inode import DIND, IND, N_DIRECT, TIND

__all__ = ["block_path", "map_block", "map_alloc", "free_from", "max_blocks"]

_PTR = struct.Struct("<I")


def max_blocks(ptrs: int) -> int:
    """How many logical blocks the 15 pointers can address."""
    return N_DIRECT + ptrs + ptrs ** 2 + ptrs ** 3


def block_path(lblk: int, ptrs: int) -> tuple[int, list[int]]:
    """The i_block slot and the indices in each indirect level for logical block `lblk`."""
    if lblk < N_DIRECT:
        return lblk, []
    lblk -= N_DIRECT
    if lblk < ptrs:
        return IND, [lblk]
    lblk -= ptrs
    if lblk < ptrs ** 2:
        return DIND, [lblk // ptrs, lblk % ptrs]
    lblk -= ptrs ** 2
    if lblk < ptrs ** 3:
        return TIND, [lblk // ptrs ** 2, lblk // ptrs % ptrs, lblk % ptrs]
    raise FsError(errno.EFBIG, "beyond the triple indirect block")


def _valid(vol, inode, blk: int) -> int:
    """`blk`, a pointer of `inode`: 0, or a block of the file system (else EIO)."""
    if blk and not vol.valid_block(blk):
        raise vol.corrupt(f"inode {inode.ino} points to block {blk}, outside the file "
                          f"system ({vol.nblocks} blocks)")
    return blk


def map_block(vol, inode, lblk: int) -> int:
    """The physical block holding logical block `lblk`, or 0 for a hole."""
    slot, path = block_path(lblk, vol.ptrs)
    blk = _valid(vol, inode, inode.get_block(slot))
    for i in path:
        if not blk:
            return 0
        blk = _valid(vol, inode, _PTR.unpack_from(vol.cache.get(blk), 4 * i)[0])
    return blk


def map_alloc(vol, inode, lblk: int, goal: int = 0) -> tuple[int, bool]:
    """(physical block, newly allocated?) for `lblk`, allocating what is missing.

    A new data block is not zeroed here: the caller fills it. New indirect blocks are
    zeroed. The caller must put_inode() afterwards (i_block and i_blocks changed).
    """
    slot, path = block_path(lblk, vol.ptrs)
    if not goal:
        goal = vol.group_first(vol.group_of_inode(inode.ino))
    blk = _valid(vol, inode, inode.get_block(slot))
    new = False
    if not blk:
        blk = alloc_block(vol, goal)
        inode.set_block(slot, blk)
        inode.blocks += vol.spb
        new = True
        if path:
            vol.cache.zero(blk, INDIRECT)
    for depth, i in enumerate(path):
        buf = vol.cache.get(blk)
        nxt = _valid(vol, inode, _PTR.unpack_from(buf, 4 * i)[0])
        new = False
        if not nxt:
            nxt = alloc_block(vol, blk + 1)
            inode.blocks += vol.spb
            new = True
            _PTR.pack_into(buf, 4 * i, nxt)
            vol.cache.put(blk, buf, INDIRECT)
            if depth + 1 < len(path):
                vol.cache.zero(nxt, INDIRECT)
        blk = nxt
    return blk, new


def _free_tree(vol, inode, blk: int, depth: int) -> None:
    """Free indirect block `blk` of `depth` levels and everything under it."""
    if depth:
        ptrs = struct.unpack(f"<{vol.ptrs}I", vol.cache.get(_valid(vol, inode, blk)))
        for p in ptrs:
            if p:
                _free_tree(vol, inode, p, depth - 1)
    free_block(vol, blk)
    inode.blocks -= vol.spb


def _trim(vol, inode, blk: int, depth: int, base: int, first: int) -> bool:
    """Free what indirect block `blk` (depth >= 1, mapping from `base`) maps at or after
    `first`; True if `blk` now maps nothing (and the caller should free it)."""
    span = vol.ptrs ** (depth - 1)
    buf = vol.cache.get(_valid(vol, inode, blk))
    ptrs = list(struct.unpack(f"<{vol.ptrs}I", buf))
    changed = False
    for i, p in enumerate(ptrs):
        cbase = base + i * span
        if not p or cbase + span <= first:
            continue
        if cbase >= first:
            _free_tree(vol, inode, p, depth - 1)
            ptrs[i] = 0
            changed = True
        elif _trim(vol, inode, p, depth - 1, cbase, first):
            free_block(vol, p)
            inode.blocks -= vol.spb
            ptrs[i] = 0
            changed = True
    if changed and any(ptrs):
        buf = vol.cache.get(blk)
        struct.pack_into(f"<{vol.ptrs}I", buf, 0, *ptrs)
        vol.cache.put(blk, buf, INDIRECT)
    return not any(ptrs)


def free_from(vol, inode, first: int) -> None:
    """Free all data blocks at logical `first` and after, and indirect blocks left empty.
    The caller must put_inode() afterwards."""
    p = vol.ptrs
    for i in range(max(first, 0), N_DIRECT):
        blk = inode.get_block(i)
        if blk:
            free_block(vol, blk)
            inode.blocks -= vol.spb
            inode.set_block(i, 0)
    base = N_DIRECT
    for slot, depth in ((IND, 1), (DIND, 2), (TIND, 3)):
        blk = inode.get_block(slot)
        span = p ** depth
        if blk and first < base + span:
            if first <= base:
                _free_tree(vol, inode, blk, depth)
                inode.set_block(slot, 0)
            elif _trim(vol, inode, blk, depth, base, first):
                free_block(vol, blk)
                inode.blocks -= vol.spb
                inode.set_block(slot, 0)
        base += span
