#!mk
"""pwd: print the working directory (the shell has it as a builtin too)."""
from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    libc.write(1, (libc.getcwd() + "\n").encode())
    return 0
