#!mk
"""rm [-rf] PATH...: remove files (-r: directories with what they hold; -f: no
complaint about what does not exist)."""
import stat

from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]


def main(argv, envp):
    flags, paths = options("rm", argv[1:], "rfR", "rm [-rf] PATH...")
    if "R" in flags:
        flags["r"] = True
    if not paths and "f" not in flags:
        usage_error("rm", "rm [-rf] PATH...", "missing operand")
    status = 0
    for path in paths:
        try:
            remove(path, "r" in flags)
        except OSError as e:
            if not ("f" in flags and e.errno == 2):
                status = fail("rm", path, e)
    return status


def remove(path, recursive):
    st = libc.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        if not recursive:
            raise IsADirectoryError(21, "Is a directory")
        for name in libc.listdir(path):
            remove(path.rstrip("/") + "/" + name, True)
        libc.rmdir(path)
    else:
        libc.unlink(path)
