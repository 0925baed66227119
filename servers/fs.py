"""The file server (task 16, name "fs"): ext2 on the ATA disk, through its driver.

It mounts the node's disk by the block protocol of the user-level `ata0` driver (no
back door into the device), and serves the fs protocol (servers/fsproto.py) by inode
number. The ext2 buffer cache (servers/ext2/cache.py) is written back in order on
SYNC, every few seconds when idle, and when the server stops; so data a program synced
survives a crash of this server or of the disk driver (root restarts both; the client
library retries). One request at a time: ext2 here has no locking.

It is also a pager: MAP maps a page of its page cache (servers/fscache.py) holding a
file page into the client's window; WRITE and TRUNCATE keep those pages up to date.
"""
from __future__ import annotations

import errno
import logging

from drivers.client import BlockDevice, DeviceError
from microkernel.abi import ROOT_TASK, Fpage, MapItem, Msg
from microkernel.user.serve import serve

from . import fsproto as P
from .ext2 import Ext2
from .ext2.errors import FsError
from .fscache import PageCache
from .names import register

__all__ = ["main", "FsServer", "DriverDisk"]

log = logging.getLogger("mk.fs")
WRITE_BACK = 5.0              # seconds of quiet before dirty blocks go to the disk
SECTORS_PER_CALL = 256


