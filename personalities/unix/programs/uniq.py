#!mk
"""uniq [-cdu] [INPUT [OUTPUT]]: one line of each run of equal adjacent lines; -c:
with the run's length; -d: only lines that repeat; -u: only lines that do not."""
import itertools
import os

from personalities.unix import libc
from personalities.unix.progargs import Inputs, fail, options, usage_error

__all__ = ["main"]

USAGE = "uniq [-cdu] [INPUT [OUTPUT]]"


def main(argv, envp):
    opts, paths = options("uniq", argv[1:], "cdu", USAGE)
    if len(paths) > 2:
        usage_error("uniq", USAGE, f"extra operand '{paths[2]}'")
    inputs = Inputs("uniq", paths[:1])
    rows = []
    for line, run in itertools.groupby(inputs.lines()):
        n = sum(1 for _ in run)
        if ("d" in opts and n < 2) or ("u" in opts and n > 1):
            continue
        rows.append(f"{n:7} {line}\n" if "c" in opts else line + "\n")
    data = "".join(rows).encode(errors="surrogateescape")
    try:
        fd = 1 if len(paths) < 2 else libc.open(paths[1], os.O_WRONLY | os.O_CREAT |
                                                os.O_TRUNC, 0o666)
        libc.write(fd, data)
    except OSError as e:
        return fail("uniq", paths[1] if len(paths) > 1 else "write error", e)
    return inputs.status
