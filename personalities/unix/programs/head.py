#!mk
"""head [-n [-]N | -c N | -N] [FILE...]: the first N lines (10) of each file or of
standard input; -n -N: all but the last N lines; -c N: the first N bytes."""
from personalities.unix import libc
from personalities.unix.progargs import count_and_paths, fail, out

__all__ = ["main"]

USAGE = "head [-n [-]N | -c N] [FILE...]"


def main(argv, envp):
    which, count, paths = count_and_paths("head", argv[1:], USAGE, "nc")
    status = 0
    for i, path in enumerate(paths or ["-"]):
        try:
            data = libc.read_all(path)
        except OSError as e:
            status = fail("head", path, e)
            continue
        if len(paths) > 1:
            out(f"{'' if i == 0 else chr(10)}==> {path} <==\n")
        out(cut(data, which, count))
    return status


def cut(data: bytes, which: str, count: str) -> bytes:
    n = int(count.lstrip("+-"))
    items = data if which == "c" else data.splitlines(keepends=True)
    part = items[:max(len(items) - n, 0)] if count.startswith("-") else items[:n]
    return part if which == "c" else b"".join(part)
