#!mk
"""touch FILE...: set each file's access and modification times to now, creating
the files that do not exist."""
import errno
import os
import sys

from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    if len(argv) < 2:
        print("usage: touch FILE...", file=sys.stderr)
        return 1
    status = 0
    for path in argv[1:]:
        try:
            try:
                libc.utime(path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
                libc.close(libc.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError as e:
            print(f"touch: {path}: {e.strerror}", file=sys.stderr)
            status = 1
    return status
