"""Path lookup and directory listing on an ext2 volume.

A mixin of Ext2 (fs.py), which supplies `vol` and `_inode`. Names come from the disk, so
they are checked as they are used: a directory entry naming an inode that is not in use
is corruption (EIO, as Linux answers for a deleted inode referenced), while a handle
(an inode number a client passes) that is not in use is ENOENT.
"""
from __future__ import annotations

import errno
import os

from . import dir as dirs
from .bmap import map_block
from .errors import FsError
from .inode import FAST_SYMLINK_MAX, ROOT_INO, file_type

__all__ = ["Paths", "SYMLOOP_MAX", "encode", "check_name"]

SYMLOOP_MAX = 40


def encode(name) -> bytes:
    """A name or path as bytes (str encoded as os.fsencode)."""
    return os.fsencode(name) if isinstance(name, str) else bytes(name)


def check_name(name) -> bytes:
    """One path component as bytes; FsError if it cannot be a name."""
    nm = encode(name)
    if not nm:
        raise FsError(errno.ENOENT, "empty name")
    if len(nm) > dirs.NAME_MAX:
        raise FsError(errno.ENAMETOOLONG, f"name of {len(nm)} bytes")
    if b"/" in nm or b"\0" in nm:
        raise FsError(errno.EINVAL, f"bad character in name {nm!r}")
    return nm


class Paths:
    """Looking names up and listing directories."""

    def _dir(self, ino: int):
        d = self._inode(ino)
        if not d.is_dir:
            raise FsError(errno.ENOTDIR, f"inode {ino} is not a directory")
        return d

    def _find(self, d, nm: bytes):
        """The inode named `nm` in directory inode `d`, or None; EIO if the entry names
        an inode that is not in use."""
        hit = dirs.find(self.vol, d, nm)
        if hit is None:
            return None
        ino = hit[2]
        i = self.vol.get_inode(ino)
        if i.mode == 0 or (i.links == 0 and ino not in self._doomed):
            raise self.vol.corrupt(f"directory {d.ino}: entry {nm[:40]!r} names inode "
                                   f"{ino}, which is not in use")
        return ino

    def lookup(self, dir_ino: int, name) -> int:
        """The inode named `name` in directory `dir_ino`."""
        nm = check_name(name)
        ino = self._find(self._dir(dir_ino), nm)
        if ino is None:
            raise FsError(errno.ENOENT, nm.decode(errors="replace"))
        return ino

    def readdir(self, dir_ino: int) -> list[tuple[str, int, int]]:
        """(name, inode, file type FT_*) of every entry, "." and ".." included."""
        return [self._entry(*e) for e in dirs.listing(self.vol, self._dir(dir_ino))]

    def readdir_page(self, dir_ino: int, cookie: int = 0,
                     limit: int = 30) -> tuple[list[tuple[str, int, int]], int]:
        """Up to `limit` entries as readdir gives them, from `cookie` (0: the start), and
        the cookie to go on from (0: no more). A cookie is the byte offset of an entry
        in the directory: a page costs the blocks it lists, not the whole directory."""
        page, nxt = dirs.page(self.vol, self._dir(dir_ino), cookie, limit)
        return [self._entry(*e) for e in page], nxt

    def _entry(self, nm: bytes, ino: int, ft: int) -> tuple[str, int, int]:
        if not self.vol.filetype:
            ft = file_type(self.vol.get_inode(ino).mode)
        return os.fsdecode(nm), ino, ft

    # -- paths ------------------------------------------------------------------------

    def resolve(self, path, cwd_ino: int = ROOT_INO, follow: bool = True,
                cred: tuple[int, int] | None = None) -> int:
        """The inode at `path` (absolute, or relative to `cwd_ino`). Symbolic links are
        followed, the last one only if `follow`. With cred=(uid, gid), every directory
        passed needs search (x) permission (EACCES). When only the last name is
        missing, the ENOENT's `detail` is (the directory's inode,): open(O_CREAT)
        creates there with no second walk."""
        return self._walk(encode(path), cwd_ino, follow, cred, [SYMLOOP_MAX], top=True)

    def _walk(self, p: bytes, cur: int, follow: bool, cred, budget: list,
              top: bool = False) -> int:
        if not p:
            raise FsError(errno.ENOENT, "empty path")
        if p.startswith(b"/"):
            cur = ROOT_INO
        must_dir = p.endswith(b"/")
        parts = [c for c in p.split(b"/") if c]
        for k, comp in enumerate(parts):
            d = self._dir(cur)
            if cred is not None and not self.access(cur, cred[0], cred[1], 1):
                raise FsError(errno.EACCES, f"search permission on inode {cur}")
            ino = self._find(d, check_name(comp))
            if ino is None:
                err = FsError(errno.ENOENT, comp.decode(errors="replace"))
                if top and k == len(parts) - 1 and not must_dir:
                    err.detail = (cur,)   # where the missing last name would go (O_CREAT)
                raise err
            last = k == len(parts) - 1
            if (not last or follow or must_dir) and self._inode(ino).is_symlink:
                budget[0] -= 1
                if budget[0] < 0:
                    raise FsError(errno.ELOOP, "too many symbolic links")
                ino = self._walk(encode(self.readlink(ino)), cur, True, cred, budget)
            cur = ino
        if must_dir:
            self._dir(cur)
        return cur

    def split(self, path, cwd_ino: int = ROOT_INO, cred=None) -> tuple[int, str]:
        """(directory inode, last name) of `path`, for creating or removing it."""
        p = encode(path).rstrip(b"/")
        if not p:
            return ROOT_INO, "."
        head, _, tail = p.rpartition(b"/")
        if b"/" in p:
            d = self.resolve(head or b"/", cwd_ino, True, cred)
        else:
            d = cwd_ino
        return self._dir(d).ino, os.fsdecode(tail)

    def readlink(self, ino: int) -> str:
        """The target of symbolic link `ino`."""
        i = self._inode(ino)
        if not i.is_symlink:
            raise FsError(errno.EINVAL, f"inode {ino} is not a symbolic link")
        fast = self._fast_symlink(i)
        if i.size > (FAST_SYMLINK_MAX if fast else self.vol.block_size - 1):
            raise self.vol.corrupt(f"symbolic link {ino} has a bad size {i.size}")
        if fast:
            return os.fsdecode(bytes(i.raw[40:40 + i.size]))
        blk = map_block(self.vol, i, 0)
        data = self.vol.cache.get(blk)[:i.size] if blk else b""
        return os.fsdecode(bytes(data))
