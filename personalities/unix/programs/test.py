#!mk
"""test EXPRESSION: the shell's test builtin as a program (exit 0 true, 1 false, 2
error); see personalities/unix/sh/testcmd.py."""
from personalities.unix import libc
from personalities.unix.sh.testcmd import test

__all__ = ["main"]


def main(argv, envp):
    return test(libc, argv[1:])
