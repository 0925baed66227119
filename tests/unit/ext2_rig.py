"""A test rig for servers.ext2: images made by the host's mke2fs, judged by its e2fsck
and debugfs. Shared by test_ext2*.py."""
from __future__ import annotations

import re
import subprocess

from servers.ext2 import Ext2, make_image
from servers.ext2.host import debugfs, is_clean, tool

__all__ = ["new_image", "mount", "assert_clean", "cat", "ls", "dstat", "dumpe2fs"]


def new_image(tmp_path, size=8 << 20, populate=None, block_size=1024, name="disk.img",
              **kw):
    """A fresh image file in tmp_path, as made by make_image."""
    path = tmp_path / name
    make_image(path, size, populate, block_size=block_size, **kw)
    return path


def mount(path, **kw) -> Ext2:
    return Ext2.open(path, **kw)


def assert_clean(path) -> None:
    """e2fsck -fn finds nothing to fix (not even what it would not count)."""
    ok, out = is_clean(path)
    assert ok, out


def cat(path, p: str) -> bytes:
    """The contents of `p` in the image, as debugfs prints them."""
    r = subprocess.run([tool("debugfs"), "-R", f"cat {p}", str(path)], capture_output=True)
    return r.stdout


def ls(path, d: str) -> set[str]:
    """The names debugfs lists in directory `d`."""
    out = debugfs(path, f"ls -p {d}")
    names = set()
    for line in out.splitlines():
        fields = line.split("/")
        if len(fields) >= 7 and fields[1] != "0":           # inode 0: an empty slot
            names.add(fields[5])
    return names


def dstat(path, p: str) -> dict:
    """mode, uid, gid, links, size, type from debugfs stat."""
    out = debugfs(path, f"stat {p}")
    m = re.search(r"Inode: (\d+)\s+Type: (\S+)\s+Mode:\s+(\d+)", out)
    u = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)(?:\s+Project:\s+\d+)?\s+Size: (\d+)", out)
    n = re.search(r"Links: (\d+)\s+Blockcount: (\d+)", out)
    assert m and u and n, out
    return {"ino": int(m[1]), "type": m[2], "mode": int(m[3], 8), "uid": int(u[1]),
            "gid": int(u[2]), "size": int(u[3]), "links": int(n[1]),
            "blocks": int(n[2]), "text": out}


def dumpe2fs(path) -> dict:
    """The superblock fields dumpe2fs -h prints, as strings."""
    r = subprocess.run([tool("dumpe2fs"), "-h", str(path)], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition(":")
        if sep:
            out[k.strip()] = v.strip()
    return out
