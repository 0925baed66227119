#!mk
"""cp [-r] SRC DST / cp [-r] SRC... DIR: copy files (into DIR, keeping the names);
-r (-R): directories with what they hold, symbolic links as links. A source and
destination that are the same file are refused, and a DST ending in / must be a
directory."""
import os
import stat

from personalities.unix import libc
from personalities.unix.progargs import fail, options, same_file, targets

__all__ = ["main"]

USAGE = "cp [-r] SRC DST | cp [-r] SRC... DIR"


def main(argv, envp):
    opts, args = options("cp", argv[1:], "rR", USAGE)
    pairs = targets("cp", args, USAGE)
    if pairs is None:
        return 1
    status = 0
    for src, target in pairs:
        try:
            copy(src, target, "r" in opts or "R" in opts)
        except OSError as e:
            status = fail("cp", e.filename or src, e)
        except ValueError as e:
            status = fail("cp", e)
    return status


def copy(src, dst, recursive):
    """Copy file or tree `src` to `dst`; OSError naming the file (e.filename)."""
    st = _named(libc.lstat if recursive else libc.stat, src)
    if same_file(src, dst):
        raise ValueError(f"'{src}' and '{dst}' are the same file")
    if stat.S_ISLNK(st.st_mode):                 # -r copies a link as a link (-P)
        return _named(libc.symlink, libc.readlink(src), dst, name=dst)
    if not stat.S_ISDIR(st.st_mode):
        return _copy_file(src, dst, st.st_mode & 0o777)
    if not recursive:
        raise ValueError(f"-r not specified; omitting directory '{src}'")
    a, b = _abs(src), _abs(dst)
    if (b + "/").startswith(a + "/"):
        raise ValueError(f"cannot copy a directory, '{src}', into itself, '{dst}'")
    try:
        _named(libc.mkdir, dst, st.st_mode & 0o777)
    except OSError as e:
        if e.errno != 17 or not stat.S_ISDIR(libc.stat(dst).st_mode):
            raise
    for name in sorted(_named(libc.listdir, src)):
        copy(f"{src.rstrip('/')}/{name}", f"{dst.rstrip('/')}/{name}", True)


def _copy_file(src, dst, mode):
    fin = _named(libc.open, src)
    try:
        fout = _named(libc.open, dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            while data := _named(libc.read, fin, 65536, name=src):
                _named(libc.write, fout, data, name=dst)
        finally:
            libc.close(fout)
    finally:
        libc.close(fin)


def _named(fn, *args, name=None):
    """fn(*args), an OSError naming `name` (or the first argument)."""
    try:
        return fn(*args)
    except OSError as e:
        raise OSError(e.errno, e.strerror, name or args[0]) from None


def _abs(path):
    return os.path.normpath(os.path.join(libc.getcwd(), path))
