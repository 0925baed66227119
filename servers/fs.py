"""The file server (task 16, name "fs"): ext2 on the ATA disk, through its driver.

It mounts the node's disk by the block protocol of the user-level `ata0` driver
(protocols/block.py; no back door into the device), and serves the fs protocol
(protocols/fs.py) by inode number: `protocols.serve` with a `Dispatch` of FS, each
operation a method of `FsServer` named after it. The ext2 buffer cache
(servers/ext2/cache.py) is written back in order on SYNC, every few seconds when idle,
and when the server stops (UMOUNT, from root only); so data a program synced survives a
crash of this server or of the disk driver (root restarts both; the clients retry what
is safe to). One request at a time: ext2 here has no locking.

It is also a pager: MAP maps a page of its page cache (servers/fscache.py) holding a
file page into the client's window; WRITE and TRUNCATE keep those pages up to date.

A disk that cannot be mounted at all (not ext2, unsupported features, corrupt
superblock or descriptors) stops the server at once with a logged reason and exit
status EXIT_UNMOUNTABLE; one that is unsafe to write is served read-only (every change
answers EROFS), the reason logged, as is corruption met later (EIO, then EROFS).
"""
from __future__ import annotations

import errno
import logging
import os
import stat as S

from microkernel.abi import Fpage, MapItem
from protocols import Dispatch, Reply, ServiceError, send_reply, serve, wellknown
from protocols.block import BlockDevice
from protocols.fs import FS, MAX_ENTRIES, MAX_IO, ROOT_INO, Op
from protocols.names import Names
from protocols.root import Root

from .ext2 import Ext2
from .ext2.errors import FsError
from .fscache import PageCache

__all__ = ["main", "mount", "FsServer", "DriverDisk", "EXIT_UNMOUNTABLE"]

log = logging.getLogger("mk.fs")
WRITE_BACK = 5.0              # seconds of quiet before dirty blocks go to the disk
DISK = "ata0"
EXIT_UNMOUNTABLE = 3          # the task's exit status when the disk cannot be mounted


class DriverDisk:
    """The ext2 library's block device, over the ata0 driver's block protocol (the
    client splits long transfers)."""

    def __init__(self, dev: BlockDevice):
        self.dev = dev
        self.sectors, _ = dev.info()

    def read(self, lba: int, count: int) -> bytes:
        return self.dev.read(lba, count)

    def write(self, lba: int, data: bytes) -> None:
        self.dev.write(lba, data)

    def flush(self) -> None:
        self.dev.flush()


