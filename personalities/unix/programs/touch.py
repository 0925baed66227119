#!mk
"""touch FILE...: set each file's access and modification times to now, creating
the files that do not exist."""
import errno
import os

from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]


def main(argv, envp):
    _, paths = options("touch", argv[1:], "", "touch FILE...")
    if not paths:
        usage_error("touch", "touch FILE...", "missing file operand")
    status = 0
    for path in paths:
        try:
            try:
                libc.utime(path)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
                libc.close(libc.open(path, os.O_WRONLY | os.O_CREAT, 0o666))
        except OSError as e:
            status = fail("touch", path, e)
    return status
