#!mk
"""basename NAME [SUFFIX]: NAME without its directories (and without SUFFIX)."""
from personalities.unix.progargs import options, out, usage_error

__all__ = ["main"]

USAGE = "basename NAME [SUFFIX]"


def main(argv, envp):
    _, args = options("basename", argv[1:], "", USAGE)
    if not 1 <= len(args) <= 2:
        usage_error("basename", USAGE, "missing operand" if not args else "extra operand")
    name = args[0].rstrip("/") or ("/" if args[0] else "")
    base = name.rsplit("/", 1)[-1] or name
    if len(args) == 2 and base != args[1] and base.endswith(args[1]) and args[1]:
        base = base[:-len(args[1])]
    out(base + "\n")
    return 0
