#!mk
"""uname [-asnrvm]: print system information (default -s)."""
from personalities.unix import libc
from personalities.unix.progargs import options, usage_error

__all__ = ["main"]

FIELDS = {"s": 0, "n": 1, "r": 2, "v": 3, "m": 4}


def main(argv, envp):
    u = libc.uname()
    opts, args = options("uname", argv[1:], "asnrvm", "uname [-asnrvm]")
    if args:
        usage_error("uname", "uname [-asnrvm]", f"extra operand '{args[0]}'")
    want = set("snrvm") if "a" in opts else set(opts)
    keys = [k for k in "snrvm" if k in want] or ["s"]
    print(" ".join(u[FIELDS[k]] for k in keys))
    return 0
