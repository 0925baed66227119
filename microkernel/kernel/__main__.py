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
    p.add_argument("--link", default=None, help="net0's cable: bind:ENDPOINT or connect:ENDPOINT")
    p.add_argument("--pcap", action="store_true", help="capture net0's frames to net0.pcap")
    p.add_argument("--cpu", type=int, default=None,
                   help="host CPU the kernel runs on (default: the last one; -1: any)")
    a = p.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    boot(a.rundir, a.mem << 20, a.site, a.disk, a.root, a.link, a.pcap, a.cpu)


if __name__ == "__main__":
    main()
