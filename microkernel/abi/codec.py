"""The wire codec: one msgpack header frame, then raw byte-string frames.

    request  (thread -> kernel):  [header, string, string, ...]
    reply    (kernel -> thread):  [header, string, string, ...]

The header is a msgpack array whose first element is an `Op` (request) or a status
(reply). Never pickle. String frames are passed through as they are (ZeroMQ frames,
zero-copy). `decode_header` refuses anything that is not a small msgpack array, with
bounded lengths, so a hostile frame cannot make the kernel allocate without limit.
"""
from __future__ import annotations

import socket
import struct

import msgpack

__all__ = ["encode_header", "decode_header", "CodecError", "MAX_HEADER",
           "send_framed", "recv_framed"]

MAX_HEADER = 64 << 10

_packb = msgpack.Packer(use_bin_type=True, autoreset=True).pack


class CodecError(ValueError):
    """A header that is not valid msgpack, too large, or not an array."""


def encode_header(fields: list | tuple) -> bytes:
    """Encode one header (a list of msgpack-able values)."""
    return _packb(fields)


def decode_header(data: bytes | memoryview) -> list:
    """Decode one header frame; raises CodecError on anything malformed."""
    if len(data) > MAX_HEADER:
        raise CodecError(f"header of {len(data)} bytes; at most {MAX_HEADER}")
    try:
        # msgpack 1.x bounds every length by the buffer, which MAX_HEADER bounds
        out = msgpack.unpackb(data)
    except Exception as e:          # msgpack raises several unrelated types
        raise CodecError(f"undecodable header: {e}") from None
    if type(out) is not list or not out:
        raise CodecError("header is not a non-empty array")
    return out


_LEN = struct.Struct("<I")


def send_framed(sock: socket.socket, obj) -> None:
    """One length-prefixed msgpack message on a stream socket (the task factory's pipe)."""
    data = msgpack.packb(obj, use_bin_type=True)
    sock.sendall(_LEN.pack(len(data)) + data)


def recv_framed(sock: socket.socket):
    """The next length-prefixed msgpack message, or None at end of stream."""
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    body = _recv_exact(sock, _LEN.unpack(head)[0])
    return None if body is None else msgpack.unpackb(body, raw=False)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)
