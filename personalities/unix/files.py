"""System calls about file descriptors and files: open, close, read, write, lseek,
dup, dup2, pipe, stat, fstat, utime, readdir, mkdir, rmdir, unlink, rename, link,
chmod, symlink, readlink, umask, chdir, getcwd, sync, statfs, isatty, close-on-exec.

Paths go to the fs server (protocols/fs.py) relative to the process's cwd inode; the
server keeps the cwd's path too, for getcwd. /dev/null is the server's own; paths under
/net/NODE go to NODE's fs server by remote IPC (netfs.py). A read or
write that must wait parks its `Call` in the description (pipe.py, fd.py) and the
process's `blocked` slot, where a handled signal can interrupt it.

`FileCalls` is mixed into the server (server.py): each method is the handler of the
operation it is named after, `(req, msg)` -> the reply values, or None when the call
waits; an OSError is the reply's errno.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat as S

from protocols.unix import PATH_MAX

from .fd import File, Null, PipeEnd
from .netfs import not_here
from .pipe import Pipe
from .signals import deliver, post

__all__ = ["FileCalls", "MAX_IO", "split_path", "join_path"]

MAX_IO = 256 << 10
DEV_NULL = "/dev/null"
SIGPIPE = 13


def _path(raw: bytes) -> str:
    if not raw or b"\0" in raw or len(raw) > PATH_MAX:
        raise OSError(errno.ENOENT if not raw else errno.EINVAL, "bad path")
    return raw.decode()


def join_path(cwd: str, path: str) -> str:
    """The absolute, normalised form of `path` seen from directory `cwd`."""
    p = posixpath.normpath(posixpath.join(cwd, path))
    return "/" + p.lstrip("/")


def split_path(srv, proc, path: str) -> tuple:
    """(fs client, inode of the parent directory, last name) of `path`."""
    fs, cwd, path = srv.net.route(proc.cwd, path)
    if fs is None:
        raise not_here()
    path = path.rstrip("/") or "/"
    parent, name = posixpath.split(path)
    if name in ("", ".", ".."):
        if not name:
            fs.resolve(cwd, path, True)         # /net/NODE of no node: ENOENT
        raise OSError(errno.EINVAL if name else errno.EEXIST, "bad last component")
    if not parent:
        return fs, cwd, name
    ino, mode, _ = fs.resolve(cwd, parent, True)
    if not S.S_ISDIR(mode):
        raise OSError(errno.ENOTDIR, "not a directory")
    return fs, ino, name


def where(srv, proc, path: str) -> tuple:
    """(fs client, start inode, path) of `path`; EISDIR for the /net directory."""
    fs, cwd, path = srv.net.route(proc.cwd, path)
    if fs is None:
        raise OSError(errno.EISDIR, "is a directory")
    return fs, cwd, path


def park(proc, call) -> None:
    """The main thread's call waits; a signal already pending interrupts it now."""
    proc.blocked = call
    deliver(proc)


