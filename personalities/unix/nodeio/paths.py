"""os calls on paths, on the node's files through libc: stat, lstat, fstat, listdir,
scandir (and its DirEntry), open, mkdir, rmdir, unlink, rename, link, symlink, readlink,
chmod, chdir, utime, access, statvfs. Each is named after the os function it stands
for; `OS` is the table install() sets on os. Errors name the path, as the host's do."""
from __future__ import annotations

import os
import stat as S

from .. import libc
from .errors import named, no_dir_fd

__all__ = ["OS", "DirEntry", "stat", "lstat", "fstat", "listdir", "scandir", "open"]

_FT_REG, _FT_DIR, _FT_SYMLINK = 1, 2, 7         # ext2 directory entry types (READDIR)


def _stat_result(st: os.stat_result) -> os.stat_result:
    a, m, c = st[7], st[8], st[9]
    return os.stat_result(tuple(st)[:10], {
        "st_atime": float(a), "st_mtime": float(m), "st_ctime": float(c),
        "st_atime_ns": a * 10**9, "st_mtime_ns": m * 10**9, "st_ctime_ns": c * 10**9,
        "st_blksize": libc.MAX_IO})


def stat(path, *, dir_fd=None, follow_symlinks=True):
    """os.stat: an fd is fstat's, a symlink followed unless told otherwise."""
    no_dir_fd(dir_fd)
    if isinstance(path, int):
        return fstat(path)
    try:
        return _stat_result((libc.stat if follow_symlinks else libc.lstat)(path))
    except OSError as e:
        raise named(e, path) from None


def lstat(path, *, dir_fd=None):
    return stat(path, dir_fd=dir_fd, follow_symlinks=False)


def fstat(fd):
    return _stat_result(libc.fstat(fd))


def _names(path):
    """The directory's (name, inode, type) entries but . and .. (READDIR)."""
    if isinstance(path, int):
        raise NotImplementedError("listing a directory by fd is unavailable on the node")
    path = os.fspath(path)
    try:
        entries = libc.readdir(path)
    except OSError as e:
        raise named(e, path) from None
    return [e for e in entries if e[0] not in (".", "..")]


def listdir(path="."):
    entries = _names(path)
    if isinstance(os.fspath(path), bytes):
        return [os.fsencode(n) for n, _, _ in entries]
    return [n for n, _, _ in entries]


class DirEntry:
    """What os.scandir yields: the name, the type READDIR gave, stat on demand."""

    __slots__ = ("name", "path", "_ino", "_type", "_stat", "_lstat")

    def __init__(self, top, name, ino: int, typ: int):
        self.name = name
        if isinstance(top, bytes):
            self.name = name = os.fsencode(name)
        self.path = os.path.join(top, name)
        self._ino, self._type, self._stat, self._lstat = ino, typ, None, None

    def inode(self) -> int:
        return self._ino

    def stat(self, *, follow_symlinks=True):
        if not follow_symlinks or self._type != _FT_SYMLINK:
            if self._lstat is None:
                self._lstat = lstat(self.path)
            if not follow_symlinks or not S.S_ISLNK(self._lstat.st_mode):
                return self._lstat
        if self._stat is None:
            self._stat = stat(self.path)
        return self._stat

    def _is(self, test, ft, follow_symlinks) -> bool:
        if self._type not in (0, _FT_SYMLINK) or (self._type == _FT_SYMLINK and
                                                    not follow_symlinks):
            return self._type == ft
        try:
            return test(self.stat(follow_symlinks=follow_symlinks).st_mode)
        except FileNotFoundError:
            return False

    def is_dir(self, *, follow_symlinks=True) -> bool:
        return self._is(S.S_ISDIR, _FT_DIR, follow_symlinks)

    def is_file(self, *, follow_symlinks=True) -> bool:
        return self._is(S.S_ISREG, _FT_REG, follow_symlinks)

    def is_symlink(self) -> bool:
        if self._type:
            return self._type == _FT_SYMLINK
        return S.S_ISLNK(self.stat(follow_symlinks=False).st_mode)

    def is_junction(self) -> bool:
        return False

    def __fspath__(self):
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"


