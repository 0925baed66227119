"""`python -m bench [NAME] [options]`: run one benchmark, or (no name) all of them.

    python -m bench                  bench.hw, .ipc, .drivers, .unix, .net, .dsm, .trace, .paper, as tables
    python -m bench hw --json        the hardware hot paths (bench/hw.py)
    python -m bench ipc --json       the IPC figures beside their floors (bench/ipc.py)
    python -m bench drivers --json   the user-level drivers (bench/drivers.py)
    python -m bench unix --json      the Unix personality (bench/unix.py)
    python -m bench net --json       the cluster's switch and boot (bench/net.py)
    python -m bench dsm --json       distributed shared memory on four nodes (bench/dsm.py)
    python -m bench trace --json     what `mk trace` costs a null RPC (bench/trace.py)
    python -m bench paper --json     the paper's Figure 3 and IPC table (bench/paper.py)
"""
from __future__ import annotations

import importlib
import sys

SUITES = ("hw", "ipc", "drivers", "unix", "net", "dsm", "trace", "paper")


def _main_of(name: str):
    return importlib.import_module(f"bench.{name}").main


def main(argv: list[str]) -> int:
    if argv and argv[0] in SUITES:
        return _main_of(argv[0])(argv[1:]) or 0
    if argv and not argv[0].startswith("-"):
        print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(SUITES)}", file=sys.stderr)
        return 2
    if any(a != "--json" for a in argv):
        print("without a benchmark name, only --json is understood", file=sys.stderr)
        return 2
    status = 0
    for name in SUITES:
        status = _main_of(name)(list(argv)) or status
        print()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
