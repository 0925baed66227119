"""The fs protocol: ext2 by inode number (servers/fs.py serves it, task 16, name "fs").

Inode 2 is the root directory. Offsets and sizes are 64-bit (`:64`, two words). READ and
WRITE move at most MAX_IO bytes; READDIR answers at most MAX_ENTRIES entries a time,
each b"name\\0ino\\0type", and the cookie to go on from (0: the end). A cookie is
the byte offset of the next entry in the directory (`start` 0: from the beginning), so
each page costs the server only the blocks it lists; one that no longer falls on an
entry, because the directory changed, resumes at the next entry.

    RESOLVE   cwd_ino follow | path          -> ino mode size:64   (cwd 0: the root)
    OPEN      cwd_ino mode uid gid excl | path -> ino mode size:64 created   RESOLVE
                                                that creates a regular file when only
                                                the last name is missing (open O_CREAT
                                                in one round trip); excl: EEXIST if
                                                the path exists
    LOAD      cwd_ino count | path           -> ino mode size:64 | data   RESOLVE
                                                (following links) and READ of the first
                                                count bytes of a regular file (none of
                                                anything else): exec's program in one
                                                round trip
    LOOKUP    dir_ino | name                 -> ino mode size:64
    STAT      ino                            -> ino mode nlink uid gid size:64 atime
                                                mtime ctime blocks
    READ      ino off:64 count               -> | data     short at the end of the file
    WRITE     ino off:64 | data              -> written
    TRUNCATE  ino size:64                    ->
    CREATE    dir_ino mode uid gid | name    -> ino        (MKDIR the same)
    UNLINK    dir_ino | name                 ->            (RMDIR the same)
    RENAME    old_dir new_dir | old new      ->
    LINK      ino dir_ino | name             ->
    READDIR   dir_ino start                  -> next | *entries
    CHMOD     ino mode                       ->
    CHOWN     ino uid gid                    ->
    SYNC                                     ->   every dirty block on the disk
    STATFS                                   -> bsize blocks bfree files ffree
    UMOUNT                                   ->   write back, mark clean, stop (root only,
                                                  at `mk down`)
    UTIMES    ino now atime mtime            ->   (now = 1: both times become now)
    MAP       ino page                       -> size:64 + a read-only map item of the
                                                page cache's page holding file bytes
                                                [page*4096, +4096) (zeros past the end),
                                                into the caller's receive window
    MAPINFO                                  -> maps loads cached capacity flushes
    SYMLINK   dir_ino uid gid | name target  -> ino        (a symbolic link to target)
    READLINK  ino                            -> | target   (EINVAL: no symbolic link)

Errors are the errno of the failing ext2 operation (ENOENT, ENOTDIR, ENOSPC, ...). A
request that meets a dead fs server fails with EIO and is not resent (what the dead
server had not written back is gone, and only the caller knows what to do again); the
next request goes to the restarted server. Lookups and reads are resent.
"""
from __future__ import annotations

import enum
import errno
from typing import NamedTuple

from microkernel.abi import Fpage

from .client import Service, ServiceError
from .interface import Interface, Who, call

__all__ = ["Op", "FS", "FsClient", "Stat", "StatFs", "Node", "STAT_FIELDS", "STATFS_FIELDS",
           "MAX_IO", "MAX_ENTRIES", "ROOT_INO"]

MAX_IO = 64 << 10                # bytes per READ or WRITE
MAX_ENTRIES = 30                 # directory entries per READDIR reply
ROOT_INO = 2
CALL_TIMEOUT = 30.0              # a request the fs server never answers is ETIMEDOUT
_NODE = "ino mode size:64"
STAT_FIELDS = "ino mode nlink uid gid size:64 atime mtime ctime blocks"
STATFS_FIELDS = "bsize blocks bfree files ffree"


