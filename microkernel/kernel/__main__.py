"""`python -m microkernel.kernel RUNDIR [--mem MiB] [--site N]`: run one node's kernel."""
import argparse
import logging
import sys

from .boot import boot


def main() -> None:
    p = argparse.ArgumentParser(prog="mk-kernel")
    p.add_argument("rundir")
    p.add_argument("--mem", type=int, default=16, help="physical memory in MiB")
    p.add_argument("--site", type=int, default=1)
    p.add_argument("--disk", default=None)
    p.add_argument("--root", default="servers.root:main")
    a = p.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    boot(a.rundir, a.mem << 20, a.site, a.disk, a.root)


if __name__ == "__main__":
    main()
