"""Making a fresh ext2 image with the host's mke2fs (optionally filled from a directory).

The features are chosen to be exactly what this package writes: filetype,
sparse_super and large_file. No resize inode, no htree (dir_index), no ext_attr, no
journal. Reserved blocks default to 0, since this code does not enforce the root
reserve.
"""
from __future__ import annotations

import os
import subprocess

from .host import MkfsError, tool

__all__ = ["make_image", "MkfsError", "FEATURES"]

FEATURES = "none,filetype,sparse_super,large_file"


def make_image(path, size_bytes: int, populate_dir=None, block_size: int = 1024,
               inode_size: int = 128, inodes: int | None = None,
               reserved_percent: int = 0, label: str = "") -> None:
    """Create (or overwrite) image file `path` of `size_bytes`, ext2 made by mke2fs,
    holding a copy of `populate_dir` if given. MkfsError if mke2fs fails or is missing."""
    if block_size not in (1024, 2048, 4096):
        raise ValueError("block size must be 1024, 2048 or 4096")
    if size_bytes < 64 * 1024 or size_bytes % block_size:
        raise ValueError("size must be at least 64 KiB and a multiple of the block size")
    cmd = [tool("mke2fs"), "-q", "-F", "-t", "ext2", "-b", str(block_size),
           "-I", str(inode_size), "-O", FEATURES, "-m", str(reserved_percent)]
    if inodes:
        cmd += ["-N", str(inodes)]
    if label:
        cmd += ["-L", label]
    if populate_dir is not None:
        if not os.path.isdir(populate_dir):
            raise MkfsError(f"{populate_dir} is not a directory")
        cmd += ["-d", os.fspath(populate_dir)]
    path = os.fspath(path)
    with open(path, "wb") as f:
        f.truncate(size_bytes)
    cmd += [path, str(size_bytes // block_size)]
    r = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if r.returncode:
        raise MkfsError(f"mke2fs failed ({r.returncode}): {r.stderr.strip()}")
