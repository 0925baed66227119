"""Directories: blocks of variable-length entries (revision 1 layout).

    inode u32 | rec_len u16 | name_len u8 | file_type u8 | name (name_len bytes)

An entry's rec_len (a multiple of 4, at least 8 + name_len) reaches the next entry; the
last one in a block reaches the block's end, so entries never cross blocks. inode 0
marks an unused slot. The file-type byte is written only with the filetype feature.
Adding splits the first entry with enough slack, else appends a block; removing merges
the entry into its predecessor (or zeroes the inode of a block's first entry). An htree
(dir_index) directory reads fine linearly; changing one clears its index flag, which
e2fsck accepts, so the stale index is simply no longer used.

Every block is checked as it is parsed (`parse`: lengths, alignment, inode numbers in
range); a bad block, or a hole, is corruption: EIO through `vol.corrupt`. A listing can
be taken a page at a time (`page`): its cookie is the byte offset of the next entry in
the directory, so each call parses only the blocks it returns, and a cookie that no
longer falls on an entry (the directory changed) resumes at the next one.
"""
from __future__ import annotations

import errno
import struct

from .bmap import map_alloc, map_block
from .cache import DIR
from .errors import FsError
from .inode import FT_DIR, INDEX_FL

__all__ = ["DirError", "parse", "entries", "rec_size", "find", "add", "remove",
           "retarget", "listing", "page", "is_empty", "init_block", "NAME_MAX"]

NAME_MAX = 255
_HEAD = struct.Struct("<IHBB")


def rec_size(name_len: int) -> int:
    """The smallest rec_len for a name of `name_len` bytes."""
    return (8 + name_len + 3) & ~3


class DirError(Exception):
    """A directory block that cannot be right (the message says where)."""


def parse(buf, max_ino: int):
    """Yield (offset, inode, rec_len, name bytes, file type) for each entry of a block;
    DirError at the first entry that cannot be right."""
    off, end = 0, len(buf)
    while off < end:
        if end - off < 8:
            raise DirError(f"truncated entry at {off}")
        ino, rec, nlen, ftype = _HEAD.unpack_from(buf, off)
        if rec < 8 or rec & 3 or off + rec > end or (ino and 8 + nlen > rec):
            raise DirError(f"bad entry at {off} (rec_len {rec})")
        if ino > max_ino:
            raise DirError(f"entry at {off} names inode {ino}, past the last ({max_ino})")
        yield off, ino, rec, bytes(buf[off + 8:off + 8 + nlen]), ftype
        off += rec


def entries(vol, buf, where: str):
    """parse() one block of a directory of `vol`; corruption is vol.corrupt's EIO."""
    try:
        yield from parse(buf, vol.ninodes)
    except DirError as e:
        raise vol.corrupt(f"{where}: {e}") from None


def _pack(buf, off: int, ino: int, rec: int, name: bytes, ftype: int) -> None:
    _HEAD.pack_into(buf, off, ino, rec, len(name), ftype)
    buf[off + 8:off + 8 + len(name)] = name


def init_block(buf, ino: int, parent: int, ftype_ok: bool) -> None:
    """Fill `buf` as a new directory's first block: "." and ".." only."""
    t = FT_DIR if ftype_ok else 0
    _pack(buf, 0, ino, 12, b".", t)
    _pack(buf, 12, parent, len(buf) - 12, b"..", t)


def _blocks(vol, dirnode, first: int = 0):
    """Yield (logical block, physical block, buffer) for each block of the directory
    from logical block `first` on."""
    bs = vol.block_size
    if dirnode.size % bs:
        raise vol.corrupt(f"directory {dirnode.ino} has size {dirnode.size}, not a "
                          f"multiple of the block size")
    for lblk in range(first, dirnode.size // bs):
        pblk = map_block(vol, dirnode, lblk)
        if not pblk:
            raise vol.corrupt(f"directory {dirnode.ino} has a hole at block {lblk}")
        yield lblk, pblk, vol.cache.get(pblk)


def _where(dirnode, lblk: int) -> str:
    return f"directory {dirnode.ino} block {lblk}"


def find(vol, dirnode, name: bytes):
    """(physical block, offset, inode, file type) of `name`, or None."""
    for lblk, pblk, buf in _blocks(vol, dirnode):
        for off, ino, _, nm, ftype in entries(vol, buf, _where(dirnode, lblk)):
            if ino and nm == name:
                return pblk, off, ino, ftype
    return None


def listing(vol, dirnode) -> list[tuple[bytes, int, int]]:
    """Every (name, inode, file type) in the directory, "." and ".." included."""
    out = []
    for lblk, _, buf in _blocks(vol, dirnode):
        out += [(nm, ino, ft) for _, ino, _, nm, ft in
                entries(vol, buf, _where(dirnode, lblk)) if ino]
    return out


def page(vol, dirnode, cookie: int, limit: int) -> tuple[list[tuple[bytes, int, int]], int]:
    """Up to `limit` (name, inode, file type) from byte offset `cookie` (0: the start),
    and the cookie of the entry after them (0: there is none)."""
    bs, out = vol.block_size, []
    first, skip = divmod(max(cookie, 0), bs)
    for lblk, _, buf in _blocks(vol, dirnode, first):
        for off, ino, _, nm, ft in entries(vol, buf, _where(dirnode, lblk)):
            if not ino or (lblk == first and off < skip):
                continue
            if len(out) == limit:
                return out, lblk * bs + off
            out.append((nm, ino, ft))
    return out, 0


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
    for lblk, pblk, buf in _blocks(vol, dirnode):
        for off, eino, rec, nm, _ in entries(vol, buf, _where(dirnode, lblk)):
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
    for lblk, pblk, buf in _blocks(vol, dirnode):
        prev = None
        for off, ino, rec, nm, _ in entries(vol, buf, _where(dirnode, lblk)):
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
