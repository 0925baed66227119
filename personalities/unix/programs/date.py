#!mk
"""date [-u] [+FORMAT]: the time now (UTC, the node's only zone), as FORMAT says
(strftime's %-conversions) or as `Thu Dec  3 07:00:00 UTC 2026`."""
import time

from personalities.unix.progargs import options, out, usage_error

__all__ = ["main"]

USAGE = "date [-u] [+FORMAT]"


def main(argv, envp):
    _, args = options("date", argv[1:], "u", USAGE)
    if len(args) > 1 or (args and not args[0].startswith("+")):
        usage_error("date", USAGE, "setting the time is not supported")
    fmt = args[0][1:] if args else "%a %b %e %H:%M:%S UTC %Y"
    out(time.strftime(fmt.replace("%Z", "UTC"), time.gmtime()) + "\n")
    return 0
