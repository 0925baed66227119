"""Bit operations on block and inode bitmaps (bit i of byte i // 8, least significant
first, set = in use)."""
from __future__ import annotations

import re

__all__ = ["test", "set_bit", "clear_bit", "find_zero", "count_zero"]

_NOT_FULL = re.compile(rb"[^\xff]")


def test(buf, i: int) -> bool:
    return bool(buf[i >> 3] >> (i & 7) & 1)


def set_bit(buf, i: int) -> None:
    buf[i >> 3] |= 1 << (i & 7)


def clear_bit(buf, i: int) -> None:
    buf[i >> 3] &= ~(1 << (i & 7)) & 0xFF


def _scan(buf, start: int, limit: int) -> int:
    i = start
    while i < limit and i & 7:
        if not test(buf, i):
            return i
        i += 1
    while i < limit:
        m = _NOT_FULL.search(buf, i >> 3, (limit + 7) >> 3)
        if m is None:
            return -1
        i = m.start() << 3
        for j in range(i, min(i + 8, limit)):
            if not test(buf, j):
                return j
        i += 8
    return -1


def find_zero(buf, start: int, limit: int) -> int:
    """The first clear bit at or after `start` below `limit`, wrapping to 0; -1 if none."""
    start = start if 0 <= start < limit else 0
    hit = _scan(buf, start, limit)
    if hit < 0 and start:
        hit = _scan(buf, 0, start)
    return hit


def count_zero(buf, limit: int) -> int:
    """How many of the first `limit` bits are clear."""
    full, rest = divmod(limit, 8)
    ones = sum(bin(b).count("1") for b in bytes(buf[:full]))
    ones += sum(1 for i in range(full * 8, full * 8 + rest) if test(buf, i))
    return limit - ones
