"""The contents of regular files: read, write and truncate through the block map.

A mixin of Ext2 (fs.py), which supplies `vol`, `block_size`, `max_size` and `_inode`.
Holes read as zeros; a write past the end leaves a hole; a write that fills the disk
part way returns a short count.
"""
from __future__ import annotations

import errno

from .bmap import free_from, map_alloc, map_block
from .cache import DATA
from .errors import FsError
from .inode import Inode
from .superblock import RO_COMPAT_LARGE_FILE

__all__ = ["Contents"]


class Contents:
    """File contents by inode number."""

    def _regular(self, ino: int) -> Inode:
        i = self._inode(ino)
        if i.is_dir:
            raise FsError(errno.EISDIR, f"inode {ino} is a directory")
        if not i.is_reg:
            raise FsError(errno.EINVAL, f"inode {ino} is not a regular file")
        return i

    def read(self, ino: int, offset: int, n: int) -> bytes:
        """Up to `n` bytes from `offset` (fewer at the end of file; holes read as 0)."""
        i = self._regular(ino)
        if offset < 0 or n < 0:
            raise FsError(errno.EINVAL, "negative offset or count")
        end, bs = min(i.size, offset + n), self.block_size
        out = bytearray()
        pos = offset
        while pos < end:
            lblk, boff = divmod(pos, bs)
            k = min(bs - boff, end - pos)
            pblk = map_block(self.vol, i, lblk)
            if pblk:
                out += self.vol.cache.get(pblk)[boff:boff + k]
            else:
                out += bytes(k)
            pos += k
        return bytes(out)

    def _zero_tail(self, i: Inode) -> None:
        """Zero the last block past i.size, before the file grows over it."""
        bs = self.block_size
        if i.size % bs:
            pblk = map_block(self.vol, i, i.size // bs)
            if pblk:
                buf = self.vol.cache.get(pblk)
                buf[i.size % bs:] = bytes(bs - i.size % bs)
                self.vol.cache.put(pblk, buf, DATA)

    def _set_size(self, i: Inode, size: int) -> None:
        sb = self.vol.sb
        if size >= 1 << 31 and not sb.feature_ro_compat & RO_COMPAT_LARGE_FILE:
            if sb.rev_level == 0:               # features need revision 1, as Linux does
                sb.rev_level, sb.first_ino_rev1, sb.inode_size_rev1 = 1, 11, 128
            sb.feature_ro_compat |= RO_COMPAT_LARGE_FILE
        i.size = size

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write `data` at `offset`, growing the file (a gap becomes a hole). Returns the
        count written, short only if the disk filled up part way (ENOSPC if at once)."""
        vol, bs = self.vol, self.block_size
        vol.check_writable()
        i = self._regular(ino)
        if offset < 0:
            raise FsError(errno.EINVAL, "negative offset")
        end = offset + len(data)
        if end > self.max_size:
            raise FsError(errno.EFBIG, f"file would exceed {self.max_size} bytes")
        if not data:
            return 0
        if offset > i.size:
            self._zero_tail(i)
        mv, pos, goal = memoryview(data), offset, 0
        try:
            while pos < end:
                lblk, boff = divmod(pos, bs)
                k = min(bs - boff, end - pos)
                pblk, new = map_alloc(vol, i, lblk, goal)
                if k == bs:
                    buf = bytearray(mv[pos - offset:pos - offset + k])
                else:
                    buf = bytearray(bs) if new else vol.cache.get(pblk)
                    buf[boff:boff + k] = mv[pos - offset:pos - offset + k]
                vol.cache.put(pblk, buf, DATA)
                pos, goal = pos + k, pblk + 1
        except FsError as e:
            if e.errno != errno.ENOSPC:
                raise
            free_from(vol, i, -(-max(i.size, pos) // bs))   # stray indirect blocks
            if pos == offset:
                vol.put_inode(i)
                raise
        if pos > i.size:
            self._set_size(i, pos)
        i.mtime = i.ctime = vol.now()
        vol.put_inode(i)
        return pos - offset

    def truncate(self, ino: int, size: int) -> None:
        """Set the file's size: shrinking frees blocks, growing leaves a hole."""
        vol, bs = self.vol, self.block_size
        vol.check_writable()
        i = self._regular(ino)
        if size < 0:
            raise FsError(errno.EINVAL, "negative size")
        if size > self.max_size:
            raise FsError(errno.EFBIG, f"file would exceed {self.max_size} bytes")
        if size < i.size:
            free_from(vol, i, -(-size // bs))
            i.size = size
            self._zero_tail(i)
        elif size > i.size:
            self._zero_tail(i)
            self._set_size(i, size)
        i.mtime = i.ctime = vol.now()
        vol.put_inode(i)
