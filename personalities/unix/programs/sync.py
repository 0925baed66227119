#!mk
"""sync: write every file system change back to the disk."""
from personalities.unix import libc
from personalities.unix.progargs import options

__all__ = ["main"]


def main(argv, envp):
    options("sync", argv[1:], "", "sync")
    libc.sync()
    return 0
