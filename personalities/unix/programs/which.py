#!mk
"""which NAME...: the path of each program $PATH (/bin) finds; status 1 when one
is not found."""
import stat

from personalities.unix import libc
from personalities.unix.progargs import options, out, usage_error

__all__ = ["main"]


def main(argv, envp):
    _, names = options("which", argv[1:], "", "which NAME...")
    if not names:
        usage_error("which", "which NAME...", "missing operand")
    status = 0
    for name in names:
        dirs = [""] if "/" in name else (envp.get("PATH") or "/bin").split(":")
        found = next((p for p in (f"{d.rstrip('/')}/{name}" if d else name for d in dirs)
                      if runnable(p)), None)
        if found:
            out(found + "\n")
        else:
            status = 1
    return status


def runnable(path) -> bool:
    try:
        st = libc.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)
