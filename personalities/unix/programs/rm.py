#!mk
"""rm [-rf] PATH...: remove files (-r: directories with what they hold; -f: no
complaint about what does not exist)."""
import stat
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-") and len(a) > 1)
    paths = [a for a in argv[1:] if not (a.startswith("-") and len(a) > 1)]
    if not paths and "f" not in flags:
        print("usage: rm [-rf] PATH...", file=sys.stderr)
        return 1
    status = 0
    for path in paths:
        try:
            remove(path, "r" in flags)
        except OSError as e:
            if not ("f" in flags and e.errno == 2):
                print(f"rm: {path}: {e.strerror}", file=sys.stderr)
                status = 1
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
