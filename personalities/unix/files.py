"""System calls about file descriptors and files: open, close, read, write, lseek,
dup, dup2, pipe, stat, fstat, utime, readdir, mkdir, rmdir, unlink, rename, link,
chdir, getcwd, sync, statfs, isatty, close-on-exec.

Paths go to the fs server (servers/fsproto.py) relative to the process's cwd inode;
the server keeps the cwd's path too, for getcwd. /dev/null is the server's own. A read
or write that must wait parks its `call` in the description (pipe.py, fd.py) and the
process's `blocked` slot, where a handled signal can interrupt it.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat as S

from microkernel.abi import Msg

from . import proto as P
from .fd import File, Null, PipeEnd
from .pipe import Pipe
from .proc import ok
from .signals import deliver, post

__all__ = ["HANDLERS", "MAX_IO", "split_path", "join_path"]

HANDLERS: dict = {}
MAX_IO = 64 << 10
DEV_NULL = "/dev/null"


def _op(code):
    def reg(f):
        HANDLERS[code] = f
        return f
    return reg


def _path(msg: Msg, i: int = 0) -> str:
    raw = bytes(msg.strings[i])
    if not raw or b"\0" in raw or len(raw) > P.PATH_MAX:
        raise OSError(errno.ENOENT if not raw else errno.EINVAL, "bad path")
    return raw.decode()


def join_path(cwd: str, path: str) -> str:
    """The absolute, normalised form of `path` seen from directory `cwd`."""
    p = posixpath.normpath(posixpath.join(cwd, path))
    return "/" + p.lstrip("/")


def split_path(srv, proc, path: str) -> tuple[int, str]:
    """(inode of the parent directory, last name) of `path`."""
    path = path.rstrip("/") or "/"
    parent, name = posixpath.split(path)
    if name in ("", ".", ".."):
        raise OSError(errno.EINVAL if name else errno.EEXIST, "bad last component")
    if not parent:
        return proc.cwd[0], name
    ino, mode, _ = srv.fs.resolve(proc.cwd[0], parent, True)
    if not S.S_ISDIR(mode):
        raise OSError(errno.ENOTDIR, "not a directory")
    return ino, name


def _stat_words(st: tuple) -> tuple:
    ino, mode, nlink, uid, gid, size, atime, mtime, ctime, blocks = st
    return (ino, mode, nlink, uid, gid, size & 0xFFFFFFFF, size >> 32, atime, mtime, ctime,
            blocks)


def park(proc, call) -> None:
    """The main thread's call waits; a signal already pending interrupts it now."""
    proc.blocked = call
    deliver(proc)


# -- descriptors --------------------------------------------------------------------

@_op(P.OPEN)
def open_(srv, proc, msg, call):
    flags, mode = msg.words[1], msg.words[2]
    path = _path(msg)
    if join_path(proc.cwd[1], path) == DEV_NULL:
        return ok(proc.fds.install(Null(flags), cloexec=bool(flags & os.O_CLOEXEC)))
    writing = flags & 3 in (os.O_WRONLY, os.O_RDWR)
    try:
        ino, fmode, _ = srv.fs.resolve(proc.cwd[0], path, True)
        if flags & os.O_CREAT and flags & os.O_EXCL:
            return Msg(words=(errno.EEXIST,))
    except OSError as e:
        if e.errno != errno.ENOENT or not flags & os.O_CREAT:
            raise
        dir_ino, name = split_path(srv, proc, path)
        ino = srv.fs.create(dir_ino, name, mode & 0o7777)
        fmode = S.S_IFREG | (mode & 0o7777)
    if S.S_ISDIR(fmode) and (writing or flags & os.O_TRUNC):
        return Msg(words=(errno.EISDIR,))
    if flags & os.O_DIRECTORY and not S.S_ISDIR(fmode):
        return Msg(words=(errno.ENOTDIR,))
    if flags & os.O_TRUNC and writing and S.S_ISREG(fmode):
        srv.fs.truncate(ino, 0)
    desc = File(ino, fmode, flags, join_path(proc.cwd[1], path))
    return ok(proc.fds.install(desc, cloexec=bool(flags & os.O_CLOEXEC)))


@_op(P.CLOSE)
def close(srv, proc, msg, call):
    proc.fds.close(msg.words[1])
    return ok()


@_op(P.DUP)
def dup(srv, proc, msg, call):
    return ok(proc.fds.dup(msg.words[1]))


@_op(P.DUP2)
def dup2(srv, proc, msg, call):
    return ok(proc.fds.dup2(msg.words[1], msg.words[2]))


@_op(P.CLOEXEC)
def cloexec(srv, proc, msg, call):
    proc.fds.set_cloexec(msg.words[1], bool(msg.words[2]))
    return ok()


@_op(P.PIPE)
def pipe(srv, proc, msg, call):
    p = Pipe(on_epipe=lambda who: post(srv, who, 13) if who is not None else None)
    r = proc.fds.install(PipeEnd(p, False))
    try:
        w = proc.fds.install(PipeEnd(p, True))
    except OSError:
        proc.fds.close(r)
        raise
    return ok(r, w)


