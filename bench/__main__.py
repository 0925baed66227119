"""`python -m bench [hw|ipc] [options]`: run one benchmark, or (no name) both, as tables.

    python -m bench              bench.hw, then bench.ipc
    python -m bench hw --json    the hardware hot paths (see bench/hw.py)
    python -m bench ipc --json   the IPC figures beside their floors (see bench/ipc.py)
"""
from __future__ import annotations

import sys

from . import hw, ipc

SUITES = {"hw": hw.main, "ipc": ipc.main}


def main(argv: list[str]) -> int:
    if argv and argv[0] in SUITES:
        return SUITES[argv[0]](argv[1:])
    if argv and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    if any(a != "--json" for a in argv):
        print("without a benchmark name, only --json is understood", file=sys.stderr)
        return 2
    status = 0
    for name, fn in SUITES.items():
        status = fn(list(argv)) or status
        print()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
