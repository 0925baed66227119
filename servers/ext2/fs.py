"""The file-system operations on an ext2 volume, with inode numbers as handles.

`Ext2(dev)` mounts a block device (anything with read/write/flush/sectors in 512-byte
sectors); `Ext2.open(path)` mounts an image file. Every failure is FsError(errno).
Names are str (encoded as with os.fsencode) or bytes. Nothing reaches the device before
`sync()` or `close()` except when the buffer cache fills up (see cache.py); `close()`
marks the file system clean. Access times are not updated by reads (like noatime).

An inode whose last link goes away is freed at once unless someone `hold()`s it (an
open file, a process's cwd); then it is freed at its last `release()` or at `close()`.
Directory operations (lookup, resolve, create, mkdir, unlink, rmdir, rename, link,
symlink, readdir) live in namespace.py.
"""
from __future__ import annotations

import errno
import stat as st
import struct
import time
from dataclasses import dataclass

from .alloc import alloc_inode, free_block, free_inode
from .bmap import free_from, map_alloc, map_block, max_blocks
from .cache import DATA, INDIRECT
from .device import FileDevice
from .errors import FsError
from .inode import Inode
from .namespace import Namespace
from .superblock import RO_COMPAT_LARGE_FILE
from .volume import Volume

__all__ = ["Ext2", "Stat", "StatFs", "R_OK", "W_OK", "X_OK"]

R_OK, W_OK, X_OK = 4, 2, 1
XATTR_MAGIC = 0xEA020000
MAX_SIZE = 1 << 40                      # also keeps i_blocks (512-byte units) in 32 bits


def _check_ids(uid: int, gid: int) -> None:
    if not (0 <= uid < 1 << 32 and 0 <= gid < 1 << 32):
        raise FsError(errno.EINVAL, f"owner {uid}:{gid} is not 32-bit")


@dataclass(frozen=True)
class Stat:
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    atime: int
    mtime: int
    ctime: int
    blocks: int                         # 512-byte sectors, as st_blocks
    blksize: int


@dataclass(frozen=True)
class StatFs:
    block_size: int
    blocks: int
    bfree: int
    bavail: int                         # free blocks outside the root reserve
    files: int
    ffree: int
    namemax: int = 255


