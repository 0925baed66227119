"""The comm servers' frames: Ethernet II with EtherType 0x88B5 (IEEE local experimental).

    0   dst MAC (6)  src MAC (6)  type 0x88B5 (2)
    14  version u8   kind u8      flags u16
    18  src_site u32  dst_site u32
    26  src_boot u32  dst_boot u32     the sender's incarnation; the receiver's as the
                                        sender knows it (0 in an announcement)
    34  txn u32      floor u32         the message's number on this (sender, receiver)
                                        link; every txn below `floor` is settled
    42  frag u16     nfrags u16        this fragment's index, the message's fragments
    46  ack_txn u32  ack_frag u16      cumulative: every txn below ack_txn arrived whole,
                                        and ack_frag fragments of ack_txn (0: no ack)
    52  payload (1..1462 bytes)

All fields big-endian (network order). A message is msgpack, cut into fragments of
FRAG bytes; an ACK frame carries no payload, an ANNOUNCE one msgpack map, a DGRAM one
whole message (txn 0: it is no part of the link's sequence, and only its ack fields
count for the link). docs/net.md,
"Remote IPC", has the state machines. `parse` raises `Malformed` for any frame that is
not exactly this: callers count it and drop it.
"""
from __future__ import annotations

import enum
import struct
from typing import NamedTuple

__all__ = ["ETHERTYPE", "VERSION", "Kind", "Flag", "Header", "Malformed", "FRAG",
           "MAX_FRAGS", "BROADCAST", "frame", "parse", "fragments"]

ETHERTYPE = 0x88B5
VERSION = 1
BROADCAST = b"\xff" * 6
_ETH = struct.Struct("!6s6sH")
_HDR = struct.Struct("!BBHIIIIIIHHIH")
HEADER_SIZE = _ETH.size + _HDR.size            # 52
FRAG = 1514 - HEADER_SIZE                      # 1462 payload bytes per frame
# the largest message: 31 strings of 4 MiB and 1,024 words, with msgpack's framing
MAX_MESSAGE = 31 * (4 << 20) + 1024 * 5 + 4096
MAX_FRAGS = -(-MAX_MESSAGE // FRAG)


class Kind(enum.IntEnum):
    DATA = 1          # a fragment of a message
    ACK = 2           # acknowledgement only
    ANNOUNCE = 3      # who I am (broadcast, or unicast as an answer)
    DGRAM = 4         # a whole message in one frame, outside the link: no txn, no ack


class Flag(enum.IntFlag):
    SOLICIT = 1       # ANNOUNCE: answer with yours
    LEAVING = 2       # ANNOUNCE: this node stops now (its callers fail at once)


class Header(NamedTuple):
    kind: int
    flags: int
    src_site: int
    dst_site: int
    src_boot: int
    dst_boot: int
    txn: int = 0
    floor: int = 0
    frag: int = 0
    nfrags: int = 0
    ack_txn: int = 0
    ack_frag: int = 0


class Malformed(ValueError):
    """A frame that is not a valid comm frame (the reason is the message)."""


def frame(dst: bytes, src: bytes, h: Header, payload: bytes = b"") -> bytes:
    """One Ethernet frame."""
    return (_ETH.pack(dst, src, ETHERTYPE)
            + _HDR.pack(VERSION, h.kind, h.flags, h.src_site, h.dst_site, h.src_boot,
                        h.dst_boot, h.txn, h.floor, h.frag, h.nfrags, h.ack_txn, h.ack_frag)
            + payload)


def parse(raw: bytes) -> tuple[bytes, Header, bytes]:
    """(source MAC, header, payload) of a frame; Malformed says why it is none."""
    if len(raw) < HEADER_SIZE:
        raise Malformed(f"short frame ({len(raw)} bytes)")
    _dst, src, etype = _ETH.unpack_from(raw)
    if etype != ETHERTYPE:
        raise Malformed(f"EtherType {etype:#06x}")
    version, *fields = _HDR.unpack_from(raw, _ETH.size)
    if version != VERSION:
        raise Malformed(f"version {version}")
    h = Header(*fields)
    payload = raw[HEADER_SIZE:]
    if h.kind not in Kind.__members__.values():
        raise Malformed(f"kind {h.kind}")
    if h.kind == Kind.DATA and not (payload and h.txn and 0 <= h.frag < h.nfrags <= MAX_FRAGS):
        raise Malformed("DATA without payload, txn, or a fragment in range")
    if h.kind == Kind.ACK and payload:
        raise Malformed("ACK with payload")
    if h.kind == Kind.DGRAM and not payload:
        raise Malformed("DGRAM without payload")
    return src, h, payload


def fragments(message: bytes) -> list[bytes]:
    """`message` cut into payloads of at most FRAG bytes (at least one)."""
    return [message[i:i + FRAG] for i in range(0, max(len(message), 1), FRAG)]
