"""The ext2 superblock (1024 bytes at byte 1024 of the device) and the feature flags.

Only the fields this implementation reads or keeps up to date are named; the rest of
the 1024 bytes are carried along unchanged. Features come in three sets (see
`check_features`): COMPAT ones are safe to ignore (but an ext3 journal is refused, since
writing without replaying or honouring it would corrupt it), RO_COMPAT ones may be
ignored only when reading, and INCOMPAT ones must all be understood.
"""
from __future__ import annotations

import errno

from .errors import FsError
from .record import Record, field

__all__ = ["Superblock", "SB_OFFSET", "SB_SIZE", "MAGIC", "STATE_VALID", "STATE_ERROR",
           "COMPAT_HAS_JOURNAL", "COMPAT_EXT_ATTR", "COMPAT_DIR_INDEX",
           "INCOMPAT_FILETYPE", "RO_COMPAT_SPARSE_SUPER", "RO_COMPAT_LARGE_FILE",
           "check_features"]

SB_OFFSET, SB_SIZE = 1024, 1024
MAGIC = 0xEF53
STATE_VALID, STATE_ERROR = 1, 2

COMPAT_HAS_JOURNAL = 0x0004
COMPAT_EXT_ATTR = 0x0008
COMPAT_DIR_INDEX = 0x0020
INCOMPAT_FILETYPE = 0x0002
RO_COMPAT_SPARSE_SUPER = 0x0001
RO_COMPAT_LARGE_FILE = 0x0002
RO_COMPAT_BTREE_DIR = 0x0004            # defined, never used by Linux

INCOMPAT_NAMES = {0x1: "compression", 0x2: "filetype", 0x4: "needs_recovery",
                  0x8: "journal_dev", 0x10: "meta_bg", 0x40: "extent", 0x80: "64bit",
                  0x100: "mmp", 0x200: "flex_bg", 0x400: "ea_inode", 0x1000: "dirdata",
                  0x2000: "metadata_csum_seed", 0x4000: "large_dir",
                  0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold"}
RO_COMPAT_NAMES = {0x1: "sparse_super", 0x2: "large_file", 0x4: "btree_dir",
                   0x8: "huge_file", 0x10: "uninit_bg", 0x20: "dir_nlink",
                   0x40: "extra_isize", 0x100: "quota", 0x200: "bigalloc",
                   0x400: "metadata_csum", 0x800: "replica", 0x1000: "read-only",
                   0x2000: "project", 0x8000: "verity", 0x10000: "orphan_present"}
INCOMPAT_OK = INCOMPAT_FILETYPE
RO_COMPAT_OK = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR


class Superblock(Record):
    SIZE = SB_SIZE
    inodes_count = field(0, "I")
    blocks_count = field(4, "I")
    r_blocks_count = field(8, "I")
    free_blocks_count = field(12, "I")
    free_inodes_count = field(16, "I")
    first_data_block = field(20, "I")
    log_block_size = field(24, "I")
    blocks_per_group = field(32, "I")
    inodes_per_group = field(40, "I")
    mtime = field(44, "I")
    wtime = field(48, "I")
    mnt_count = field(52, "H")
    max_mnt_count = field(54, "h")
    magic = field(56, "H")
    state = field(58, "H")
    rev_level = field(76, "I")
    first_ino_rev1 = field(84, "I")
    inode_size_rev1 = field(88, "H")
    feature_compat = field(92, "I")
    feature_incompat = field(96, "I")
    feature_ro_compat = field(100, "I")
    volume_name = field(120, "16s")
    desc_size_rev1 = field(254, "H")

    @property
    def block_size(self) -> int:
        return 1024 << self.log_block_size

    @property
    def first_ino(self) -> int:
        return self.first_ino_rev1 if self.rev_level else 11

    @property
    def inode_size(self) -> int:
        return self.inode_size_rev1 if self.rev_level else 128

    @property
    def group_count(self) -> int:
        return -(-(self.blocks_count - self.first_data_block) // self.blocks_per_group)


def _names(bits: int, table: dict) -> str:
    return ",".join(table.get(1 << i, hex(1 << i)) for i in range(32) if bits >> i & 1)


def check_features(sb: Superblock, readonly: bool) -> None:
    """Raise FsError(EINVAL) unless this code can mount `sb` (read-only if asked)."""
    if sb.magic != MAGIC:
        raise FsError(errno.EINVAL, f"not ext2: magic {sb.magic:#06x}")
    if sb.rev_level > 1:
        raise FsError(errno.EINVAL, f"unknown ext2 revision {sb.rev_level}")
    if sb.log_block_size > 2:
        raise FsError(errno.EINVAL, f"block size {sb.block_size} unsupported (1-4 KiB)")
    if sb.blocks_per_group == 0 or sb.inodes_per_group == 0 or sb.inode_size < 128 \
            or sb.inode_size & (sb.inode_size - 1) or sb.inode_size > sb.block_size:
        raise FsError(errno.EINVAL, "corrupt superblock geometry")
    problems = []
    if sb.feature_compat & COMPAT_HAS_JOURNAL:
        problems.append("has_journal (ext3/ext4 journals are not supported)")
    bad = sb.feature_incompat & ~INCOMPAT_OK
    if bad:
        problems.append(f"incompatible features {_names(bad, INCOMPAT_NAMES)}")
    bad = sb.feature_ro_compat & ~RO_COMPAT_OK
    if bad and not readonly:
        problems.append(f"features {_names(bad, RO_COMPAT_NAMES)} (read-only use only)")
    if problems:
        raise FsError(errno.EINVAL, "unsupported: " + "; ".join(problems))
