"""The ext2 superblock (1024 bytes at byte 1024 of the device) and the feature flags.

Only the fields this implementation reads or keeps up to date are named; the rest of
the 1024 bytes are carried along unchanged. `check_superblock` refuses a superblock
whose geometry is impossible (FsError EINVAL, naming the first problem) before anything
is computed from it: every field is untrusted input. Features come in three sets (see
`check_features`): COMPAT ones are safe to ignore (but an ext3 journal is refused, since
writing without replaying or honouring it would corrupt it), RO_COMPAT ones may be
ignored only when reading, and INCOMPAT ones must all be understood.
"""
from __future__ import annotations

import errno

from .errors import FsError
from .record import Record, field

__all__ = ["Superblock", "SB_OFFSET", "SB_SIZE", "MAGIC", "STATE_VALID", "STATE_ERROR",
           "OS_LINUX", "OS_HURD",
           "COMPAT_HAS_JOURNAL", "COMPAT_EXT_ATTR", "COMPAT_RESIZE_INODE",
           "COMPAT_DIR_INDEX", "INCOMPAT_FILETYPE", "RO_COMPAT_SPARSE_SUPER",
           "RO_COMPAT_LARGE_FILE", "MAX_LOG_BLOCK", "check_superblock", "check_features"]

SB_OFFSET, SB_SIZE = 1024, 1024
MAGIC = 0xEF53
STATE_VALID, STATE_ERROR = 1, 2
OS_LINUX, OS_HURD = 0, 1                # s_creator_os

COMPAT_HAS_JOURNAL = 0x0004
COMPAT_EXT_ATTR = 0x0008
COMPAT_RESIZE_INODE = 0x0010
COMPAT_DIR_INDEX = 0x0020
INCOMPAT_FILETYPE = 0x0002
RO_COMPAT_SPARSE_SUPER = 0x0001
RO_COMPAT_LARGE_FILE = 0x0002
RO_COMPAT_BTREE_DIR = 0x0004            # defined, never used by Linux
MAX_LOG_BLOCK = 5                       # 32 KiB blocks (64 KiB ones encode rec_len apart)

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
    creator_os = field(72, "I")
    rev_level = field(76, "I")
    first_ino_rev1 = field(84, "I")
    inode_size_rev1 = field(88, "H")
    feature_compat = field(92, "I")
    feature_incompat = field(96, "I")
    feature_ro_compat = field(100, "I")
    volume_name = field(120, "16s")
    prealloc_dir_blocks = field(205, "B")
    reserved_gdt_blocks = field(206, "H")
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

    @property
    def inode_blocks_per_group(self) -> int:
        return -(-self.inodes_per_group * self.inode_size // self.block_size)

    def has_super(self, g: int) -> bool:
        """Does group `g` hold a copy of the superblock and descriptors (sparse_super:
        groups 0, 1 and the powers of 3, 5 and 7)?"""
        if g <= 1 or not self.feature_ro_compat & RO_COMPAT_SPARSE_SUPER:
            return True
        for p in (3, 5, 7):
            n = p
            while n < g:
                n *= p
            if n == g:
                return True
        return False


def _names(bits: int, table: dict) -> str:
    return ",".join(table.get(1 << i, hex(1 << i)) for i in range(32) if bits >> i & 1)


def _bad(what: str) -> FsError:
    return FsError(errno.EINVAL, f"corrupt superblock: {what} (e2fsck -b can use a backup)")


def check_superblock(sb: Superblock, device_bytes: int) -> None:
    """Raise FsError(EINVAL) naming the first impossible field of `sb` on a device of
    `device_bytes`; afterwards the geometry properties are safe to use."""
    if sb.magic != MAGIC:
        raise FsError(errno.EINVAL, f"not ext2: magic {sb.magic:#06x}")
    if sb.rev_level > 1:
        raise FsError(errno.EINVAL, f"unknown ext2 revision {sb.rev_level}")
    _refuse_features(sb)
    if sb.log_block_size > MAX_LOG_BLOCK:
        raise FsError(errno.EINVAL, f"block size 1024 << {sb.log_block_size} unsupported "
                                    f"(1 to {1 << MAX_LOG_BLOCK} KiB)")
    bs = sb.block_size
    if sb.first_data_block != (1 if bs == 1024 else 0):
        raise _bad(f"first data block {sb.first_data_block} with {bs}-byte blocks")
    if not 8 <= sb.blocks_per_group <= 8 * bs or sb.blocks_per_group % 8:
        raise _bad(f"{sb.blocks_per_group} blocks per group")
    if not 1 <= sb.inodes_per_group <= 8 * bs:
        raise _bad(f"{sb.inodes_per_group} inodes per group")
    isz = sb.inode_size
    if isz < 128 or isz & (isz - 1) or isz > bs:
        raise _bad(f"inode size {isz}")
    if sb.blocks_count <= sb.first_data_block + 1:
        raise _bad(f"{sb.blocks_count} blocks")
    if sb.blocks_count * bs > device_bytes:
        raise FsError(errno.EINVAL, f"file system of {sb.blocks_count} {bs}-byte blocks "
                                    f"is larger than the {device_bytes}-byte device")
    if sb.inodes_count != sb.group_count * sb.inodes_per_group:
        raise _bad(f"{sb.inodes_count} inodes in {sb.group_count} groups of "
                   f"{sb.inodes_per_group}")
    if not 11 <= sb.first_ino < sb.inodes_count:
        raise _bad(f"first inode {sb.first_ino}")
    if sb.inode_blocks_per_group >= sb.blocks_per_group:
        raise _bad("inode table larger than a group")


def check_features(sb: Superblock, readonly: bool) -> str | None:
    """Raise FsError(EINVAL) unless this code can mount `sb` at all; the reason it may
    only be read (unknown read-only-compatible features), or None."""
    _refuse_features(sb)
    bad = sb.feature_ro_compat & ~RO_COMPAT_OK
    if bad and not readonly:
        return f"features {_names(bad, RO_COMPAT_NAMES)} can only be read"
    return None


def _refuse_features(sb: Superblock) -> None:
    problems = []
    if sb.feature_compat & COMPAT_HAS_JOURNAL:
        problems.append("has_journal (ext3/ext4 journals are not supported)")
    bad = sb.feature_incompat & ~INCOMPAT_OK
    if bad:
        problems.append(f"incompatible features {_names(bad, INCOMPAT_NAMES)}")
    if problems:
        raise FsError(errno.EINVAL, "unsupported: " + "; ".join(problems))
