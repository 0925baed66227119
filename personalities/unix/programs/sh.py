#!mk
"""sh: the POSIX shell (the engine is personalities/unix/sh; docs/unix.md says what
it supports).

    sh [-euxfaCv] -c CMD [NAME [ARG...]]   runs CMD ($0 = NAME, $1... = ARGs)
    sh [-euxfaCv] FILE [ARG...]            runs the script FILE
    sh [-euxfaCv] [-s] [ARG...]            interactive on a terminal (prompt "$ "),
                                           else reads a script from standard input
"""
from personalities.unix import libc
from personalities.unix.sh.main import main as shell

__all__ = ["main"]


def main(argv, envp):
    return shell(libc, argv, envp)
