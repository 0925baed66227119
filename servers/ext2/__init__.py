"""ext2 revision 1 in pure Python, independent of the kernel: the fs server's engine.

    Ext2(dev) / Ext2.open(path)   mount; operations take and return inode numbers
    FileDevice, MemoryDevice      512-byte-sector devices for tests and tools
    make_image                    a fresh image made by the host's mke2fs
    FsError                       every failure, with a POSIX errno

See docs/ext2.md for what is supported, the write-back order and crash behaviour.
"""
from .device import FileDevice, MemoryDevice
from .errors import FsError
from .fs import R_OK, W_OK, X_OK, Ext2, Stat, StatFs
from .inode import (FT_BLK, FT_CHR, FT_DIR, FT_FIFO, FT_REG, FT_SOCK, FT_SYMLINK,
                    FT_UNKNOWN, ROOT_INO)
from .mkfs import MkfsError, make_image

__all__ = ["Ext2", "Stat", "StatFs", "FsError", "FileDevice", "MemoryDevice",
           "make_image", "MkfsError", "ROOT_INO", "R_OK", "W_OK", "X_OK",
           "FT_UNKNOWN", "FT_REG", "FT_DIR", "FT_CHR", "FT_BLK", "FT_FIFO", "FT_SOCK",
           "FT_SYMLINK"]
