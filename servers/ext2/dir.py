"""Directories: blocks of variable-length entries (revision 1 layout).

    inode u32 | rec_len u16 | name_len u8 | file_type u8 | name (name_len bytes)

An entry's rec_len (a multiple of 4, at least 8 + name_len) reaches the next entry; the
last one in a block reaches the block's end, so entries never cross blocks. inode 0
marks an unused slot. The file-type byte is written only with the filetype feature.
Adding splits the first entry with enough slack, else appends a block; removing merges
the entry into its predecessor (or zeroes the inode of a block's first entry). An htree
(dir_index) directory reads fine linearly; changing one clears its index flag, which
e2fsck accepts, so the stale index is simply no longer used.
"""
from __future__ import annotations

import errno
import struct

from .bmap import map_alloc, map_block
from .cache import DIR
from .errors import FsError
from .inode import FT_DIR, INDEX_FL

__all__ = ["entries", "rec_size", "find", "add", "remove", "retarget", "listing",
           "is_empty", "init_block", "NAME_MAX"]

NAME_MAX = 255
_HEAD = struct.Struct("<IHBB")


def rec_size(name_len: int) -> int:
    """The smallest rec_len for a name of `name_len` bytes."""
    return (8 + name_len + 3) & ~3


def entries(buf, where: str = "directory"):
    """Yield (offset, inode, rec_len, name bytes, file type) for each entry of a block."""
    off, end = 0, len(buf)
    while off < end:
        if end - off < 8:
            raise FsError(errno.EIO, f"{where}: truncated entry at {off}")
        ino, rec, nlen, ftype = _HEAD.unpack_from(buf, off)
        if rec < 8 or rec & 3 or off + rec > end or (ino and 8 + nlen > rec):
            raise FsError(errno.EIO, f"{where}: bad entry at {off} (rec_len {rec})")
        yield off, ino, rec, bytes(buf[off + 8:off + 8 + nlen]), ftype
        off += rec


def _pack(buf, off: int, ino: int, rec: int, name: bytes, ftype: int) -> None:
    _HEAD.pack_into(buf, off, ino, rec, len(name), ftype)
    buf[off + 8:off + 8 + len(name)] = name


def init_block(buf, ino: int, parent: int, ftype_ok: bool) -> None:
    """Fill `buf` as a new directory's first block: "." and ".." only."""
    t = FT_DIR if ftype_ok else 0
    _pack(buf, 0, ino, 12, b".", t)
    _pack(buf, 12, parent, len(buf) - 12, b"..", t)


def _blocks(vol, dirnode):
    """Yield (physical block, buffer) for each block of the directory."""
    for lblk in range(dirnode.size // vol.block_size):
        pblk = map_block(vol, dirnode, lblk)
        if not pblk:
            raise FsError(errno.EIO, f"directory {dirnode.ino} has a hole at {lblk}")
        yield pblk, vol.cache.get(pblk)


def find(vol, dirnode, name: bytes):
    """(physical block, offset, inode, file type) of `name`, or None."""
    for pblk, buf in _blocks(vol, dirnode):
        for off, ino, _, nm, ftype in entries(buf, f"directory {dirnode.ino}"):
            if ino and nm == name:
                return pblk, off, ino, ftype
    return None


def listing(vol, dirnode) -> list[tuple[bytes, int, int]]:
    """Every (name, inode, file type) in the directory, "." and ".." included."""
    out = []
    for _, buf in _blocks(vol, dirnode):
        out += [(nm, ino, ft) for _, ino, _, nm, ft in
                entries(buf, f"directory {dirnode.ino}") if ino]
    return out


def is_empty(vol, dirnode) -> bool:
    """True if the directory holds nothing but "." and ".."."""
    return all(nm in (b".", b"..") for nm, _, _ in listing(vol, dirnode))


def _touched(vol, dirnode) -> None:
    dirnode.flags &= ~INDEX_FL
    dirnode.mtime = dirnode.ctime = vol.now()


def add(vol, dirnode, name: bytes, ino: int, ftype: int) -> None:
    """Add the entry name -> ino (not checking for duplicates); put_inode() after."""
    if not vol.filetype:
        ftype = 0
    need = rec_size(len(name))
    for pblk, buf in _blocks(vol, dirnode):
        for off, eino, rec, nm, _ in entries(buf, f"directory {dirnode.ino}"):
            used = rec_size(len(nm)) if eino else 0
            if rec - used >= need:
                if eino:
                    struct.pack_into("<H", buf, off + 4, used)   # shrink rec_len
                _pack(buf, off + used, ino, rec - used, name, ftype)
                vol.cache.put(pblk, buf, DIR)
                _touched(vol, dirnode)
                return
    lblk = dirnode.size // vol.block_size
    last = map_block(vol, dirnode, lblk - 1) if lblk else 0
    pblk, _ = map_alloc(vol, dirnode, lblk, last + 1 if last else 0)
    buf = vol.cache.zero(pblk, DIR)
    _pack(buf, 0, ino, vol.block_size, name, ftype)
    vol.cache.put(pblk, buf, DIR)
    dirnode.size += vol.block_size
    _touched(vol, dirnode)


def remove(vol, dirnode, name: bytes) -> int:
    """Remove entry `name`, returning its inode number; put_inode() after."""
    for pblk, buf in _blocks(vol, dirnode):
        prev = None
        for off, ino, rec, nm, _ in entries(buf, f"directory {dirnode.ino}"):
            if ino and nm == name:
                if prev is None:
                    struct.pack_into("<I", buf, off, 0)
                else:
                    prec = struct.unpack_from("<H", buf, prev + 4)[0]
                    struct.pack_into("<H", buf, prev + 4, prec + rec)
                vol.cache.put(pblk, buf, DIR)
                _touched(vol, dirnode)
                return ino
            prev = off
    raise FsError(errno.ENOENT, name.decode(errors="replace"))


def retarget(vol, dirnode, name: bytes, ino: int, ftype: int) -> None:
    """Point the existing entry `name` at inode `ino`; put_inode() after."""
    hit = find(vol, dirnode, name)
    if hit is None:
        raise FsError(errno.ENOENT, name.decode(errors="replace"))
    pblk, off, _, _ = hit
    buf = vol.cache.get(pblk)
    _HEAD.pack_into(buf, off, ino, struct.unpack_from("<H", buf, off + 4)[0],
                    len(name), ftype if vol.filetype else 0)
    vol.cache.put(pblk, buf, DIR)
    _touched(vol, dirnode)
