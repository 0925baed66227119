#!mk
"""cat [-u] [FILE...]: copy files (or standard input, also for "-") to standard output. A
file that cannot be read is named; a failing output (a full disk) is a write error."""
from personalities.unix import libc
from personalities.unix.progargs import fail, options

__all__ = ["main"]


def main(argv, envp):
    _, paths = options("cat", argv[1:], "u", "cat [-u] [FILE...]")
    status = 0
    for path in paths or ["-"]:
        try:
            fd = 0 if path == "-" else libc.open(path)
        except OSError as e:
            status = fail("cat", path, e)
            continue
        try:
            while True:
                try:
                    data = libc.read(fd, libc.MAX_IO)
                except OSError as e:
                    status = fail("cat", path, e)
                    break
                if not data:
                    break
                libc.write(1, data)
        except OSError as e:
            return fail("cat", "write error", e)
        finally:
            if fd:
                libc.close(fd)
    return status
