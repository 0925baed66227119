#!mk
"""sleep SECONDS: wait that long (fractions allowed)."""
from personalities.unix import libc
from personalities.unix.progargs import fail, usage_error

__all__ = ["main"]


def main(argv, envp):
    if len(argv) < 2:
        usage_error("sleep", "sleep SECONDS", "missing operand")
    try:
        seconds = sum(float(a) for a in argv[1:])
    except ValueError:
        return fail("sleep", f"invalid time interval '{' '.join(argv[1:])}'")
    libc.sleep(seconds)
    return 0
