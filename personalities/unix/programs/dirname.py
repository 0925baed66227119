#!mk
"""dirname NAME...: each NAME without its last component ("." when none is left)."""
from personalities.unix.progargs import options, out, usage_error

__all__ = ["main"]


def main(argv, envp):
    _, args = options("dirname", argv[1:], "", "dirname NAME...")
    if not args:
        usage_error("dirname", "dirname NAME...", "missing operand")
    out("".join(parent(a) + "\n" for a in args))
    return 0


def parent(name: str) -> str:
    if not name:
        return "."
    s = name.rstrip("/")
    if not s:
        return "/"
    if "/" not in s:
        return "."
    return s.rsplit("/", 1)[0].rstrip("/") or "/"
