"""The IPC path's two header layouts, field by field: the request and the delivery.

    request   (thread -> kernel)  [IPC, dest, words, items, timeouts, rcv_mode, rcv_from,
                                   window, limits, deceit] + one frame per string
    delivery  (kernel -> thread)  [result, sender, words, items, intended, nstrings]
                                   + nstrings frames

Both are msgpack arrays (codec.py). The runtime builds a request and takes a delivery
apart; the kernel takes a request apart in `ipc.sys_ipc` and in the fast path, and
builds a delivery in `Kernel.deliver` and in the fast path. Those hot paths neither
build nor index these NamedTuples (a call, or a lookup per field, on every message):
they build a list in this order and unpack a header positionally into locals named as
the fields, and tests/unit/test_layout.py checks that every such site agrees with the
order written here. Anything colder (tests, tools) can use the NamedTuples themselves.
"""
from __future__ import annotations

from typing import NamedTuple

from .codec import encode_header
from .ops import Op

__all__ = ["IpcRequest", "Delivery", "IPC_REQUEST_PREFIX"]


class IpcRequest(NamedTuple):
    """One V2 ipc: an optional send phase (dest not None), an optional receive phase."""

    op: int                    # Op.IPC
    dest: int | None           # the send phase's destination; None: no send phase
    words: list                # 32-bit words
    items: list                # [fpage word, snd_base, grant] per map or grant item
    timeouts: int              # the V2 timeout word (timeouts.py)
    rcv_mode: int              # RcvMode: none, closed (from rcv_from), open
    rcv_from: int              # a closed receive's source: a thread, irq_id(n), or nil
    window: int                # the receive window's fpage word; 0: none
    limits: list | None        # [count, size] of the strings accepted; None: the ABI's
    deceit: int | None         # the sender a chief claims (deceiving IPC); None: none


class Delivery(NamedTuple):
    """What ends an IPC's receive phase (or reports its error) to the receiver."""

    result: int                # the V2 result byte: IpcCode | phase bit | ResultFlag
    sender: int                # the sender's id as the kernel vouches for it
    words: list
    items: list                # as the sender sent them: [fpage word, snd_base, grant]
    intended: int | None       # a redirected message's destination; else None
    nstrings: int              # how many string frames follow the header


# The first bytes of every request of this layout as msgpack encodes it (a fixarray of
# the field count, the fixint IPC): the fast path declines any header without them.
IPC_REQUEST_PREFIX = encode_header([Op.IPC] + [None] * (len(IpcRequest._fields) - 1))[:2]
if len(IpcRequest._fields) >= 16 or Op.IPC >= 128:
    raise ImportError("an IPC request no longer begins with a two-byte msgpack prefix")
