"""The mount-time check: can this volume be written without spreading its damage?

Before a read-write mount, a read-only core of e2fsck's passes runs over the volume:

0. no group is uninitialized (uninit_bg is not supported), and no reserved inode
   holds blocks but the bad-blocks and resize inodes;
1. every inode in use (links > 0) has a known type, no deletion time, its bit in the
   inode bitmap, no attribute block without ext_attr and no 64-bit high halves; its
   block pointers lie inside the file system, no block is claimed twice (by files, or
   by a group's own superblock copy, descriptors, bitmaps and inode table), i_blocks
   and i_size agree with the blocks, and attribute blocks count their users right;
2. every directory block parses, starts with "." and "..", and names inodes in use with
   their file type (not checked on the Hurd, as e2fsck), each name once;
3. each directory is named once, by the directory its ".." names;
4. each inode has as many links as names;
5. every block in use is marked in the block bitmap.

The first failure is the reason to mount read-only (`check_volume` returns it). What
writing cannot make worse is let be: blocks and inodes marked in use that nothing uses
(a crash between syncs leaves such), and free counts that disagree with the bitmaps,
which are recounted (the mount writes them back). Not checked: htree indexes (a change
clears a directory's index, and nothing here reads one), bitmap padding, ext3's orphan
list. The cost is one read of every inode table, directory and indirect block.
"""
from __future__ import annotations

import logging
import struct
from array import array

from .bitmap import test
from .dir import DirError, parse
from .errors import FsError
from .inode import (FAST_SYMLINK_MAX, FT_DIR, FT_REG, FT_SYMLINK, ROOT_INO, XATTR_MAGIC,
                    file_type)
from .superblock import COMPAT_EXT_ATTR, COMPAT_RESIZE_INODE, OS_HURD, OS_LINUX

__all__ = ["check_volume"]

log = logging.getLogger("mk.fs.ext2")
_I = struct.Struct("<I")
_BLOCKS = struct.Struct("<15I")
_HEAD = struct.Struct("<HHIIIIIHHII")        # mode uid size atime ctime mtime dtime gid
BAD_INO, RESIZE_INO = 1, 7                   # links blocks flags
UNINIT = 3                                   # uninit_bg's INODE_ and BLOCK_UNINIT
CHUNK = 256                                  # inode-table blocks read at a time


class _Problem(Exception):
    pass


def check_volume(vol) -> str | None:
    """Why `vol` must not be written (the first problem found), or None; with None, the
    free counts in memory are the bitmaps'."""
    try:
        c = _Check(vol)
        c.inodes()
        c.attributes()
        c.directories()
        c.bitmaps()
    except _Problem as p:
        return f"{p} (run e2fsck)"
    except FsError as e:
        return f"the check could not read the disk: {e.strerror}"
    return None


