#!mk
"""rmdir [-p] DIR...: remove empty directories (-p: and then their parents)."""
from personalities.unix import libc
from personalities.unix.progargs import fail, options, usage_error

__all__ = ["main"]

USAGE = "rmdir [-p] DIR..."


def main(argv, envp):
    opts, dirs = options("rmdir", argv[1:], "p", USAGE)
    if not dirs:
        usage_error("rmdir", USAGE, "missing operand")
    status = 0
    for d in dirs:
        path = d.rstrip("/") or d
        while path:
            try:
                libc.rmdir(path)
            except OSError as e:
                status = fail("rmdir", path, e)
                break
            if "p" not in opts or "/" not in path.strip("/"):
                break
            path = path.rsplit("/", 1)[0]
    return status
