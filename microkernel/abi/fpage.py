"""Flexpages: the V2 encoding, map/grant items, and the placement rule.

Memory fpage (x86 V2, LSB first):   grant:1 | write:1 | size:6 | 0:4 | page:20
I/O fpage (Fiasco extension):       grant:1 | 0:1 | size:6 | 0:4 | port:16 | 0xF:4

`size` is log2 of the region's bytes (ports); memory fpages need size >= 12 and a base
aligned to 2**size; size 32 with base 0 is the whole address space. User space is the
low 3 GiB (`USER_TOP`), as in L4 on the 486, whose kernel area is the top GiB of every
space: a memory fpage starts below it (the whole space aside), so a word whose top
nibble is 0xF and whose size is at most 16 can only be an I/O fpage. The placement rule
(`place`) is V2 §4.3: the smaller of send fpage and receive window goes inside the
larger, naturally aligned, around the sender's hot spot `snd_base`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["Fpage", "MapItem", "GrantItem", "place", "PAGE_SHIFT", "PAGE_SIZE",
           "WHOLE_SPACE", "USER_TOP"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
WHOLE_SPACE = 32
USER_TOP = 0xC0000000          # the end of user space; the kernel area lies above it
_IO_MARK = 0xF0000000


@dataclass(frozen=True, slots=True)
class Fpage:
    """A flexpage: `base` (bytes or first port), `log2size`, `writable`, `io`."""

    base: int
    log2size: int
    writable: bool = True
    io: bool = False

    def __post_init__(self) -> None:
        if self.io:
            if not (0 <= self.log2size <= 16 and 0 <= self.base < 0x10000):
                raise ValueError(f"bad I/O fpage port {self.base:#x} size 2**{self.log2size}")
        elif not PAGE_SHIFT <= self.log2size <= WHOLE_SPACE:
            raise ValueError(f"fpage size 2**{self.log2size} outside 2**12..2**32")
        elif not 0 <= self.base < (1 << 32):
            raise ValueError(f"fpage base {self.base:#x} outside the address space")
        elif self.base >= USER_TOP:
            raise ValueError(f"fpage base {self.base:#x} in the kernel area (user space "
                             f"ends at {USER_TOP:#x})")
        if self.base & (self.size - 1):
            raise ValueError(f"fpage base {self.base:#x} not aligned to its size 2**{self.log2size}")

    @classmethod
    def of(cls, base: int, size: int, writable: bool = True) -> "Fpage":
        """The memory fpage of `size` bytes (a power of two, >= 4 KiB) at `base`."""
        if size <= 0 or size & (size - 1):
            raise ValueError(f"fpage size {size} is not a power of two")
        return cls(base, size.bit_length() - 1, writable)

    @classmethod
    def page(cls, addr: int, writable: bool = True) -> "Fpage":
        """The 4 KiB fpage holding `addr`."""
        return cls(addr & ~(PAGE_SIZE - 1), PAGE_SHIFT, writable)

    @classmethod
    def whole(cls, writable: bool = True) -> "Fpage":
        return cls(0, WHOLE_SPACE, writable)

    @classmethod
    def ports(cls, port: int, log2count: int = 0) -> "Fpage":
        """The I/O fpage of 2**log2count ports starting at `port`."""
        return cls(port, log2count, True, io=True)

    @property
    def size(self) -> int:
        return 1 << self.log2size

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.end

    def encode(self) -> int:
        """The 32-bit V2 word (without the grant bit, which belongs to the item)."""
        if self.io:
            return _IO_MARK | self.base << 12 | self.log2size << 2
        base = 0 if self.log2size >= WHOLE_SPACE else self.base
        return base | self.log2size << 2 | (2 if self.writable else 0)

    @staticmethod
    def decode(word: int) -> "Fpage":
        """Parse a V2 fpage word; raises ValueError when it is not a valid fpage.
        Fpages are immutable, so the decoded ones of recent words are shared."""
        if not isinstance(word, int) or not 0 <= word < (1 << 32):
            raise ValueError(f"fpage word {word!r} is not a 32-bit value")
        return _decode(int(word))


@functools.lru_cache(maxsize=4096)
def _decode(word: int) -> Fpage:
    size = (word >> 2) & 0x3F
    if word & _IO_MARK == _IO_MARK and size <= 16:
        return Fpage((word >> 12) & 0xFFFF, size, True, io=True)
    return Fpage(word & 0xFFFFF000 if size < WHOLE_SPACE else 0, size, bool(word & 2))


@dataclass(frozen=True, slots=True)
class MapItem:
    """Map `fpage` of the sender into the receiver's window; hot spot `snd_base`."""

    fpage: Fpage
    snd_base: int = 0
    grant = False


@dataclass(frozen=True, slots=True)
class GrantItem:
    """Like MapItem, but the pages leave the sender (V2 grant)."""

    fpage: Fpage
    snd_base: int = 0
    grant = True


def place(send: Fpage, snd_base: int, window: Fpage) -> tuple[int, int, int]:
    """V2 placement: returns (source base, destination base, log2size) of what moves.

    s == s': 1:1. s < s': the whole send fpage lands at window.base + (h mod 2**s'),
    rounded down to 2**s. s > s': the 2**s'-piece of the send fpage holding
    send.base + (h mod 2**s) fills the window.
    """
    s, w = send.log2size, window.log2size
    if s == w:
        return send.base, window.base, s
    if s < w:
        off = (snd_base % (1 << w)) & ~((1 << s) - 1)
        return send.base, window.base + off, s
    off = (snd_base % (1 << s)) & ~((1 << w) - 1)
    return send.base + off, window.base, w
