"""The ext2 inode: mode, owners, size, times, link count and the 15 block pointers.

The first 128 bytes are the classic inode; a larger inode (s_inode_size 256) keeps its
tail (i_extra_isize and what follows) untouched. Owners are 32-bit (low half plus the
Linux high half in osd2); size is 64-bit (i_size_high, the large_file feature).
i_blocks counts 512-byte sectors of everything the inode holds on disk: data blocks,
indirect blocks and an extended-attribute block.
"""
from __future__ import annotations

import stat
import struct

from .record import Record, field

__all__ = ["Inode", "N_DIRECT", "IND", "DIND", "TIND", "N_BLOCKS", "ROOT_INO",
           "FT_UNKNOWN", "FT_REG", "FT_DIR", "FT_CHR", "FT_BLK", "FT_FIFO", "FT_SOCK",
           "FT_SYMLINK", "file_type", "INDEX_FL", "LINK_MAX", "FAST_SYMLINK_MAX",
           "XATTR_MAGIC"]

N_DIRECT, IND, DIND, TIND, N_BLOCKS = 12, 12, 13, 14, 15
ROOT_INO = 2
LINK_MAX = 32000                 # EXT2_LINK_MAX
INDEX_FL = 0x1000                # the directory has an htree index (dir_index)
FAST_SYMLINK_MAX = 59            # targets this long or shorter live in i_block
XATTR_MAGIC = 0xEA020000         # the header of an extended-attribute block (i_file_acl)
FT_UNKNOWN, FT_REG, FT_DIR, FT_CHR, FT_BLK, FT_FIFO, FT_SOCK, FT_SYMLINK = range(8)
_FT = {stat.S_IFREG: FT_REG, stat.S_IFDIR: FT_DIR, stat.S_IFCHR: FT_CHR,
       stat.S_IFBLK: FT_BLK, stat.S_IFIFO: FT_FIFO, stat.S_IFSOCK: FT_SOCK,
       stat.S_IFLNK: FT_SYMLINK}
_BLOCKS = struct.Struct("<15I")


def file_type(mode: int) -> int:
    """The directory-entry file-type byte for an inode `mode`."""
    return _FT.get(stat.S_IFMT(mode), FT_UNKNOWN)


class Inode(Record):
    SIZE = 128
    mode = field(0, "H")
    uid_lo = field(2, "H")
    size_lo = field(4, "I")
    atime = field(8, "I")
    ctime = field(12, "I")
    mtime = field(16, "I")
    dtime = field(20, "I")
    gid_lo = field(24, "H")
    links = field(26, "H")
    blocks = field(28, "I")          # 512-byte sectors
    flags = field(32, "I")
    generation = field(100, "I")
    file_acl = field(104, "I")
    size_hi = field(108, "I")
    uid_hi = field(120, "H")
    gid_hi = field(122, "H")
    extra_isize = field(128, "H")    # only in inodes larger than 128 bytes

    def __init__(self, ino: int, raw: bytes | bytearray):
        super().__init__(raw)
        self.ino = ino

    @property
    def uid(self) -> int:
        return self.uid_lo | self.uid_hi << 16

    @uid.setter
    def uid(self, v: int) -> None:
        self.uid_lo, self.uid_hi = v & 0xFFFF, v >> 16 & 0xFFFF

    @property
    def gid(self) -> int:
        return self.gid_lo | self.gid_hi << 16

    @gid.setter
    def gid(self, v: int) -> None:
        self.gid_lo, self.gid_hi = v & 0xFFFF, v >> 16 & 0xFFFF

    @property
    def size(self) -> int:
        if stat.S_ISREG(self.mode):
            return self.size_lo | self.size_hi << 32
        return self.size_lo

    @size.setter
    def size(self, v: int) -> None:
        self.size_lo, self.size_hi = v & 0xFFFFFFFF, v >> 32

    @property
    def block(self) -> list[int]:
        """The 15 pointers: 12 direct, then single, double and triple indirect."""
        return list(_BLOCKS.unpack_from(self.raw, 40))

    @block.setter
    def block(self, ptrs: list[int]) -> None:
        _BLOCKS.pack_into(self.raw, 40, *ptrs)

    def get_block(self, i: int) -> int:
        return struct.unpack_from("<I", self.raw, 40 + 4 * i)[0]

    def set_block(self, i: int, blk: int) -> None:
        struct.pack_into("<I", self.raw, 40 + 4 * i, blk)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_reg(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)