class Op(enum.IntEnum):
    RESOLVE = 0x4601
    LOOKUP = 0x4602
    STAT = 0x4603
    READ = 0x4604
    WRITE = 0x4605
    TRUNCATE = 0x4606
    CREATE = 0x4607
    MKDIR = 0x4608
    UNLINK = 0x4609
    RMDIR = 0x460A
    RENAME = 0x460B
    LINK = 0x460C
    READDIR = 0x460D
    CHMOD = 0x460E
    CHOWN = 0x460F
    SYNC = 0x4610
    STATFS = 0x4611
    UMOUNT = 0x4612
    UTIMES = 0x4613
    MAP = 0x4614
    MAPINFO = 0x4615
    SYMLINK = 0x4616
    READLINK = 0x4617
    OPEN = 0x4618
    LOAD = 0x4619


FS = Interface("fs", Op, {
    Op.RESOLVE: call("cwd_ino follow | path", _NODE, retry=True),
    Op.OPEN: call("cwd_ino mode uid gid excl | path", _NODE + " created"),
    Op.LOAD: call("cwd_ino count | path", _NODE + " | data", retry=True),
    Op.LOOKUP: call("dir_ino | name", _NODE, retry=True),
    Op.STAT: call("ino", STAT_FIELDS, retry=True),
    Op.READ: call("ino off:64 count", "| data", retry=True),
    Op.WRITE: call("ino off:64 | data", "written"),
    Op.TRUNCATE: call("ino size:64"),
    Op.CREATE: call("dir_ino mode uid gid | name", "ino"),
    Op.MKDIR: call("dir_ino mode uid gid | name", "ino"),
    Op.UNLINK: call("dir_ino | name"),
    Op.RMDIR: call("dir_ino | name"),
    Op.RENAME: call("old_dir new_dir | old new"),
    Op.LINK: call("ino dir_ino | name"),
    Op.READDIR: call("dir_ino start", "next | *entries", retry=True),
    Op.CHMOD: call("ino mode"),
    Op.CHOWN: call("ino uid gid"),
    Op.SYNC: call(),
    Op.STATFS: call("", STATFS_FIELDS, retry=True),
    Op.UMOUNT: call(who=Who.ROOT),
    Op.UTIMES: call("ino now atime mtime"),
    Op.MAP: call("ino page", "size:64"),
    Op.MAPINFO: call("", "maps loads cached capacity flushes", retry=True),
    Op.SYMLINK: call("dir_ino uid gid | name target", "ino"),
    Op.READLINK: call("ino", "| target", retry=True),
})

Stat = FS.ops[Op.STAT].reply.type
StatFs = FS.ops[Op.STATFS].reply.type


class Node(NamedTuple):
    ino: int
    mode: int
    size: int


def _b(s) -> bytes:
    return s.encode() if isinstance(s, str) else bytes(s)