class FsServer:
    """The fs protocol's handlers: (request, message) -> the reply values; an ext2 or
    disk failure is raised as an OSError and answered with its errno."""

    def __init__(self, rt, fs: Ext2, cache: PageCache | None = None):
        self.rt, self.fs, self.cache = rt, fs, cache
        self.dirty = False

    def write_back(self) -> None:
        """When idle: put dirty blocks on the disk, if there are any."""
        if self.dirty:
            self.sync(None, None)

    def _node(self, ino: int) -> tuple:
        s = self.fs.stat(ino)
        return ino, s.mode, s.size

    # -- lookups and reads -----------------------------------------------------------

    def resolve(self, req, msg):
        return self._node(self.fs.resolve(req.path, req.cwd_ino or ROOT_INO,
                                          bool(req.follow)))

    def open(self, req, msg):
        """RESOLVE; when only the last name is missing (the walk's ENOENT names the
        directory it stopped in), CREATE it there: open(O_CREAT) in one round trip."""
        try:
            ino = self.fs.resolve(req.path, req.cwd_ino or ROOT_INO, True)
        except FsError as e:
            if e.errno != errno.ENOENT or not getattr(e, "detail", ()):
                raise
            self.dirty = True
            name = req.path.rstrip(b"/").rsplit(b"/", 1)[-1]
            ino = self.fs.create(e.detail[0], name, req.mode & 0o7777, req.uid, req.gid)
            return (*self._node(ino), 1)
        if req.excl:
            raise OSError(errno.EEXIST, "exists")
        return (*self._node(ino), 0)

    def load(self, req, msg):
        """RESOLVE, and the first `count` bytes (at most MAX_IO) of a regular file."""
        ino, mode, size = self._node(self.fs.resolve(req.path, req.cwd_ino or ROOT_INO, True))
        n = min(req.count, size, MAX_IO) if S.S_ISREG(mode) else 0
        return ino, mode, size, self.fs.read(ino, 0, n) if n > 0 else b""

    def lookup(self, req, msg):
        return self._node(self.fs.lookup(req.dir_ino, req.name))

    def stat(self, req, msg):
        s = self.fs.stat(req.ino)
        return (req.ino, s.mode, s.nlink, s.uid, s.gid, s.size, s.atime, s.mtime,
                s.ctime, s.blocks)

    def read(self, req, msg):
        return (self.fs.read(req.ino, req.off, min(req.count, MAX_IO)),)

    def readdir(self, req, msg):
        """At most MAX_ENTRIES entries from cookie `start` (the byte offset of an entry
        in the directory, 0 its start); the next cookie (0: the end)."""
        page, nxt = self.fs.readdir_page(req.dir_ino, req.start, MAX_ENTRIES)
        return nxt, tuple(b"%s\0%d\0%d" % (os.fsencode(n), i, t) for n, i, t in page)

    def statfs(self, req, msg):
        f = self.fs.statfs()
        return f.block_size, f.blocks, f.bfree, f.files, f.ffree

    # -- changes -----------------------------------------------------------------------

    def write(self, req, msg):
        self.dirty = True
        n = self.fs.write(req.ino, req.off, req.data[:MAX_IO])
        if self.cache is not None:
            self.cache.written(req.ino, req.off, n)
        return (n,)

    def truncate(self, req, msg):
        self.dirty = True
        self.fs.truncate(req.ino, req.size)
        if self.cache is not None:
            self.cache.resized(req.ino)
        return ()

    def create(self, req, msg):
        self.dirty = True
        return (self.fs.create(req.dir_ino, req.name, req.mode & 0o7777, req.uid, req.gid),)

    def mkdir(self, req, msg):
        self.dirty = True
        return (self.fs.mkdir(req.dir_ino, req.name, req.mode & 0o7777, req.uid, req.gid),)

    def unlink(self, req, msg):
        self.dirty = True
        self.fs.unlink(req.dir_ino, req.name)
        return self._gone()

    def rmdir(self, req, msg):
        self.dirty = True
        self.fs.rmdir(req.dir_ino, req.name)
        return self._gone()

    def rename(self, req, msg):
        self.dirty = True
        self.fs.rename(req.old_dir, req.old, req.new_dir, req.new)
        return self._gone()

    def _gone(self) -> tuple:
        """A name went: cached pages of an inode that went with it are dropped."""
        if self.cache is not None:
            self.cache.check_inodes()
        return ()

    def link(self, req, msg):
        self.dirty = True
        self.fs.link(req.ino, req.dir_ino, req.name)
        return ()

    def symlink(self, req, msg):
        self.dirty = True
        return (self.fs.symlink(req.dir_ino, req.name, req.target, req.uid, req.gid),)

    def readlink(self, req, msg):
        return (os.fsencode(self.fs.readlink(req.ino)),)

    def chmod(self, req, msg):
        self.dirty = True
        self.fs.chmod(req.ino, req.mode)
        return ()

    def chown(self, req, msg):
        self.dirty = True
        self.fs.chown(req.ino, req.uid, req.gid)
        return ()

    def utimes(self, req, msg):
        """Both times now (`now` = 1), or the given ones."""
        self.dirty = True
        now = bool(req.now & 1)
        self.fs.utimes(req.ino, None if now else req.atime, None if now else req.mtime)
        return ()

    def sync(self, req, msg):
        self.fs.sync()
        self.dirty = False
        return ()

    def umount(self, req, msg):
        """Root only (the declaration says so): write back, mark clean, answer, stop."""
        self.fs.close()
        send_reply(self.rt, msg.sender, FS.reply(Op.UMOUNT))
        log.info("fs: unmounted")
        raise SystemExit(0)

    # -- the pager -----------------------------------------------------------------------

    def map(self, req, msg):
        """A read-only map item of the cached page (the client's window says where it
        lands), and the file's size."""
        if self.cache is None:
            raise FsError(errno.ENODEV, "this fs server maps no files")
        addr = self.cache.map(req.ino, req.page)
        return Reply((self.fs.stat(req.ino).size,), (MapItem(Fpage(addr, 12, False), 0),))

    def mapinfo(self, req, msg):
        return self.cache.info() if self.cache is not None else (0, 0, 0, 0, 0)


def mount(disk, give_up=lambda why: None) -> Ext2:
    """Ext2 on `disk`, read-write if it is safe (else read-only, saying why in the log);
    a disk that cannot be mounted at all is logged, told to `give_up(why)`, and ends
    the task (SystemExit with EXIT_UNMOUNTABLE)."""
    try:
        fs = Ext2(disk)
    except FsError as e:
        why = f"fs: cannot mount the disk: {e.strerror}"
        log.error("%s", why)
        give_up(why)
        raise SystemExit(EXIT_UNMOUNTABLE) from None
    if fs.readonly:
        log.warning("fs: ext2 mounted read-only, %d sectors: %s", disk.sectors,
                    fs.ro_reason)
    else:
        log.info("fs: ext2 mounted, %d sectors", disk.sectors)
    return fs


def _give_up(rt, why: str) -> None:
    """Root (the chief) hears that this server stops for good: no restart; boot fails."""
    try:
        Root(rt).give_up(why)
    except ServiceError as e:
        log.warning("fs: root did not hear why the fs server stops: %s", e)


def main(rt, name, names_id) -> None:
    """Mount the disk of `ata0`, register as "fs", serve until UMOUNT."""
    names = int(names_id)
    disk = DriverDisk(BlockDevice(rt, DISK, names=names, retry_for=30.0))
    fs = mount(disk, lambda why: _give_up(rt, why))
    server = FsServer(rt, fs, PageCache(rt, fs))
    Names(rt, tid=names).register(wellknown.FS)
    serve(rt, Dispatch(FS, server, rt), timeout=WRITE_BACK, on_idle=server.write_back)
