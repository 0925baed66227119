"""The directory operations of an ext2 volume: create, mkdir, symlink, link, unlink,
rmdir and rename.

A mixin of Ext2 (fs.py), built on Paths (paths.py); Ext2 supplies `vol`, `_inode`,
`_new_inode`, `_unlinked`, `_destroy`. Directories keep ext2's link-count rule: a
directory has 2 links plus one per subdirectory (each child's ".."). Every operation
checks all it can before changing anything, so an error leaves the volume as it was.
"""
from __future__ import annotations

import errno
import stat as st

from . import dir as dirs
from .bmap import map_alloc
from .cache import DATA, DIR
from .errors import FsError
from .inode import FAST_SYMLINK_MAX, FT_DIR, LINK_MAX, ROOT_INO, file_type
from .paths import Paths, check_name, encode

__all__ = ["Namespace"]


class Namespace(Paths):
    """The operations that add, remove and move directory entries."""

    # -- making names -----------------------------------------------------------------

    def _free_name(self, dir_ino: int, name):
        d, nm = self._dir(dir_ino), check_name(name)
        self.vol.check_writable()
        if nm in (b".", b"..") or self._find(d, nm) is not None:
            raise FsError(errno.EEXIST, nm.decode(errors="replace"))
        return d, nm

    def _enter(self, d, nm: bytes, inode) -> None:
        """Store new `inode` and name it; undo the inode if the directory is full."""
        self.vol.put_inode(inode)
        try:
            dirs.add(self.vol, d, nm, inode.ino, file_type(inode.mode))
        except FsError:
            self._destroy(inode)
            raise
        self.vol.put_inode(d)

    def create(self, dir_ino: int, name, mode: int = 0o644, uid: int = 0,
               gid: int = 0) -> int:
        """A new empty regular file `name` in `dir_ino`; its inode number."""
        if st.S_IFMT(mode) not in (0, st.S_IFREG):
            raise FsError(errno.EINVAL, "create makes regular files only")
        d, nm = self._free_name(dir_ino, name)
        inode = self._new_inode(dir_ino, st.S_IFREG | mode & 0o7777, uid, gid)
        inode.links = 1
        self._enter(d, nm, inode)
        return inode.ino

    def mkdir(self, dir_ino: int, name, mode: int = 0o755, uid: int = 0,
              gid: int = 0) -> int:
        """A new directory holding "." and ".."; its inode number."""
        d, nm = self._free_name(dir_ino, name)
        if d.links >= LINK_MAX:
            raise FsError(errno.EMLINK, f"directory {dir_ino} has {d.links} links")
        vol = self.vol
        inode = self._new_inode(dir_ino, st.S_IFDIR | mode & 0o7777, uid, gid)
        inode.links = 2
        try:
            pblk, _ = map_alloc(vol, inode, 0)
        except FsError:
            self._destroy(inode)
            raise
        dirs.init_block(vol.cache.zero(pblk, DIR), inode.ino, dir_ino, vol.filetype)
        inode.size = vol.block_size
        self._enter(d, nm, inode)
        d.links += 1
        vol.put_inode(d)
        return inode.ino

    def symlink(self, dir_ino: int, name, target, uid: int = 0, gid: int = 0) -> int:
        """A new symbolic link `name` -> `target`; its inode number."""
        t = encode(target)
        if not t:
            raise FsError(errno.ENOENT, "empty symlink target")
        if len(t) >= self.vol.block_size:
            raise FsError(errno.ENAMETOOLONG, f"symlink target of {len(t)} bytes")
        d, nm = self._free_name(dir_ino, name)
        vol = self.vol
        inode = self._new_inode(dir_ino, st.S_IFLNK | 0o777, uid, gid)
        inode.links = 1
        if len(t) <= FAST_SYMLINK_MAX:
            inode.raw[40:40 + len(t)] = t
        else:
            try:
                pblk, _ = map_alloc(vol, inode, 0)
            except FsError:
                self._destroy(inode)
                raise
            buf = vol.cache.zero(pblk, DATA)
            buf[:len(t)] = t
        inode.size = len(t)
        self._enter(d, nm, inode)
        return inode.ino

    def link(self, ino: int, dir_ino: int, name) -> None:
        """A further name for non-directory `ino`."""
        i = self._inode(ino)
        if i.is_dir:
            raise FsError(errno.EPERM, "hard links to directories are not allowed")
        if i.links == 0:
            raise FsError(errno.ENOENT, f"inode {ino} has been removed")
        if i.links >= LINK_MAX:
            raise FsError(errno.EMLINK, f"inode {ino} has {i.links} links")
        d, nm = self._free_name(dir_ino, name)
        dirs.add(self.vol, d, nm, ino, file_type(i.mode))
        self.vol.put_inode(d)
        i.links += 1
        i.ctime = self.vol.now()
        self.vol.put_inode(i)

    # -- removing names ---------------------------------------------------------------

    def _drop(self, i) -> None:
        """One link of `i` is gone (two for a directory's own "." and its name)."""
        i.links = 0 if i.is_dir else i.links - 1
        i.ctime = self.vol.now()
        if i.links == 0:
            self._unlinked(i)
        else:
            self.vol.put_inode(i)

    def unlink(self, dir_ino: int, name) -> None:
        """Remove name `name` (not a directory) from `dir_ino`."""
        d, nm = self._dir(dir_ino), check_name(name)
        self.vol.check_writable()
        ino = self._find(d, nm)
        if ino is None:
            raise FsError(errno.ENOENT, nm.decode(errors="replace"))
        i = self._inode(ino)
        if i.is_dir:
            raise FsError(errno.EISDIR, nm.decode(errors="replace"))
        dirs.remove(self.vol, d, nm)
        self.vol.put_inode(d)
        self._drop(i)

    def rmdir(self, dir_ino: int, name) -> None:
        """Remove the empty directory `name` from `dir_ino`."""
        d, nm = self._dir(dir_ino), check_name(name)
        self.vol.check_writable()
        if nm == b".":
            raise FsError(errno.EINVAL, "cannot remove '.'")
        if nm == b"..":
            raise FsError(errno.ENOTEMPTY, "cannot remove '..'")
        ino = self._find(d, nm)
        if ino is None:
            raise FsError(errno.ENOENT, nm.decode(errors="replace"))
        i = self._inode(ino)
        if not i.is_dir:
            raise FsError(errno.ENOTDIR, nm.decode(errors="replace"))
        if not dirs.is_empty(self.vol, i):
            raise FsError(errno.ENOTEMPTY, nm.decode(errors="replace"))
        dirs.remove(self.vol, d, nm)
        d.links -= 1
        self.vol.put_inode(d)
        self._drop(i)

    def rename(self, old_dir: int, old_name, new_dir: int, new_name) -> None:
        """Move `old_name` to `new_name`, replacing a file there (or an empty directory
        when moving a directory). Moving a directory under itself is EINVAL."""
        vol = self.vol
        vol.check_writable()
        od, on = self._dir(old_dir), check_name(old_name)
        nd = od if new_dir == old_dir else self._dir(new_dir)
        nn = check_name(new_name)
        if {on, nn} & {b".", b".."}:
            raise FsError(errno.EINVAL, "cannot rename '.' or '..'")
        src_ino = self._find(od, on)
        if src_ino is None:
            raise FsError(errno.ENOENT, on.decode(errors="replace"))
        src = self._inode(src_ino)
        dst_ino = self._find(nd, nn)
        dst = None
        if dst_ino == src_ino:
            return
        if dst_ino is not None:
            dst = self._inode(dst_ino)
            if src.is_dir and not dst.is_dir:
                raise FsError(errno.ENOTDIR, nn.decode(errors="replace"))
            if not src.is_dir and dst.is_dir:
                raise FsError(errno.EISDIR, nn.decode(errors="replace"))
            if dst.is_dir and not dirs.is_empty(vol, dst):
                raise FsError(errno.ENOTEMPTY, nn.decode(errors="replace"))
        moving_dir = src.is_dir and new_dir != old_dir
        if moving_dir:
            cur = new_dir
            while True:                     # is new_dir inside src?
                if cur == src_ino:
                    raise FsError(errno.EINVAL, "cannot move a directory into itself")
                if cur == ROOT_INO:
                    break
                cur = self._find(self._dir(cur), b"..")
            if dst is None and nd.links >= LINK_MAX:
                raise FsError(errno.EMLINK, f"directory {new_dir} is full of links")
        ft = file_type(src.mode)
        if dst is None:
            dirs.add(vol, nd, nn, src_ino, ft)
        else:
            dirs.retarget(vol, nd, nn, src_ino, ft)
        dirs.remove(vol, od, on)
        if moving_dir:
            dirs.retarget(vol, src, b"..", new_dir, FT_DIR)
            od.links -= 1
            nd.links += 1
        if dst is not None and dst.is_dir:
            nd.links -= 1
        src.ctime = vol.now()
        vol.put_inode(src)
        vol.put_inode(od)
        if nd is not od:
            vol.put_inode(nd)
        if dst is not None:
            self._drop(dst)
