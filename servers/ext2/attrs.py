"""The attributes of inodes (stat, chmod, chown, utimes, access) and of the volume
(statfs). A mixin of Ext2 (fs.py), which supplies `vol`, `block_size` and `_inode`.
"""
from __future__ import annotations

import errno
import stat as st
from dataclasses import dataclass

from .errors import FsError

__all__ = ["Attributes", "Stat", "StatFs", "R_OK", "W_OK", "X_OK", "check_ids"]

R_OK, W_OK, X_OK = 4, 2, 1


def check_ids(uid: int, gid: int) -> None:
    """FsError(EINVAL) unless both ids fit in 32 bits."""
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


class Attributes:
    """Attribute operations by inode number."""

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
        check_ids(0 if uid == -1 else uid, 0 if gid == -1 else gid)
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
