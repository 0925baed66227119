"""The fs protocol (docs/unix.md, "fs protocol"): opcodes, once, and a small client.

The fs server (task 16, name "fs") serves ext2 by inode number (2 is the root
directory). A request is `words[0] = opcode` then integer arguments, names and data as
byte strings; a reply is `words[0] = errno` (0 = success) then results. 64-bit values
(offsets, sizes) are two words, low then high. READ and WRITE move at most 64 KiB.

    RESOLVE   cwd_ino, follow | path       -> ino, mode, size lo, hi
    LOOKUP    dir_ino | name               -> ino, mode, size lo, hi
    STAT      ino                          -> ino, mode, nlink, uid, gid, size lo, hi,
                                              atime, mtime, ctime, blocks
    READ      ino, off lo, hi, count       -> | data
    WRITE     ino, off lo, hi | data       -> written
    TRUNCATE  ino, size lo, hi             ->
    CREATE    dir_ino, mode, uid, gid | name -> ino       (MKDIR the same)
    UNLINK    dir_ino | name               ->             (RMDIR the same)
    RENAME    old_dir, new_dir | old, new  ->
    LINK      ino, dir_ino | name          ->
    READDIR   dir_ino, start               -> next (0 = end) | name\\0ino\\0type x <= 30
    CHMOD     ino, mode                    ->
    CHOWN     ino, uid, gid                ->
    SYNC                                   ->
    STATFS                                 -> bsize, blocks, bfree, files, ffree
    UMOUNT                                 ->   write back, mark clean, and stop (root,
                                                at `mk down`)
    UTIMES    ino, now, atime, mtime       ->   (now = 1: both times become now)
    MAP       ino, page                    -> size lo, hi + a read-only map item of the
                                              page cache's page holding file bytes
                                              [page*4096, +4096) (zeros past the end),
                                              into the caller's receive window
    MAPINFO                                -> maps, loads, cached, capacity, flushes

MAP makes the fs server a pager (servers/fscache.py): every client mapping a file page
gets the same frame, which WRITE and TRUNCATE update in place (docs/unix.md, "mmap of
files"). `FsClient(rt, fs_id)` wraps it; errors raise `OSError(errno)`. Given no id it looks
"fs" up with the name server, and again after the server was restarted (the request
that met the dead server fails with EIO: see `call`).
"""
from __future__ import annotations

import errno
import os
import time
from typing import NamedTuple

from microkernel.abi import Fpage, IpcCode, IpcError, Msg, ThreadId

__all__ = ["RESOLVE", "LOOKUP", "STAT", "READ", "WRITE", "TRUNCATE", "CREATE", "MKDIR",
           "UNLINK", "RMDIR", "RENAME", "LINK", "READDIR", "CHMOD", "CHOWN", "SYNC",
           "STATFS", "UMOUNT", "UTIMES", "MAP", "MAPINFO", "OPS", "MAX_IO", "MAX_ENTRIES", "ROOT_INO", "FS_TASK", "FS_NAME",
           "Stat", "StatFs", "FsClient", "lo_hi", "join64"]

(RESOLVE, LOOKUP, STAT, READ, WRITE, TRUNCATE, CREATE, MKDIR, UNLINK, RMDIR, RENAME,
 LINK, READDIR, CHMOD, CHOWN, SYNC, STATFS, UMOUNT, UTIMES, MAP, MAPINFO) = range(0x4601, 0x4616)
OPS = {v: k for k, v in dict(globals()).items()
       if k.isupper() and isinstance(v, int) and 0x4601 <= v < 0x4616}
MAX_IO = 64 << 10               # bytes per READ or WRITE
MAX_ENTRIES = 30                # directory entries per READDIR reply
ROOT_INO = 2
FS_TASK = 16
FS_NAME = "fs"
CALL_TIMEOUT = 30.0             # a request the fs server never answers is EIO


class Stat(NamedTuple):
    ino: int
    mode: int
    nlink: int
    uid: int
    gid: int
    size: int
    atime: int
    mtime: int
    ctime: int
    blocks: int


class StatFs(NamedTuple):
    bsize: int
    blocks: int
    bfree: int
    files: int
    ffree: int


def lo_hi(v: int) -> tuple[int, int]:
    """A 64-bit value as two words, low then high."""
    return v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF


def join64(lo: int, hi: int) -> int:
    return lo | hi << 32