class _Check:
    def __init__(self, vol):
        self.vol, sb = vol, vol.sb
        self.sb, self.bs, self.fdb = sb, vol.block_size, sb.first_data_block
        n = sb.inodes_count + 1
        self.kind = bytearray(n)                 # FT_* of each inode in use, else 0
        self.links = array("H", bytes(2 * n))
        self.refs = array("I", bytes(4 * n))
        self.in_use: list[int] = []
        self.dirs: list[tuple[int, int, dict[int, int]]] = []   # (ino, size, lblk->pblk)
        self.xattr: dict[int, int] = {}          # attribute block -> inodes using it
        self.used_dirs = [0] * vol.ngroups
        self.owned = bytearray((sb.blocks_count - self.fdb + 7) // 8)
        self.max_lblk = vol.ptrs ** 3 + vol.ptrs ** 2 + vol.ptrs + 12
        self.linux, self.hurd = sb.creator_os == OS_LINUX, sb.creator_os == OS_HURD

    def claim(self, blk: int, who) -> None:
        """Block `blk` belongs to `who` (an inode number or a description)."""
        if not self.fdb <= blk < self.sb.blocks_count:
            raise _Problem(f"{_who(who)} points to block {blk}, outside the file system")
        r = blk - self.fdb
        byte, bit = self.owned[r >> 3], 1 << (r & 7)
        if byte & bit:
            raise _Problem(f"block {blk} is claimed twice ({_who(who)} and another)")
        self.owned[r >> 3] = byte | bit

    def metadata(self) -> None:
        vol, sb = self.vol, self.sb
        for g, gd in enumerate(vol.groups):
            if gd.flags & UNINIT or gd.itable_unused:
                raise _Problem(f"group {g} is marked uninitialized (uninit_bg, which "
                               f"the file system does not declare)")
            first = vol.group_first(g)
            if sb.has_super(g):
                n = 1 + vol.gdt_blocks + (sb.reserved_gdt_blocks
                                          if sb.feature_compat & COMPAT_RESIZE_INODE else 0)
                for b in range(max(first, self.fdb), first + n):
                    self.claim(b, f"group {g}'s superblock copy and descriptors")
            self.claim(gd.block_bitmap, f"group {g}'s block bitmap")
            self.claim(gd.inode_bitmap, f"group {g}'s inode bitmap")
            for b in range(gd.inode_table, gd.inode_table + vol.itb):
                self.claim(b, f"group {g}'s inode table")

    # -- pass 1 -------------------------------------------------------------------------

    def inodes(self) -> None:
        vol, sb = self.vol, self.sb
        self.metadata()
        isz, ipg, first_ino = vol.inode_size, sb.inodes_per_group, sb.first_ino
        per = vol.inodes_per_block * CHUNK
        for g, gd in enumerate(vol.groups):
            ibm = vol.bitmap(gd.inode_bitmap)
            for i0 in range(0, ipg, per):                    # a chunk of the table
                n = min(per, ipg - i0)
                table = vol.read_sectors((gd.inode_table + i0 // vol.inodes_per_block)
                                         * vol.spb, -(-n * isz // vol.block_size) * vol.spb)
                for i in range(i0, i0 + n):
                    ino, off = g * ipg + i + 1, (i - i0) * isz
                    if ino < first_ino and ino != ROOT_INO:
                        self.reserved(ino, table[off:off + isz])
                        continue
                    if not (table[off + 26] or table[off + 27]):
                        continue                             # links 0: not in use
                    if not test(ibm, i):
                        raise _Problem(f"inode {ino} is in use but marked free in the "
                                       f"bitmap")
                    self.inode(ino, table[off:off + isz], g)

    def reserved(self, ino: int, raw) -> None:
        """Inode 1 owns the bad blocks, 7 (with resize_inode) the reserved descriptor
        blocks; any other reserved inode holding blocks (a journal) is a problem."""
        ptrs = _BLOCKS.unpack_from(raw, 40)
        if ino == BAD_INO:
            self.blocks(ino, raw, FT_REG)
        elif ino == RESIZE_INO and self.sb.feature_compat & COMPAT_RESIZE_INODE:
            if ptrs[13]:
                self.claim(ptrs[13], "the resize inode")
        elif any(ptrs) or _I.unpack_from(raw, 28)[0]:
            raise _Problem(f"reserved inode {ino} holds blocks")

    def inode(self, ino: int, raw, g: int) -> None:
        mode, _, size, _, _, _, dtime, _, links, iblocks, _ = _HEAD.unpack_from(raw)
        ft = file_type(mode)
        if dtime:
            raise _Problem(f"inode {ino} is in use but has a deletion time")
        if not ft:
            raise _Problem(f"inode {ino} has an unknown file type (mode {mode:#o})")
        self.kind[ino], self.links[ino] = ft, links
        self.in_use.append(ino)
        acl = _I.unpack_from(raw, 104)[0]
        if self.linux and (raw[116] or raw[117] or raw[118] or raw[119]):
            raise _Problem(f"inode {ino} has high bits of i_blocks or i_file_acl")
        if acl and not self.sb.feature_compat & COMPAT_EXT_ATTR:
            raise _Problem(f"inode {ino} has an attribute block, but the file system "
                           f"lacks ext_attr")
        if acl:
            if not self.fdb <= acl < self.sb.blocks_count:
                raise _Problem(f"inode {ino}'s attribute block {acl} is outside the "
                               f"file system")
            self.xattr[acl] = self.xattr.get(acl, 0) + 1
        ea = 1 if acl else 0
        if ft == FT_SYMLINK and iblocks == ea * self.vol.spb:
            if not 0 < size <= FAST_SYMLINK_MAX:
                raise _Problem(f"symbolic link {ino} has a bad size {size}")
            return
        if ft not in (FT_REG, FT_DIR, FT_SYMLINK):
            count, last = 0, -1
        else:
            count, last = self.blocks(ino, raw, ft)
        if iblocks != (count + ea) * self.vol.spb:
            raise _Problem(f"inode {ino} has i_blocks {iblocks}, but "
                           f"{(count + ea) * self.vol.spb} counted")
        bs = self.bs
        if ft == FT_REG:
            size |= _I.unpack_from(raw, 108)[0] << 32
            if (last >= 0 and size < last * bs) or size > self.max_lblk * bs:
                raise _Problem(f"file {ino}'s size {size} disagrees with its blocks")
        elif ft == FT_SYMLINK and (count != 1 or last != 0 or not 0 < size < bs):
            raise _Problem(f"symbolic link {ino} has a bad size or block")
        elif ft == FT_DIR:
            nblock, extra = size // bs, last + 1 - size // bs
            if not size or size % bs or nblock > last + 1 \
                    or extra > self.sb.prealloc_dir_blocks:
                raise _Problem(f"directory {ino}'s size {size} disagrees with its blocks")
            self.used_dirs[g] += 1

    def blocks(self, ino: int, raw, ft: int) -> tuple[int, int]:
        """Claim the blocks of inode `ino`: (blocks counted, the last logical block)."""
        ptrs = _BLOCKS.unpack_from(raw, 40)
        found = {} if ft == FT_DIR else None
        count, last = 0, -1
        for i in range(12):
            if ptrs[i]:
                self.claim(ptrs[i], ino)
                count, last = count + 1, i
                if found is not None:
                    found[i] = ptrs[i]
        base, p = 12, self.vol.ptrs
        for depth in (1, 2, 3):
            if ptrs[11 + depth]:
                c, lst = self.tree(ino, ptrs[11 + depth], depth, base, found)
                count, last = count + c, max(last, lst)
            base += p ** depth
        if found is not None:
            self.dirs.append((ino, _I.unpack_from(raw, 4)[0], found))
        return count, last

    def tree(self, ino, blk, depth, base, found) -> tuple[int, int]:
        self.claim(blk, ino)
        count, last, span = 1, -1, self.vol.ptrs ** (depth - 1)
        ptrs = struct.unpack(f"<{self.vol.ptrs}I", self.vol.cache.get(blk))
        for i, p in enumerate(ptrs):
            if not p:
                continue
            lblk = base + i * span
            if depth == 1:
                self.claim(p, ino)
                count, last = count + 1, lblk
                if found is not None:
                    found[lblk] = p
            else:
                c, lst = self.tree(ino, p, depth - 1, lblk, found)
                count, last = count + c, max(last, lst)
        return count, last

    def attributes(self) -> None:
        for blk, users in self.xattr.items():
            self.claim(blk, "an extended attribute block")
            magic, refs, nblocks = struct.unpack_from("<III", self.vol.cache.get(blk))
            if magic != XATTR_MAGIC or nblocks != 1 or refs != users:
                raise _Problem(f"attribute block {blk} is bad or has {refs} users "
                               f"recorded for {users}")

    # -- passes 2 to 4 ---------------------------------------------------------------------

    def directories(self) -> None:
        parent: dict[int, int] = {}
        dotdot: dict[int, int] = {}
        for ino, size, found in self.dirs:
            names: set[bytes] = set()
            for lblk in range(size // self.bs):
                if lblk not in found:
                    raise _Problem(f"directory {ino} has a hole at block {lblk}")
                buf = self.vol.cache.get(found[lblk])
                try:
                    ents = parse(buf, self.sb.inodes_count)
                    for k, (_, eino, _, nm, ft) in enumerate(ents):
                        if lblk == 0 and k < 2:
                            want = (b".", b"..")[k]
                            if nm != want or not eino or (k == 0 and eino != ino):
                                raise _Problem(f"directory {ino} does not begin with "
                                               f"'.' and '..'")
                            if k == 1:
                                dotdot[ino] = eino
                        elif eino:
                            self.entry(ino, eino, nm, ft, names, parent)
                        if eino:
                            self.refs[eino] += 1
                except DirError as e:
                    raise _Problem(f"directory {ino} block {lblk}: {e}") from None
        for ino, _, _ in self.dirs:
            up = parent.get(ino, ROOT_INO if ino == ROOT_INO else None)
            if up is None or ino == ROOT_INO and ROOT_INO in parent:
                raise _Problem(f"directory {ino} is in no directory, or in two")
            if dotdot.get(ino) != up:
                raise _Problem(f"directory {ino}'s '..' is {dotdot.get(ino)}, not {up}")
        for ino in self.in_use:
            if self.refs[ino] != self.links[ino]:
                raise _Problem(f"inode {ino} has {self.links[ino]} links but "
                               f"{self.refs[ino]} names")

    def entry(self, d: int, ino: int, nm: bytes, ft: int, names: set, parent: dict) -> None:
        what = f"directory {d}: entry {nm[:40]!r}"
        if not nm or b"/" in nm or b"\0" in nm or nm in (b".", b"..") or nm in names:
            raise _Problem(f"{what} is a bad or repeated name")
        names.add(nm)
        kind = self.kind[ino]
        if not kind or (ino < self.sb.first_ino and ino != ROOT_INO):
            raise _Problem(f"{what} names inode {ino}, which is not in use")
        if ft != (kind if self.vol.filetype else 0) and not self.hurd:
            raise _Problem(f"{what} has file type {ft}, its inode is type {kind}")
        if kind == FT_DIR:
            if ino in parent:
                raise _Problem(f"directory {ino} has a second name in directory {d}")
            parent[ino] = d

    # -- pass 5 --------------------------------------------------------------------------

    def bitmaps(self) -> None:
        vol, sb = self.vol, self.sb
        leaked, ipg = 0, sb.inodes_per_group
        frees = []
        for g, gd in enumerate(vol.groups):
            nb, start = vol.group_blocks(g), g * sb.blocks_per_group // 8
            mask = (1 << nb) - 1
            own = int.from_bytes(self.owned[start:start + (nb + 7) // 8], "little")
            have = int.from_bytes(vol.bitmap(gd.block_bitmap)[:(nb + 7) // 8], "little")
            have &= mask
            missing = own & ~have
            if missing:
                blk = vol.group_first(g) + (missing & -missing).bit_length() - 1
                raise _Problem(f"block {blk} is in use but marked free in the bitmap")
            leaked += (have & ~own).bit_count()
            inodes = int.from_bytes(vol.bitmap(gd.inode_bitmap)[:(ipg + 7) // 8], "little")
            frees.append((nb - have.bit_count(),
                          ipg - (inodes & (1 << ipg) - 1).bit_count()))
        if leaked:
            log.info("ext2: %d blocks are marked in use that no file uses (e2fsck frees "
                     "them)", leaked)
        self.recount(frees)

    def recount(self, frees: list[tuple[int, int]]) -> None:
        vol, sb, changed = self.vol, self.sb, False
        for gd, (fb, fi), dirs in zip(vol.groups, frees, self.used_dirs):
            now = (gd.free_blocks_count, gd.free_inodes_count, gd.used_dirs_count)
            if now != (fb, fi, dirs):
                gd.free_blocks_count, gd.free_inodes_count, gd.used_dirs_count = fb, fi, dirs
                changed = True
        total = (sum(f[0] for f in frees), sum(f[1] for f in frees))
        if (sb.free_blocks_count, sb.free_inodes_count) != total:
            sb.free_blocks_count, sb.free_inodes_count = total
            changed = True
        if changed:
            log.info("ext2: free counts recounted from the bitmaps")


def _who(who) -> str:
    return f"inode {who}" if isinstance(who, int) else who
