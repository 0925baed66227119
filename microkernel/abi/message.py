"""The message a thread sends or receives: words, byte strings, map/grant items.

Words are 32-bit unsigned values (the V2 register and memory dwords). Strings are
`bytes`; they travel as their own ZeroMQ frames, which the kernel forwards without
copying or decoding. Items are `MapItem`/`GrantItem`. What a receive returns is a `Msg`
too, with `.sender` (the thread id the kernel vouches for), `.flags` (V2 result bits),
and, for a message redirected to a chief, `.intended` (where the sender aimed it).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ResultFlag
from .fpage import GrantItem, MapItem
from .threadid import ThreadId

__all__ = ["Msg", "StringLimits", "MAX_WORDS", "MAX_STRINGS", "MAX_STRING"]

MAX_WORDS = 1 << 10            # V2 allows 2**19 dwords; one header stays small here
MAX_STRINGS = 31               # the V2 dope's 5-bit string count
MAX_STRING = 4 << 20           # Fiasco's 4 MB cap per string


@dataclass(slots=True)
class Msg:
    """An IPC message. `words` are ints 0..2**32-1, `strings` bytes, `items` map/grant."""

    words: tuple = ()
    strings: tuple = ()
    items: tuple = ()
    sender: ThreadId | None = None
    flags: ResultFlag = ResultFlag.NONE
    intended: ThreadId | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.words, tuple):
            self.words = tuple(self.words)
        if not isinstance(self.strings, tuple):
            self.strings = tuple(self.strings)
        if not isinstance(self.items, tuple):
            self.items = tuple(self.items)

    def check(self) -> None:
        """Raise ValueError unless the message fits the ABI (the sender's side check)."""
        if len(self.words) > MAX_WORDS:
            raise ValueError(f"{len(self.words)} words; at most {MAX_WORDS}")
        for w in self.words:
            if type(w) is not int or not 0 <= w <= 0xFFFFFFFF:
                raise ValueError(f"word {w!r} is not a 32-bit unsigned int")
        if len(self.strings) > MAX_STRINGS:
            raise ValueError(f"{len(self.strings)} strings; at most {MAX_STRINGS}")
        for s in self.strings:
            if not isinstance(s, (bytes, bytearray, memoryview)):
                raise ValueError(f"string {type(s).__name__} is not bytes")
            if len(s) > MAX_STRING:
                raise ValueError(f"string of {len(s)} bytes; at most {MAX_STRING}")
        for it in self.items:
            if not isinstance(it, (MapItem, GrantItem)):
                raise ValueError(f"item {it!r} is not a MapItem or GrantItem")

    @property
    def fpage_received(self) -> bool:
        return bool(self.flags & ResultFlag.FPAGE_RECEIVED)

    @property
    def redirected(self) -> bool:
        return bool(self.flags & ResultFlag.REDIRECTED)

    @property
    def deceited(self) -> bool:
        return bool(self.flags & ResultFlag.DECEITED)


@dataclass(frozen=True, slots=True)
class StringLimits:
    """What a receiver accepts: at most `count` strings of at most `size` bytes each."""

    count: int = MAX_STRINGS
    size: int = MAX_STRING

    def __post_init__(self) -> None:
        if not (0 <= self.count <= MAX_STRINGS and 0 <= self.size <= MAX_STRING):
            raise ValueError("string limits out of range")


