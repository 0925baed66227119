#!mk
"""sync: write every file system change back to the disk."""
from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    libc.sync()
    return 0
