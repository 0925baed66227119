"""IPC timeouts: seconds in the Python API, the V2 32-bit timeout word on the wire.

V2 word, LSB first: rcv_exp:4 | snd_exp:4 | rcv_pf:4 | snd_pf:4 | snd_man:8 | rcv_man:8.
A send or receive timeout is m * 4**(15 - e) microseconds; e == 0 is never, m == 0 with
e != 0 is zero (poll). A page-fault timeout p is 4**(15 - p) us, p == 0 never, 15 zero.
The API's `NEVER` is None; `encode` picks the closest V2 value that is not shorter than
asked (rounding up, so a short finite timeout never becomes a poll).
"""
from __future__ import annotations

import functools
import math

__all__ = ["NEVER", "encode", "decode", "encode_one", "decode_one"]

NEVER = None
_MAX_US = 255 * 4 ** 14


def encode_one(seconds: float | None) -> tuple[int, int]:
    """(mantissa, exponent) for a send/receive timeout in seconds (None = never)."""
    if seconds is None or seconds == math.inf:
        return 0, 0
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"timeout {seconds!r} must be >= 0, or NEVER")
    if seconds == 0:
        return 0, 1
    x = seconds * 1e6
    us = max(1, math.ceil(x - x * 1e-12))      # float noise (1e-12 relative) is no longer
    if us > _MAX_US:
        raise ValueError(f"timeout {seconds}s is longer than V2 can express (~19 h)")
    for e in range(15, 0, -1):             # smallest unit first, for precision
        unit = 4 ** (15 - e)
        m = -(-us // unit)
        if m <= 255:
            return m, e
    raise AssertionError("unreachable")


def decode_one(m: int, e: int) -> float | None:
    if e == 0:
        return None
    return m * 4 ** (15 - e) / 1e6


def _pf_decode(p: int) -> float | None:
    return None if p == 0 else (0.0 if p == 15 else 4 ** (15 - p) / 1e6)


@functools.lru_cache(maxsize=512)
def encode(snd: float | None = NEVER, rcv: float | None = NEVER) -> int:
    """The V2 timeout word for a send and a receive timeout (page-fault timeouts never)."""
    sm, se = encode_one(snd)
    rm, re_ = encode_one(rcv)
    return re_ | se << 4 | sm << 16 | rm << 24


@functools.lru_cache(maxsize=512)
def decode(word: int) -> tuple[float | None, float | None, float | None, float | None]:
    """(snd, rcv, snd_pf, rcv_pf) in seconds, None meaning never."""
    if not isinstance(word, int) or not 0 <= word < (1 << 32):
        raise ValueError(f"timeout word {word!r} is not a 32-bit value")
    rcv = decode_one((word >> 24) & 0xFF, word & 0xF)
    snd = decode_one((word >> 16) & 0xFF, (word >> 4) & 0xF)
    return snd, rcv, _pf_decode((word >> 12) & 0xF), _pf_decode((word >> 8) & 0xF)
