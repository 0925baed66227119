#!mk
"""df: size and use of the root file system (ext2 on the ATA disk)."""
from personalities.unix import libc
from personalities.unix.progargs import options

__all__ = ["main"]


def main(argv, envp):
    options("df", argv[1:], "", "df")
    s = libc.statfs()
    k = s["bsize"] // 1024 or 1
    total, free = s["blocks"] * k, s["bfree"] * k
    used = total - free
    pct = (100 * used + total - 1) // total if total else 0
    print("Filesystem     1K-blocks    Used Available Use% Inodes IFree Mounted on")
    print(f"/dev/ata0      {total:9} {used:7} {free:9} {pct:3}% {s['files']:6} "
          f"{s['ffree']:5} /")
    return 0
