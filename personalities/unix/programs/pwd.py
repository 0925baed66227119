#!mk
"""pwd: print the working directory (the shell has it as a builtin too)."""
from personalities.unix import libc
from personalities.unix.progargs import options

__all__ = ["main"]


def main(argv, envp):
    options("pwd", argv[1:], "", "pwd")
    libc.write(1, (libc.getcwd() + "\n").encode())
    return 0
