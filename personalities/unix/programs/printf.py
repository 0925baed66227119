#!mk
"""printf FORMAT [ARG...]: format and print the arguments (the shell's printf, see
personalities/unix/sh/printf.py); status 1 when an argument was no number."""
from personalities.unix.progargs import fail, out, usage_error
from personalities.unix.sh.printf import printf

__all__ = ["main"]


def main(argv, envp):
    if len(argv) < 2:
        usage_error("printf", "printf FORMAT [ARG...]", "missing operand")
    text, errors = printf(argv[1], argv[2:])
    out(text)
    for e in errors:
        fail("printf", e)
    return 1 if errors else 0
