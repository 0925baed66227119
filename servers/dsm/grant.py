"""Pages on the wire: how a grant (HOME READ/WRITE) and a FETCH reply carry them.

Each page travels as a kind byte: DATA, its 4 KiB follow in the data string; ZEROS, a
page of zeros, sent as nothing (an untouched page, or one a writer took ahead and never
wrote, costs no bytes on the wire: the fragments of a 64 KiB run are most of a grant's
price); HELD, no contents, the receiver holds the current copy (a write upgrade).
"""
from __future__ import annotations

import array
import errno

from protocols.client import ServiceError
from protocols.dsm import PAGE

__all__ = ["ZERO", "pack", "unpack", "pack_pages", "unpack_pages"]

DATA, ZEROS, HELD = 0, 1, 2
ZERO = bytes(PAGE)


def pack_pages(datas: list) -> tuple[bytes, bytes]:
    """(kinds, data) of a list of page contents (None: HELD)."""
    kinds = bytes(HELD if d is None else ZEROS if d == ZERO else DATA for d in datas)
    return kinds, b"".join(d for d, k in zip(datas, kinds) if k == DATA)


def unpack_pages(kinds: bytes, data: bytes) -> list:
    """The page contents (None: HELD) of (kinds, data); EPROTO: they do not add up."""
    if len(data) != kinds.count(DATA) * PAGE:
        raise ServiceError(errno.EPROTO, "pages whose kinds and data do not match")
    out, at = [], 0
    for k in kinds:
        if k == DATA:
            out.append(data[at:at + PAGE])
            at += PAGE
        else:
            out.append(ZERO if k == ZEROS else None)
    return out


def pack(pages: list) -> tuple[bytes, bytes, bytes]:
    """(versions, kinds, data) of a grant's [(version, data or None)]."""
    kinds, data = pack_pages([d for _, d in pages])
    return array.array("I", [v for v, _ in pages]).tobytes(), kinds, data


def unpack(versions: bytes, kinds: bytes, data: bytes) -> list:
    """A grant's [(version, data or None)] from its reply (EPROTO: it does not add up)."""
    vs = array.array("I", versions)
    if len(vs) != len(kinds):
        raise ServiceError(errno.EPROTO, "a grant whose versions and pages do not match")
    return list(zip(vs, unpack_pages(kinds, data)))