class DriverDisk:
    """The ext2 library's block device, over the ata0 driver's block protocol."""

    def __init__(self, dev: BlockDevice):
        self.dev = dev
        self.sectors, _ = dev.info()

    def read(self, lba: int, count: int) -> bytes:
        out = bytearray()
        while count > 0:
            n = min(count, SECTORS_PER_CALL)
            out += self.dev.read(lba, n)
            lba, count = lba + n, count - n
        return bytes(out)

    def write(self, lba: int, data: bytes) -> None:
        step = SECTORS_PER_CALL * 512
        for off in range(0, len(data), step):
            self.dev.write(lba + off // 512, data[off:off + step])

    def flush(self) -> None:
        self.dev.flush()


def _w(*values: int) -> tuple:
    return tuple(v & 0xFFFFFFFF for v in values)


class FsServer:
    """One request in, one reply out; every failure is an errno reply."""

    def __init__(self, fs: Ext2, cache: PageCache | None = None):
        self.fs = fs
        self.cache = cache
        self.dirty = False
        self.handlers = {
            P.RESOLVE: self.resolve, P.LOOKUP: self.lookup, P.STAT: self.stat,
            P.READ: self.read, P.WRITE: self.write, P.TRUNCATE: self.truncate,
            P.CREATE: self.create, P.MKDIR: self.mkdir, P.UNLINK: self.unlink,
            P.RMDIR: self.rmdir, P.RENAME: self.rename, P.LINK: self.link,
            P.READDIR: self.readdir, P.CHMOD: self.chmod, P.CHOWN: self.chown,
            P.SYNC: self.sync, P.STATFS: self.statfs, P.UTIMES: self.utimes,
            P.MAP: self.map, P.MAPINFO: self.mapinfo}

    def handle(self, msg: Msg) -> Msg:
        w = msg.words
        handler = self.handlers.get(w[0]) if w else None
        if handler is None:
            return Msg(words=(errno.EINVAL,))
        try:
            words, strings, *items = handler(w[1:], [bytes(s) for s in msg.strings])
        except FsError as e:
            return Msg(words=(e.errno or errno.EIO,))
        except OSError as e:                     # the disk driver failed
            return Msg(words=(e.errno or errno.EIO,))
        except DeviceError:
            return Msg(words=(errno.EIO,))
        except (ValueError, IndexError, TypeError, UnicodeError):
            return Msg(words=(errno.EINVAL,))
        return Msg(words=(0, *_w(*words)), strings=tuple(strings),
                   items=tuple(items[0]) if items else ())

    def _node(self, ino: int) -> tuple:
        s = self.fs.stat(ino)
        return (ino, s.mode, s.size & 0xFFFFFFFF, s.size >> 32)

    def resolve(self, a, s):
        return self._node(self.fs.resolve(s[0], a[0] or P.ROOT_INO, bool(a[1]))), ()

    def lookup(self, a, s):
        return self._node(self.fs.lookup(a[0], s[0])), ()

    def stat(self, a, s):
        st = self.fs.stat(a[0])
        return (a[0], st.mode, st.nlink, st.uid, st.gid, st.size & 0xFFFFFFFF, st.size >> 32,
                st.atime, st.mtime, st.ctime, st.blocks), ()

    def read(self, a, s):
        n = min(a[3], P.MAX_IO)
        return (), (self.fs.read(a[0], P.join64(a[1], a[2]), n),)

    def write(self, a, s):
        data = s[0][:P.MAX_IO]
        self.dirty = True
        offset = P.join64(a[1], a[2])
        n = self.fs.write(a[0], offset, data)
        if self.cache is not None:
            self.cache.written(a[0], offset, n)
        return (n,), ()

    def truncate(self, a, s):
        self.dirty = True
        self.fs.truncate(a[0], P.join64(a[1], a[2]))
        if self.cache is not None:
            self.cache.resized(a[0])
        return (), ()

    def create(self, a, s):
        self.dirty = True
        return (self.fs.create(a[0], s[0], a[1] & 0o7777, a[2], a[3]),), ()

    def mkdir(self, a, s):
        self.dirty = True
        return (self.fs.mkdir(a[0], s[0], a[1] & 0o7777, a[2], a[3]),), ()

    def unlink(self, a, s):
        self.dirty = True
        self.fs.unlink(a[0], s[0])
        self._gone()
        return (), ()

    def rmdir(self, a, s):
        self.dirty = True
        self.fs.rmdir(a[0], s[0])
        self._gone()
        return (), ()

    def rename(self, a, s):
        self.dirty = True
        self.fs.rename(a[0], s[0], a[1], s[1])
        self._gone()
        return (), ()

    def _gone(self) -> None:
        """A name went: cached pages of an inode that went with it are dropped."""
        if self.cache is not None:
            self.cache.check_inodes()

    def link(self, a, s):
        self.dirty = True
        self.fs.link(a[0], a[1], s[0])
        return (), ()

    def readdir(self, a, s):
        entries = self.fs.readdir(a[0])
        start = a[1]
        page = entries[start:start + P.MAX_ENTRIES]
        nxt = start + len(page) if start + len(page) < len(entries) else 0
        return (nxt,), tuple(f"{n}\0{i}\0{t}".encode() for n, i, t in page)

    def chmod(self, a, s):
        self.dirty = True
        self.fs.chmod(a[0], a[1])
        return (), ()

    def chown(self, a, s):
        self.dirty = True
        self.fs.chown(a[0], a[1], a[2])
        return (), ()

    def sync(self, a=(), s=()):
        self.fs.sync()
        self.dirty = False
        return (), ()

    def statfs(self, a, s):
        f = self.fs.statfs()
        return (f.block_size, f.blocks, f.bfree, f.files, f.ffree), ()

    def utimes(self, a, s):
        self.dirty = True
        now = bool(a[1] & 1)
        self.fs.utimes(a[0], None if now else a[2], None if now else a[3])
        return (), ()

    def map(self, a, s):
        """MAP ino, page: a read-only map item of the cached page (the client's window
        says where it lands), and the file's size."""
        if self.cache is None:
            raise FsError(errno.ENODEV, "this fs server maps no files")
        addr = self.cache.map(a[0], a[1])
        size = self.fs.stat(a[0]).size
        return (size, size >> 32), (), (MapItem(Fpage(addr, 12, False), 0),)

    def mapinfo(self, a, s):
        if self.cache is None:
            return (0, 0, 0, 0, 0), ()
        return self.cache.info(), ()


def main(rt, name, names_id) -> None:
    names = int(names_id)
    disk = DriverDisk(BlockDevice(rt, names, "ata0", retry_for=30.0))
    fs = Ext2(disk)
    server = FsServer(fs, PageCache(rt, fs))
    register(rt, names, P.FS_NAME)
    log.info("fs: ext2 mounted, %d sectors", disk.sectors)

    def handle(msg: Msg) -> Msg | None:
        if msg.words[:1] == (P.UMOUNT,) and msg.sender.task == ROOT_TASK:
            fs.close()                              # written back and marked clean
            rt.send(msg.sender, Msg(words=(0,)), timeout=1.0)
            log.info("fs: unmounted")
            raise SystemExit(0)
        return server.handle(msg)
    serve(rt, handle, timeout=WRITE_BACK,
          on_idle=lambda: server.sync() if server.dirty else None)