class Ext2(Namespace):
    """A mounted ext2 file system over block device `dev`."""

    def __init__(self, dev, readonly: bool = False, cache_blocks: int = 2048,
                 clock=time.time):
        self.vol = Volume(dev, readonly, cache_blocks, clock)
        self.block_size = self.vol.block_size
        self.max_size = min(max_blocks(self.vol.ptrs) * self.block_size, MAX_SIZE)
        self._held: dict[int, int] = {}
        self._doomed: set[int] = set()
        self._own = None
        self.closed = False

    @classmethod
    def open(cls, path, readonly: bool = False, **kw) -> "Ext2":
        """Mount the image file at `path`; close() closes the file too."""
        dev = FileDevice(path, readonly=readonly)
        try:
            fs = cls(dev, readonly=readonly, **kw)
        except BaseException:
            dev.close()
            raise
        fs._own = dev
        return fs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def sync(self) -> None:
        """Write back every change (the superblock still says "not clean")."""
        self.vol.sync()

    def close(self) -> None:
        """Free held-but-unlinked inodes, write everything back, mark clean."""
        if self.closed:
            return
        if not self.vol.readonly:
            for ino in sorted(self._doomed):
                self._destroy(self.vol.get_inode(ino))
        self._doomed.clear()
        self.vol.close()
        self.closed = True
        if self._own is not None:
            self._own.close()

    # -- inodes -----------------------------------------------------------------------

    def _inode(self, ino: int) -> Inode:
        """Inode `ino`, which must be in use (FsError(ENOENT) if not)."""
        inode = self.vol.get_inode(ino)
        if inode.mode == 0 or (inode.links == 0 and ino not in self._doomed):
            raise FsError(errno.ENOENT, f"inode {ino} is not in use")
        return inode

    def _new_inode(self, parent: int, mode: int, uid: int, gid: int) -> Inode:
        """Allocate and fill in a new inode (links 0; the caller sets them and stores it)."""
        vol = self.vol
        _check_ids(uid, gid)
        ino = alloc_inode(vol, parent, st.S_ISDIR(mode))
        inode = Inode(ino, bytearray(vol.inode_size))
        inode.mode, inode.uid, inode.gid = mode, uid, gid
        inode.atime = inode.mtime = inode.ctime = vol.now()
        vol.generation = (vol.generation * 1103515245 + 12345) & 0xFFFFFFFF
        inode.generation = vol.generation
        if vol.inode_size >= 160:
            inode.extra_isize = 32
        return inode

    def _fast_symlink(self, inode: Inode) -> bool:
        ea = self.vol.spb if inode.file_acl else 0
        return inode.is_symlink and inode.blocks - ea == 0

    def _unlinked(self, inode: Inode) -> None:
        """The inode lost its last link: free it now, or at its last release()."""
        if self._held.get(inode.ino):
            self._doomed.add(inode.ino)
            self.vol.put_inode(inode)
        else:
            self._destroy(inode)

    def _destroy(self, inode: Inode) -> None:
        """Free the inode's blocks, its xattr block and the inode itself."""
        vol = self.vol
        if not self._fast_symlink(inode):
            free_from(vol, inode, 0)
        if inode.file_acl:
            self._release_xattr(inode)
        inode.block = [0] * 15
        inode.size, inode.links, inode.blocks = 0, 0, 0
        inode.dtime = vol.now()
        vol.put_inode(inode)
        free_inode(vol, inode.ino, inode.is_dir)
        self._doomed.discard(inode.ino)

    def _release_xattr(self, inode: Inode) -> None:
        vol, blk = self.vol, inode.file_acl
        buf = vol.cache.get(blk)
        magic, refs = struct.unpack_from("<II", buf)
        if magic == XATTR_MAGIC and refs > 1:
            struct.pack_into("<I", buf, 4, refs - 1)
            vol.cache.put(blk, buf, INDIRECT)
        else:
            free_block(vol, blk)
        inode.file_acl = 0
        inode.blocks = max(0, inode.blocks - vol.spb)

    def hold(self, ino: int) -> None:
        """Keep inode `ino` alive while in use, even if its last name is removed."""
        self._inode(ino)
        self._held[ino] = self._held.get(ino, 0) + 1

    def release(self, ino: int) -> None:
        """Undo one hold(); frees the inode if that was the last hold and it has no name."""
        n = self._held.get(ino, 0) - 1
        if n > 0:
            self._held[ino] = n
            return
        self._held.pop(ino, None)
        if ino in self._doomed:
            self._destroy(self.vol.get_inode(ino))

    # -- attributes -------------------------------------------------------------------

    def stat(self, ino: int) -> Stat:
        """The inode's attributes."""
        i = self._inode(ino)
        return Stat(ino, i.mode, i.links, i.uid, i.gid, i.size, i.atime, i.mtime,
                    i.ctime, i.blocks, self.block_size)

    def chmod(self, ino: int, mode: int) -> None:
        """Set the permission bits (07777); the file type stays."""
        i = self._inode(ino)
        i.mode = st.S_IFMT(i.mode) | mode & 0o7777
        i.ctime = self.vol.now()
        self.vol.put_inode(i)

    def chown(self, ino: int, uid: int, gid: int) -> None:
        """Set owner and group; -1 leaves one unchanged."""
        i = self._inode(ino)
        _check_ids(0 if uid == -1 else uid, 0 if gid == -1 else gid)
        if uid != -1:
            i.uid = uid
        if gid != -1:
            i.gid = gid
        i.ctime = self.vol.now()
        self.vol.put_inode(i)

    def utimes(self, ino: int, atime: int | None = None, mtime: int | None = None) -> None:
        """Set access and modification times (None: now); ctime becomes now."""
        i, now = self._inode(ino), self.vol.now()
        i.atime = now if atime is None else int(atime) & 0xFFFFFFFF
        i.mtime = now if mtime is None else int(mtime) & 0xFFFFFFFF
        i.ctime = now
        self.vol.put_inode(i)

    def statfs(self) -> StatFs:
        """Sizes and free counts of the whole file system, for df."""
        sb = self.vol.sb
        return StatFs(self.block_size, sb.blocks_count, sb.free_blocks_count,
                      max(0, sb.free_blocks_count - sb.r_blocks_count),
                      sb.inodes_count, sb.free_inodes_count)

    def access(self, ino: int, uid: int, gid: int, want: int, groups=()) -> bool:
        """May (uid, gid, groups) have all `want` bits (R_OK|W_OK|X_OK)? root may read
        and write anything, and execute what has some x bit (or is a directory)."""
        i = self._inode(ino)
        if uid == 0:
            return not (want & X_OK) or i.is_dir or bool(i.mode & 0o111)
        if uid == i.uid:
            bits = i.mode >> 6
        elif gid == i.gid or i.gid in groups:
            bits = i.mode >> 3
        else:
            bits = i.mode
        return bits & want & 7 == want & 7

    # -- contents ---------------------------------------------------------------------

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
