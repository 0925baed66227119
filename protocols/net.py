"""The net device protocol (net0: drivers/nic.py): Ethernet frames in and out.

    SEND  | frame    ->                 14..1514 bytes; sent or queued when answered.
                                        EIO with detail (card error; 3: no carrier),
                                        EBUSY (every TX slot still held by the card),
                                        EINVAL (size)
    RECV   etype     -> | frame         the next frame of EtherType `etype` (0: of a type
                                        no client asked for); blocks until one comes
    SENDV  | *frames -> sent            1..31 frames, in order; how many the card took
                                        (it stops at the first it refuses; an error only
                                        if it took none)
    RECVV  etype max -> | *frames       as RECV, but every queued frame of the type, up
                                        to max (1..31), at once
    INFO             -> mac_hi mac_lo link tx_frames tx_dropped rx_frames rx_missed
                        rx_errors tx_errors            (mac_hi: the MAC's first 2 bytes)
"""
from __future__ import annotations

import enum

from microkernel.abi import NEVER

from .client import Service
from .interface import Interface, call

__all__ = ["Op", "NET", "NetDevice", "ETH_MIN", "ETH_MAX", "NO_CARRIER", "MAX_BATCH"]

ETH_MIN, ETH_MAX = 14, 1514
NO_CARRIER = 3                   # the card's TX error code for "no link"


class Op(enum.IntEnum):
    INFO = 0xD001
    SEND = 0xD011
    RECV = 0xD012
    SENDV = 0xD013
    RECVV = 0xD014


NET = Interface("net", Op, {
    Op.INFO: call("", "mac_hi mac_lo link tx_frames tx_dropped rx_frames rx_missed "
                      "rx_errors tx_errors", retry=True),
    Op.SEND: call("| frame"),
    Op.RECV: call("etype", "| frame", retry=True),
    Op.SENDV: call("| *frames", "sent"),
    Op.RECVV: call("etype max", "| *frames", retry=True),
})
MAX_BATCH = 31


class NetDevice(Service):
    """A net driver's client stubs."""

    iface = NET

    def send(self, frame: bytes) -> None:
        """Hand one frame to the card (ServiceError: EIO, EBUSY, EINVAL)."""
        self.call(Op.SEND, bytes(frame))

    def recv(self, timeout=NEVER, etype: int = 0) -> bytes:
        """The next frame received of EtherType `etype`, which it claims (0: of a type
        nobody claimed); blocks until one comes, or timeout."""
        return self.call(Op.RECV, etype, timeout=timeout).frame

    def sendv(self, frames) -> int:
        """Hand up to MAX_BATCH frames to the card at once; how many it took."""
        return self.call(Op.SENDV, tuple(frames)).sent

    def recvv(self, etype: int = 0, most: int = MAX_BATCH, timeout=NEVER) -> tuple:
        """Every queued frame of EtherType `etype`, up to `most`; blocks for the first."""
        return self.call(Op.RECVV, etype, most, timeout=timeout).frames

    def info(self) -> dict:
        """The MAC (bytes), the link, and the counters."""
        r = self.call(Op.INFO)._asdict()
        r["mac"] = (r.pop("mac_hi").to_bytes(2, "big") + r.pop("mac_lo").to_bytes(4, "big"))
        return r
