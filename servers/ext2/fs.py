"""The file-system operations on an ext2 volume, with inode numbers as handles.

`Ext2(dev)` mounts a block device (anything with read/write/flush/sectors in 512-byte
sectors); `Ext2.open(path)` mounts an image file. Every failure is FsError(errno).
Names are str (encoded as with os.fsencode) or bytes. Nothing reaches the device before
`sync()` or `close()` except when the buffer cache fills up (see cache.py); `close()`
marks the file system clean. Access times are not updated by reads (like noatime).

A volume that is not safe to write mounts read-only (`readonly`, and `ro_reason` says
why); corruption found later is EIO and makes every further change EROFS (`errors`).
See volume.py and check.py.

An inode whose last link goes away is freed at once unless someone `hold()`s it (an
open file, a process's cwd); then it is freed at its last `release()` or at `close()`.
The operations are mixins: lookups and listings in paths.py, directory changes in
namespace.py, file contents in file.py, attributes in attrs.py.
"""
from __future__ import annotations

import errno
import stat as st
import struct
import time

from .alloc import alloc_inode, free_block, free_inode
from .attrs import R_OK, W_OK, X_OK, Attributes, Stat, StatFs, check_ids
from .bmap import free_from, max_blocks
from .cache import INDIRECT
from .device import FileDevice
from .errors import FsError
from .file import Contents
from .inode import XATTR_MAGIC, Inode
from .namespace import Namespace
from .volume import Volume

__all__ = ["Ext2", "Stat", "StatFs", "R_OK", "W_OK", "X_OK"]

MAX_SIZE = 1 << 40                      # also keeps i_blocks (512-byte units) in 32 bits


class Ext2(Namespace, Contents, Attributes):
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

    @property
    def readonly(self) -> bool:
        """Are changes refused (mounted read-only, or after corruption was found)?"""
        return self.vol.readonly or self.vol.errors is not None

    @property
    def ro_reason(self) -> str | None:
        """Why the volume was mounted read-only (None: it was mounted read-write)."""
        return self.vol.ro_reason

    @property
    def errors(self) -> str | None:
        """The first corruption found since the mount (None: none)."""
        return self.vol.errors

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
        if not self.readonly:
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
        check_ids(uid, gid)
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
        if not vol.valid_block(blk):
            raise vol.corrupt(f"inode {inode.ino}'s attribute block {blk} is outside the "
                              f"file system")
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
        if ino in self._doomed and not self.readonly:
            self._destroy(self.vol.get_inode(ino))