class FileCalls:
    """The handlers of descriptors and files (see the module docstring)."""

    # -- descriptors ------------------------------------------------------------------

    def open(self, req, msg):
        proc = self.procs.caller(msg.sender)
        desc = self.open_file(proc, req.flags, req.mode, req.path)
        return (proc.fds.install(desc, cloexec=bool(req.flags & os.O_CLOEXEC)),)

    def open_file(self, proc, flags: int, mode: int, raw: bytes):
        """The description of `raw` (a path) opened for `proc` (its cwd, its umask)."""
        path = _path(raw)
        if join_path(proc.cwd[1], path) == DEV_NULL:
            return Null(flags)
        writing = flags & 3 in (os.O_WRONLY, os.O_RDWR)
        fs, cwd, rel = where(self, proc, path)
        try:
            if flags & os.O_CREAT:               # one fs call, creating the file if new
                mode &= 0o7777 & ~proc.umask
                (ino, fmode, _), _ = fs.open(cwd, rel, mode, bool(flags & os.O_EXCL))
            else:
                ino, fmode, _ = fs.resolve(cwd, rel, True)
        except OSError as e:
            if e.errno != errno.ENOENT or not flags & os.O_CREAT:
                raise
            fs, dir_ino, name = split_path(self, proc, path)   # (a dangling symlink: EEXIST)
            ino = fs.create(dir_ino, name, mode)
            fmode = S.S_IFREG | mode
        if S.S_ISDIR(fmode) and (writing or flags & os.O_TRUNC):
            raise OSError(errno.EISDIR, "is a directory")
        if flags & os.O_DIRECTORY and not S.S_ISDIR(fmode):
            raise OSError(errno.ENOTDIR, "not a directory")
        if flags & os.O_TRUNC and writing and S.S_ISREG(fmode):
            fs.truncate(ino, 0)
        return File(ino, fmode, flags, join_path(proc.cwd[1], path), fs)

    def close(self, req, msg):
        self.procs.caller(msg.sender).fds.close(req.fd)
        return ()

    def dup(self, req, msg):
        return (self.procs.caller(msg.sender).fds.dup(req.fd),)

    def dup2(self, req, msg):
        return (self.procs.caller(msg.sender).fds.dup2(req.fd, req.fd2),)

    def cloexec(self, req, msg):
        self.procs.caller(msg.sender).fds.set_cloexec(req.fd, bool(req.on))
        return ()

    def pipe(self, req, msg):
        proc = self.procs.caller(msg.sender)
        p = Pipe(on_epipe=lambda who: post(self, who, SIGPIPE) if who is not None else None)
        r = proc.fds.install(PipeEnd(p, False))
        try:
            w = proc.fds.install(PipeEnd(p, True))
        except OSError:
            proc.fds.close(r)
            raise
        return r, w

    def read(self, req, msg):
        proc = self.procs.caller(msg.sender)
        desc = proc.fds.get(req.fd)
        if not desc.readable():
            raise OSError(errno.EBADF, "not open for reading")
        call = self.later(msg, proc)
        data = desc.read(self, call, min(req.count, MAX_IO))
        if data is None:
            park(proc, call)
            return None
        return (data,)

    def write(self, req, msg):
        proc = self.procs.caller(msg.sender)
        desc = proc.fds.get(req.fd)
        if not desc.writable():
            raise OSError(errno.EBADF, "not open for writing")
        call = self.later(msg, proc)
        n = desc.write(self, call, req.data)
        if n is None:
            park(proc, call)
            return None
        return (n,)

    def lseek(self, req, msg):
        """The new offset; `off` is two's complement (a negative offset from the end)."""
        off = req.off - (1 << 64) if req.off >> 63 else req.off
        pos = self.procs.caller(msg.sender).fds.get(req.fd).lseek(self, off, req.whence)
        return (pos,)

    def isatty(self, req, msg):
        return (int(self.procs.caller(msg.sender).fds.get(req.fd).isatty),)

    def fstat(self, req, msg):
        return self.procs.caller(msg.sender).fds.get(req.fd).stat(self)

    # -- names ------------------------------------------------------------------------

    def stat(self, req, msg):
        proc = self.procs.caller(msg.sender)
        path = _path(req.path)
        if join_path(proc.cwd[1], path) == DEV_NULL:
            return Null().stat(self)
        fs, cwd, rel = self.net.route(proc.cwd, path)
        if fs is None:
            return self.net.stat()
        ino, _, _ = fs.resolve(cwd, rel, bool(req.follow))
        return tuple(fs.stat(ino))

    def utime(self, req, msg):
        """Set atime and mtime of a path (now = 1: both now)."""
        proc = self.procs.caller(msg.sender)
        path = _path(req.path)
        if join_path(proc.cwd[1], path) == DEV_NULL:
            return ()
        fs, cwd, rel = self.net.route(proc.cwd, path)
        if fs is None:
            raise not_here()
        ino, _, _ = fs.resolve(cwd, rel, True)
        fs.utimes(ino, None if req.now & 1 else (req.atime, req.mtime))
        return ()

    def readdir(self, req, msg):
        proc = self.procs.caller(msg.sender)
        fs, cwd, rel = self.net.route(proc.cwd, _path(req.path))
        if fs is None:
            return self.net.entries(req.start)
        ino, mode, _ = fs.resolve(cwd, rel, True)
        if not S.S_ISDIR(mode):
            raise OSError(errno.ENOTDIR, "not a directory")
        nxt, entries = fs.readdir(ino, req.start)
        return nxt, tuple(b"%s\0%d\0%d" % e for e in entries)

    def mkdir(self, req, msg):
        proc = self.procs.caller(msg.sender)
        fs, dir_ino, name = split_path(self, proc, _path(req.path))
        fs.mkdir(dir_ino, name, req.mode & 0o7777 & ~proc.umask)
        return ()

    def rmdir(self, req, msg):
        fs, dir_ino, name = split_path(self, self.procs.caller(msg.sender), _path(req.path))
        fs.rmdir(dir_ino, name)
        return ()

    def unlink(self, req, msg):
        fs, dir_ino, name = split_path(self, self.procs.caller(msg.sender), _path(req.path))
        _, mode, _ = fs.lookup(dir_ino, name)
        if S.S_ISDIR(mode):
            raise OSError(errno.EISDIR, "is a directory")
        fs.unlink(dir_ino, name)
        return ()

    def rename(self, req, msg):
        proc = self.procs.caller(msg.sender)
        fs, old_dir, old = split_path(self, proc, _path(req.old))
        new_fs, new_dir, new = split_path(self, proc, _path(req.new))
        if new_fs is not fs:
            raise OSError(errno.EXDEV, "across nodes")
        fs.rename(old_dir, old, new_dir, new)
        return ()

    def link(self, req, msg):
        proc = self.procs.caller(msg.sender)
        fs, cwd, rel = where(self, proc, _path(req.old))
        ino, mode, _ = fs.resolve(cwd, rel, False)
        if S.S_ISDIR(mode):
            raise OSError(errno.EPERM, "a directory")
        new_fs, dir_ino, name = split_path(self, proc, _path(req.new))
        if new_fs is not fs:
            raise OSError(errno.EXDEV, "across nodes")
        new_fs.link(ino, dir_ino, name)
        return ()

    def chmod(self, req, msg):
        fs, cwd, rel = where(self, self.procs.caller(msg.sender), _path(req.path))
        ino, _, _ = fs.resolve(cwd, rel, True)
        fs.chmod(ino, req.mode & 0o7777)
        return ()

    def symlink(self, req, msg):
        """A symbolic link at `path` holding `target` (not looked at: it may dangle)."""
        proc = self.procs.caller(msg.sender)
        fs, dir_ino, name = split_path(self, proc, _path(req.path))
        fs.symlink(dir_ino, name, _path(req.target))
        return ()

    def readlink(self, req, msg):
        fs, cwd, rel = where(self, self.procs.caller(msg.sender), _path(req.path))
        ino, mode, _ = fs.resolve(cwd, rel, False)
        if not S.S_ISLNK(mode):
            raise OSError(errno.EINVAL, "not a symbolic link")
        return (fs.readlink(ino),)

    def umask(self, req, msg):
        proc = self.procs.caller(msg.sender)
        old, proc.umask = proc.umask, req.mask & 0o777
        return (old,)

    def chdir(self, req, msg):
        proc = self.procs.caller(msg.sender)
        path = _path(req.path)
        fs, cwd, rel = self.net.route(proc.cwd, path)
        ino, mode = (0, S.S_IFDIR) if fs is None else fs.resolve(cwd, rel, True)[:2]
        if not S.S_ISDIR(mode):
            raise OSError(errno.ENOTDIR, "not a directory")
        proc.cwd = (ino, join_path(proc.cwd[1], path))
        return ()

    def getcwd(self, req, msg):
        return (self.procs.caller(msg.sender).cwd[1].encode(),)

    def sync(self, req, msg):
        self.procs.caller(msg.sender)
        self.fs.sync()
        return ()

    def statfs(self, req, msg):
        self.procs.caller(msg.sender)
        return tuple(self.fs.statfs())