class FsClient(Service):
    """The fs protocol as methods; every failure is an OSError (ServiceError)."""

    iface = FS
    name = "fs"
    timeout = CALL_TIMEOUT

    def resolve(self, cwd_ino: int, path, follow: bool = True) -> Node:
        """(ino, mode, size) of `path`, relative paths from directory `cwd_ino`."""
        return Node(*self.call(Op.RESOLVE, cwd_ino, int(follow), _b(path)))

    def lookup(self, dir_ino: int, name) -> Node:
        return Node(*self.call(Op.LOOKUP, dir_ino, _b(name)))

    def stat(self, ino: int) -> Stat:
        return self.call(Op.STAT, ino)

    def read(self, ino: int, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset` (short at the end of the file)."""
        out = bytearray()
        while count > 0:
            n = min(count, MAX_IO)
            data = self.call(Op.READ, ino, offset, n).data
            out += data
            if len(data) < n:
                break
            offset, count = offset + n, count - n
        return bytes(out)

    def load(self, cwd_ino: int, path, count: int = MAX_IO) -> tuple[Node, bytes]:
        """(RESOLVE of `path`, following links; the first `count` bytes of it, at most
        MAX_IO, if it is a regular file, else b"") in one round trip."""
        r = self.call(Op.LOAD, cwd_ino, count, _b(path))
        return Node(r.ino, r.mode, r.size), r.data

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write all of `data` at `offset` (in MAX_IO requests); the bytes written."""
        done, view = 0, memoryview(bytes(data))
        while done < len(view):
            n = self.call(Op.WRITE, ino, offset + done, bytes(view[done:done + MAX_IO])).written
            if n == 0:
                break
            done += n
        return done

    def truncate(self, ino: int, size: int) -> None:
        self.call(Op.TRUNCATE, ino, size)

    def open(self, cwd_ino: int, path, mode: int = 0o644, excl: bool = False, uid: int = 0,
             gid: int = 0) -> tuple[Node, bool]:
        """(the node at `path`, whether OPEN created it as an empty regular file)."""
        r = self.call(Op.OPEN, cwd_ino, mode, uid, gid, int(excl), _b(path))
        return Node(r.ino, r.mode, r.size), bool(r.created)

    def create(self, dir_ino: int, name, mode: int = 0o644, uid: int = 0, gid: int = 0) -> int:
        return self.call(Op.CREATE, dir_ino, mode, uid, gid, _b(name)).ino

    def mkdir(self, dir_ino: int, name, mode: int = 0o755, uid: int = 0, gid: int = 0) -> int:
        return self.call(Op.MKDIR, dir_ino, mode, uid, gid, _b(name)).ino

    def unlink(self, dir_ino: int, name) -> None:
        self.call(Op.UNLINK, dir_ino, _b(name))

    def rmdir(self, dir_ino: int, name) -> None:
        self.call(Op.RMDIR, dir_ino, _b(name))

    def rename(self, old_dir: int, old, new_dir: int, new) -> None:
        self.call(Op.RENAME, old_dir, new_dir, _b(old), _b(new))

    def link(self, ino: int, dir_ino: int, name) -> None:
        self.call(Op.LINK, ino, dir_ino, _b(name))

    def readdir(self, dir_ino: int, start: int = 0) -> tuple[int, list[tuple[bytes, int, int]]]:
        """(next cookie, 0 at the end; [(name, ino, type), ...]) from cookie `start`."""
        r = self.call(Op.READDIR, dir_ino, start)
        entries = []
        for s in r.entries:
            name, ino, typ = s.split(b"\0")
            entries.append((name, int(ino), int(typ)))
        return r.next, entries

    def listdir(self, dir_ino: int) -> list[tuple[bytes, int, int]]:
        """Every entry of a directory (all READDIR pages)."""
        out, start = [], 0
        while True:
            start, entries = self.readdir(dir_ino, start)
            out += entries
            if not start:
                return out

    def chmod(self, ino: int, mode: int) -> None:
        self.call(Op.CHMOD, ino, mode)

    def chown(self, ino: int, uid: int, gid: int) -> None:
        self.call(Op.CHOWN, ino, uid, gid)

    def symlink(self, dir_ino: int, name, target, uid: int = 0, gid: int = 0) -> int:
        return self.call(Op.SYMLINK, dir_ino, uid, gid, _b(name), _b(target)).ino

    def readlink(self, ino: int) -> bytes:
        return self.call(Op.READLINK, ino).target

    def sync(self) -> None:
        self.call(Op.SYNC)

    def statfs(self) -> StatFs:
        return self.call(Op.STATFS)

    def umount(self, timeout: float = 10.0) -> None:
        """Write back, mark the file system clean, and stop the server (root only)."""
        self.call(Op.UMOUNT, timeout=timeout)

    def utimes(self, ino: int, times: tuple[int, int] | None = None) -> None:
        """Set (atime, mtime) of `ino`; None: both now."""
        a, m = (0, 0) if times is None else times
        self.call(Op.UTIMES, ino, int(times is None), int(a) & 0xFFFFFFFF, int(m) & 0xFFFFFFFF)

    def map(self, ino: int, page: int, window: Fpage) -> int:
        """Have page `page` of file `ino` mapped (read-only) into `window` of my space
        from the fs server's page cache; returns the file's size."""
        r, msg = self.call_msg(Op.MAP, ino, page, window=window)
        if not msg.fpage_received:
            raise ServiceError(errno.EIO, "fs MAP: answered without a mapping")
        return r.size

    def mapinfo(self) -> dict:
        """The page cache's counters: maps served, pages loaded, cached, capacity, flushes."""
        return self.call(Op.MAPINFO)._asdict()
