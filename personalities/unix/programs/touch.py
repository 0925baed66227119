#!mk
"""touch FILE...: create each file that does not exist (the fs protocol has no
utimes, so an existing file is left as it is)."""
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
            libc.close(libc.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        except OSError as e:
            print(f"touch: {path}: {e.strerror}", file=sys.stderr)
            status = 1
    return status
