"""Little-endian fields of an on-disk structure, read and written in place.

A record keeps the raw bytes it was read from (`raw`, a bytearray) and each field is a
property over a fixed offset, so bytes this code does not know (checksums, reserved
words, the large-inode tail) survive a read-modify-write untouched.
"""
from __future__ import annotations

import struct

__all__ = ["field", "Record"]


def field(offset: int, fmt: str) -> property:
    """A property for the `fmt` ("I", "H", "B", "16s") value at `offset` of self.raw."""
    s = struct.Struct("<" + fmt)

    def get(self):
        return s.unpack_from(self.raw, offset)[0]

    def put(self, value):
        s.pack_into(self.raw, offset, value)

    return property(get, put)


class Record:
    """Raw bytes plus field properties declared on the subclass."""

    SIZE = 0

    def __init__(self, raw: bytes | bytearray | None = None):
        self.raw = bytearray(raw if raw is not None else self.SIZE)
