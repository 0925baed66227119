#!mk
"""ps: every process of the Unix server: pid, parent, group, state, name."""
from personalities.unix import libc
from personalities.unix.progargs import options

__all__ = ["main"]


def main(argv, envp):
    options("ps", argv[1:], "", "ps")
    rows = ["  PID  PPID  PGRP STATE    CMD"]
    for p in libc.ps():
        rows.append(f"{p['pid']:5} {p['ppid']:5} {p['pgrp']:5} {p['state']:8} {p['name']}")
    libc.write(1, ("\n".join(rows) + "\n").encode())
    return 0
