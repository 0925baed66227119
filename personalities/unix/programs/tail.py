#!mk
"""tail [-n [+]N | -c [+]N | -N] [FILE...]: the last N lines (10) of each file or of
standard input; -n +N: from line N on; -c: bytes instead of lines."""
from personalities.unix import libc
from personalities.unix.progargs import count_and_paths, fail, out

__all__ = ["main"]

USAGE = "tail [-n [+]N | -c [+]N] [FILE...]"


def main(argv, envp):
    which, count, paths = count_and_paths("tail", argv[1:], USAGE, "nc")
    status = 0
    for i, path in enumerate(paths or ["-"]):
        try:
            data = libc.read_all(path)
        except OSError as e:
            status = fail("tail", path, e)
            continue
        if len(paths) > 1:
            out(f"{'' if i == 0 else chr(10)}==> {path} <==\n")
        n = int(count.lstrip("+-"))
        items = data if which == "c" else data.splitlines(keepends=True)
        part = items[max(n - 1, 0):] if count.startswith("+") else items[max(len(items) - n, 0):]
        out(part if which == "c" else b"".join(part))
    return status
