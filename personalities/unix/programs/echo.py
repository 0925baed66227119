#!mk
"""echo [-n] [ARG...]: write the arguments, separated by spaces, and a newline."""
from personalities.unix import libc

__all__ = ["main"]


def main(argv, envp):
    args = argv[1:]
    end = "\n"
    if args and args[0] == "-n":
        args, end = args[1:], ""
    libc.write(1, (" ".join(args) + end).encode())
    return 0
