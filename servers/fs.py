"""The file server (task 16, name "fs"): ext2 on the ATA disk, through its driver.

It mounts the node's disk by the block protocol of the user-level `ata0` driver (no
back door into the device), and serves the fs protocol (servers/fsproto.py) by inode
number. The ext2 buffer cache (servers/ext2/cache.py) is written back in order on
SYNC, every few seconds when idle, and when the server stops; so data a program synced
survives a crash of this server or of the disk driver (root restarts both; the client
library retries). One request at a time: ext2 here has no locking.
"""
from __future__ import annotations

import errno
import logging

from drivers.client import BlockDevice, DeviceError
from microkernel.abi import ROOT_TASK, Msg
from microkernel.user.serve import serve

from . import fsproto as P
from .ext2 import Ext2
from .ext2.errors import FsError
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

    def __init__(self, fs: Ext2):
        self.fs = fs
        self.dirty = False
        self.handlers = {
            P.RESOLVE: self.resolve, P.LOOKUP: self.lookup, P.STAT: self.stat,
            P.READ: self.read, P.WRITE: self.write, P.TRUNCATE: self.truncate,
            P.CREATE: self.create, P.MKDIR: self.mkdir, P.UNLINK: self.unlink,
            P.RMDIR: self.rmdir, P.RENAME: self.rename, P.LINK: self.link,
            P.READDIR: self.readdir, P.CHMOD: self.chmod, P.CHOWN: self.chown,
            P.SYNC: self.sync, P.STATFS: self.statfs}

    def handle(self, msg: Msg) -> Msg:
        w = msg.words
        handler = self.handlers.get(w[0]) if w else None
        if handler is None:
            return Msg(words=(errno.EINVAL,))
        try:
            words, strings = handler(w[1:], [bytes(s) for s in msg.strings])
        except FsError as e:
            return Msg(words=(e.errno or errno.EIO,))
        except OSError as e:                     # the disk driver failed
            return Msg(words=(e.errno or errno.EIO,))
        except DeviceError:
            return Msg(words=(errno.EIO,))
        except (ValueError, IndexError, TypeError, UnicodeError):
            return Msg(words=(errno.EINVAL,))
        return Msg(words=(0, *_w(*words)), strings=tuple(strings))

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
        return (self.fs.write(a[0], P.join64(a[1], a[2]), data),), ()

    def truncate(self, a, s):
        self.dirty = True
        self.fs.truncate(a[0], P.join64(a[1], a[2]))
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
        return (), ()

    def rmdir(self, a, s):
        self.dirty = True
        self.fs.rmdir(a[0], s[0])
        return (), ()

    def rename(self, a, s):
        self.dirty = True
        self.fs.rename(a[0], s[0], a[1], s[1])
        return (), ()

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


def main(rt, name, names_id) -> None:
    names = int(names_id)
    disk = DriverDisk(BlockDevice(rt, names, "ata0", retry_for=30.0))
    fs = Ext2(disk)
    server = FsServer(fs)
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