@_op(P.READ)
def read(srv, proc, msg, call):
    desc = proc.fds.get(msg.words[1])
    if not desc.readable():
        return Msg(words=(errno.EBADF,))
    data = desc.read(srv, call, min(msg.words[2], MAX_IO))
    if data is None:
        park(proc, call)
        return None
    return ok(strings=(data,))


@_op(P.WRITE)
def write(srv, proc, msg, call):
    desc = proc.fds.get(msg.words[1])
    if not desc.writable():
        return Msg(words=(errno.EBADF,))
    data = bytes(msg.strings[0]) if msg.strings else b""
    n = desc.write(srv, call, data)
    if n is None:
        park(proc, call)
        return None
    return ok(n)


@_op(P.LSEEK)
def lseek(srv, proc, msg, call):
    off = msg.words[2] | msg.words[3] << 32
    if off >> 63:
        off -= 1 << 64
    pos = proc.fds.get(msg.words[1]).lseek(srv, off, msg.words[4])
    return ok(pos & 0xFFFFFFFF, pos >> 32)


@_op(P.ISATTY)
def isatty(srv, proc, msg, call):
    return ok(int(proc.fds.get(msg.words[1]).isatty))


@_op(P.FSTAT)
def fstat(srv, proc, msg, call):
    return ok(*_stat_words(proc.fds.get(msg.words[1]).stat(srv)))


# -- names --------------------------------------------------------------------------

@_op(P.STAT)
def stat(srv, proc, msg, call):
    path = _path(msg)
    if join_path(proc.cwd[1], path) == DEV_NULL:
        return ok(*_stat_words(Null().stat(srv)))
    ino, _, _ = srv.fs.resolve(proc.cwd[0], path, bool(msg.words[1]))
    return ok(*_stat_words(tuple(srv.fs.stat(ino))))


@_op(P.UTIME)
def utime(srv, proc, msg, call):
    """Set atime and mtime of a path (words: now, atime, mtime; now = 1: both now)."""
    path = _path(msg)
    if join_path(proc.cwd[1], path) == DEV_NULL:
        return ok()
    ino, _, _ = srv.fs.resolve(proc.cwd[0], path, True)
    srv.fs.utimes(ino, None if msg.words[1] & 1 else (msg.words[2], msg.words[3]))
    return ok()


@_op(P.READDIR)
def readdir(srv, proc, msg, call):
    ino, mode, _ = srv.fs.resolve(proc.cwd[0], _path(msg), True)
    if not S.S_ISDIR(mode):
        return Msg(words=(errno.ENOTDIR,))
    nxt, entries = srv.fs.readdir(ino, msg.words[1])
    return ok(nxt, strings=tuple(b"%s\0%d\0%d" % e for e in entries))


@_op(P.MKDIR)
def mkdir(srv, proc, msg, call):
    dir_ino, name = split_path(srv, proc, _path(msg))
    srv.fs.mkdir(dir_ino, name, msg.words[1] & 0o7777)
    return ok()


@_op(P.RMDIR)
def rmdir(srv, proc, msg, call):
    dir_ino, name = split_path(srv, proc, _path(msg))
    srv.fs.rmdir(dir_ino, name)
    return ok()


@_op(P.UNLINK)
def unlink(srv, proc, msg, call):
    path = _path(msg)
    dir_ino, name = split_path(srv, proc, path)
    ino, mode, _ = srv.fs.lookup(dir_ino, name)
    if S.S_ISDIR(mode):
        return Msg(words=(errno.EISDIR,))
    srv.fs.unlink(dir_ino, name)
    return ok()


@_op(P.RENAME)
def rename(srv, proc, msg, call):
    old_dir, old = split_path(srv, proc, _path(msg, 0))
    new_dir, new = split_path(srv, proc, _path(msg, 1))
    srv.fs.rename(old_dir, old, new_dir, new)
    return ok()


@_op(P.LINK)
def link(srv, proc, msg, call):
    ino, mode, _ = srv.fs.resolve(proc.cwd[0], _path(msg, 0), False)
    if S.S_ISDIR(mode):
        return Msg(words=(errno.EPERM,))
    dir_ino, name = split_path(srv, proc, _path(msg, 1))
    srv.fs.link(ino, dir_ino, name)
    return ok()


@_op(P.CHDIR)
def chdir(srv, proc, msg, call):
    path = _path(msg)
    ino, mode, _ = srv.fs.resolve(proc.cwd[0], path, True)
    if not S.S_ISDIR(mode):
        return Msg(words=(errno.ENOTDIR,))
    proc.cwd = (ino, join_path(proc.cwd[1], path))
    return ok()


@_op(P.GETCWD)
def getcwd(srv, proc, msg, call):
    return ok(strings=(proc.cwd[1].encode(),))


@_op(P.SYNC)
def sync(srv, proc, msg, call):
    srv.fs.sync()
    return ok()


@_op(P.STATFS)
def statfs(srv, proc, msg, call):
    return ok(*srv.fs.statfs())