class FsClient:
    """The fs protocol as methods; every failure is OSError(errno)."""

    def __init__(self, rt, fs_id: int | None = None, names: int | None = None,
                 timeout: float = CALL_TIMEOUT):
        self.rt = rt
        self.fs = None if fs_id is None else ThreadId(int(fs_id))
        self.names = names
        self.timeout = timeout

    def _server(self, patience: float = 10.0) -> ThreadId:
        """The fs server's id; while it is not registered (booting, restarting) ask
        the name server again for up to `patience` seconds."""
        if self.fs is None:
            from drivers.client import lookup, names_id
            names = names_id(self.rt) if self.names is None else self.names
            deadline = time.monotonic() + patience
            while self.fs is None:
                self.fs = lookup(self.rt, names, FS_NAME)
                if self.fs is None:
                    if time.monotonic() > deadline:
                        raise OSError(errno.ENODEV, "no fs server registered")
                    self.rt.sleep(0.05)
        return self.fs

    def call(self, words: tuple, strings: tuple = (), window: Fpage | None = None) -> Msg:
        """One request; the reply when its errno is 0, else OSError. If the server
        died (it is restarted by root), this request fails with EIO and is NOT resent:
        what the dead server had not yet written back is gone, and only the caller
        can know what to do again. The next request goes to the new server."""
        fs = self._server()
        try:
            r = self.rt.call(fs, Msg(words=words, strings=strings), timeout=self.timeout,
                             window=window)
        except IpcError as e:
            if e.code in (IpcCode.NOT_EXISTENT, IpcCode.CANCELED):
                self.fs = None
            raise OSError(errno.EIO, f"fs server: {e}") from None
        if not r.words:
            raise OSError(errno.EIO, "empty reply from the fs server")
        if r.words[0]:
            raise OSError(r.words[0], os.strerror(r.words[0]))
        return r

    def resolve(self, cwd_ino: int, path: bytes | str, follow: bool = True) -> tuple[int, int, int]:
        """(ino, mode, size) of `path`, relative paths from directory `cwd_ino`."""
        w = self.call((RESOLVE, cwd_ino, int(follow)), (_b(path),)).words
        return w[1], w[2], join64(w[3], w[4])

    def lookup(self, dir_ino: int, name: bytes | str) -> tuple[int, int, int]:
        w = self.call((LOOKUP, dir_ino), (_b(name),)).words
        return w[1], w[2], join64(w[3], w[4])

    def stat(self, ino: int) -> Stat:
        w = self.call((STAT, ino)).words
        return Stat(w[1], w[2], w[3], w[4], w[5], join64(w[6], w[7]), w[8], w[9], w[10], w[11])

    def read(self, ino: int, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset` (short at the end of the file)."""
        out = bytearray()
        while count > 0:
            n = min(count, MAX_IO)
            r = self.call((READ, ino, *lo_hi(offset), n))
            data = bytes(r.strings[0]) if r.strings else b""
            out += data
            if len(data) < n:
                break
            offset += n
            count -= n
        return bytes(out)

    def write(self, ino: int, offset: int, data: bytes) -> int:
        """Write all of `data` at `offset` (in 64 KiB requests); the bytes written."""
        done, view = 0, memoryview(bytes(data))
        while done < len(view):
            r = self.call((WRITE, ino, *lo_hi(offset + done)), (bytes(view[done:done + MAX_IO]),))
            if r.words[1] == 0:
                break
            done += r.words[1]
        return done

    def truncate(self, ino: int, size: int) -> None:
        self.call((TRUNCATE, ino, *lo_hi(size)))

    def create(self, dir_ino: int, name, mode: int = 0o644, uid: int = 0, gid: int = 0) -> int:
        return self.call((CREATE, dir_ino, mode, uid, gid), (_b(name),)).words[1]

    def mkdir(self, dir_ino: int, name, mode: int = 0o755, uid: int = 0, gid: int = 0) -> int:
        return self.call((MKDIR, dir_ino, mode, uid, gid), (_b(name),)).words[1]

    def unlink(self, dir_ino: int, name) -> None:
        self.call((UNLINK, dir_ino), (_b(name),))

    def rmdir(self, dir_ino: int, name) -> None:
        self.call((RMDIR, dir_ino), (_b(name),))

    def rename(self, old_dir: int, old, new_dir: int, new) -> None:
        self.call((RENAME, old_dir, new_dir), (_b(old), _b(new)))

    def link(self, ino: int, dir_ino: int, name) -> None:
        self.call((LINK, ino, dir_ino), (_b(name),))

    def readdir(self, dir_ino: int, start: int = 0) -> tuple[int, list[tuple[bytes, int, int]]]:
        """(next cookie, 0 at the end; [(name, ino, type), ...]) from cookie `start`."""
        r = self.call((READDIR, dir_ino, start))
        entries = []
        for s in r.strings:
            name, ino, typ = bytes(s).split(b"\0")
            entries.append((name, int(ino), int(typ)))
        return r.words[1], entries

    def listdir(self, dir_ino: int) -> list[tuple[bytes, int, int]]:
        """Every entry of a directory (all READDIR pages)."""
        out, start = [], 0
        while True:
            start, entries = self.readdir(dir_ino, start)
            out += entries
            if not start:
                return out

    def chmod(self, ino: int, mode: int) -> None:
        self.call((CHMOD, ino, mode))

    def chown(self, ino: int, uid: int, gid: int) -> None:
        self.call((CHOWN, ino, uid, gid))

    def sync(self) -> None:
        self.call((SYNC,))

    def statfs(self) -> StatFs:
        return StatFs(*self.call((STATFS,)).words[1:6])

    def utimes(self, ino: int, times: tuple[int, int] | None = None) -> None:
        """Set (atime, mtime) of `ino`; None: both now."""
        a, m = (0, 0) if times is None else times
        self.call((UTIMES, ino, int(times is None), int(a) & 0xFFFFFFFF, int(m) & 0xFFFFFFFF))

    def map(self, ino: int, page: int, window: Fpage) -> int:
        """Have page `page` of file `ino` mapped (read-only) into `window` of my space
        from the fs server's page cache; returns the file's size."""
        r = self.call((MAP, ino, page), window=window)
        if not r.fpage_received:
            raise OSError(errno.EIO, "MAP answered without a mapping")
        return join64(r.words[1], r.words[2])

    def mapinfo(self) -> dict:
        """The page cache's counters: maps served, pages loaded, cached, capacity, flushes."""
        w = self.call((MAPINFO,)).words
        return dict(zip(("maps", "loads", "cached", "capacity", "flushes"), w[1:6]))


def _b(s) -> bytes:
    return s.encode() if isinstance(s, str) else bytes(s)
