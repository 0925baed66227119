"""Block group descriptors: where a group's bitmaps and inode table are, and its counts.

The descriptor table follows the superblock (block first_data_block + 1 on), 32 bytes a
group. The free counts here and the totals in the superblock are kept equal to what the
bitmaps say; e2fsck (pass 5) checks both.
"""
from __future__ import annotations

from .record import Record, field

__all__ = ["GroupDesc", "DESC_SIZE"]

DESC_SIZE = 32


class GroupDesc(Record):
    SIZE = DESC_SIZE
    block_bitmap = field(0, "I")
    inode_bitmap = field(4, "I")
    inode_table = field(8, "I")
    free_blocks_count = field(12, "H")
    free_inodes_count = field(14, "H")
    used_dirs_count = field(16, "H")
    flags = field(18, "H")                  # uninit_bg's INODE_ and BLOCK_UNINIT: 1, 2
    itable_unused = field(28, "H")