class _Scandir:
    """os.scandir's iterator (the whole directory is read at once)."""

    def __init__(self, entries):
        self._it = iter(entries)

    def __iter__(self):
        return self

    def __next__(self) -> DirEntry:
        return next(self._it)

    def close(self) -> None:
        self._it = iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def scandir(path="."):
    top = os.fspath(path) if not isinstance(path, int) else path
    return _Scandir([DirEntry(top, n, ino, t) for n, ino, t in _names(top)])


def _path_call(fn):
    """libc fn(path, ...) as os's: dir_fd refused, the path named in errors."""
    def call(path, *args, dir_fd=None):
        no_dir_fd(dir_fd)
        try:
            return fn(path, *args)
        except OSError as e:
            raise named(e, path) from None
    call.__name__ = call.__qualname__ = fn.__name__
    call.__doc__ = f"os.{fn.__name__} on the node's files (libc.{fn.__name__})."
    return call


def _two_paths(fn):
    """libc fn(src, dst) as os's: both paths named in errors."""
    def call(src, dst, *, src_dir_fd=None, dst_dir_fd=None, **_):
        no_dir_fd(src_dir_fd, dst_dir_fd)
        try:
            return fn(src, dst)
        except OSError as e:
            raise named(e, src, dst) from None
    call.__name__ = call.__qualname__ = fn.__name__
    return call


def open(path, flags, mode=0o777, *, dir_fd=None):
    """os.open: an fd of the node."""
    no_dir_fd(dir_fd)
    try:
        return libc.open(path, flags, mode)
    except OSError as e:
        raise named(e, path) from None


def mkdir(path, mode=0o777, *, dir_fd=None):
    no_dir_fd(dir_fd)
    try:
        libc.mkdir(path, mode)
    except OSError as e:
        raise named(e, path) from None


def chdir(path):
    if isinstance(path, int):
        raise NotImplementedError("fchdir is unavailable on the node")
    try:
        libc.chdir(path)
    except OSError as e:
        raise named(e, path) from None


def utime(path, times=None, *, ns=None, dir_fd=None, follow_symlinks=True):
    """os.utime, to the second (ext2's)."""
    no_dir_fd(dir_fd)
    if times is not None and ns is not None:
        raise ValueError("utime: you may specify either 'times' or 'ns' but not both")
    if ns is not None:
        times = (ns[0] // 10**9, ns[1] // 10**9)
    try:
        libc.utime(path, None if times is None else (int(times[0]), int(times[1])))
    except OSError as e:
        raise named(e, path) from None


def access(path, mode, *, dir_fd=None, effective_ids=False, follow_symlinks=True):
    """Whether the path exists and, for R_OK, W_OK, X_OK, has such a permission bit for
    anyone (the node's permissions are not checked per user here)."""
    try:
        st = stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)
    except OSError:
        return False
    need = [bits for flag, bits in ((os.R_OK, 0o444), (os.W_OK, 0o222), (os.X_OK, 0o111))
            if mode & flag]
    return all(st.st_mode & bits for bits in need)


def statvfs(path):
    """os.statvfs: the node's file system (STATFS), once the path is found."""
    stat(path)
    f = libc.statfs()
    return os.statvfs_result((f["bsize"], f["bsize"], f["blocks"], f["bfree"], f["bfree"],
                              f["files"], f["ffree"], f["ffree"], 0, 255))


OS = {
    "stat": stat, "lstat": lstat, "fstat": fstat, "listdir": listdir, "scandir": scandir,
    "open": open, "mkdir": mkdir, "rmdir": _path_call(libc.rmdir),
    "remove": _path_call(libc.unlink), "unlink": _path_call(libc.unlink),
    "rename": _two_paths(libc.rename), "replace": _two_paths(libc.rename),
    "link": _two_paths(libc.link), "symlink": _two_paths(libc.symlink),
    "readlink": _path_call(libc.readlink), "chmod": _path_call(libc.chmod),
    "umask": libc.umask, "chdir": chdir, "getcwd": libc.getcwd,
    "getcwdb": lambda: os.fsencode(libc.getcwd()), "utime": utime,
    "access": access, "statvfs": statvfs,
}
