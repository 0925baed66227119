"""The char device protocol (com1, com2: drivers/uart.py): bytes in and out of a line.

    WRITE   | data        -> written        len(data) <= MAX_WRITE; answered when the
                                            last byte has gone to the chip
    READ    most          -> | data         blocks until at least one byte is there
    READ_NB most          -> | data         never blocks (may be empty)
    INFO                  -> irqs rx_bytes tx_bytes overruns buffered readers baud breaks

`most` is 1..2**32-1 (at most MAX_READ bytes come back). Every request is resent to a
restarted driver: bytes it had received but not handed out died with it, and a WRITE's
bytes may go out twice if the driver died after sending them but before its reply.
"""
from __future__ import annotations

import enum

from microkernel.abi import NEVER

from .client import Service
from .interface import Interface, call

__all__ = ["Op", "CHAR", "CharDevice", "MAX_WRITE", "MAX_READ"]

MAX_WRITE = 64 << 10
MAX_READ = 64 << 10


class Op(enum.IntEnum):
    WRITE = 0xD003
    READ = 0xD002
    READ_NB = 0xD005
    INFO = 0xD001


CHAR = Interface("char", Op, {
    Op.WRITE: call("| data", "written", retry=True),
    Op.READ: call("most", "| data", retry=True),
    Op.READ_NB: call("most", "| data", retry=True),
    Op.INFO: call("", "irqs rx_bytes tx_bytes overruns buffered readers baud breaks",
                  retry=True),
})


class CharDevice(Service):
    """A char driver's client stubs."""

    iface = CHAR

    def write(self, data: bytes) -> int:
        """Send all of `data` (in MAX_WRITE requests); the bytes written."""
        view, n = memoryview(bytes(data)), 0
        while n < len(view):
            n += self.call(Op.WRITE, bytes(view[n:n + MAX_WRITE])).written
        return n

    def read(self, most: int = 4096, timeout=NEVER) -> bytes:
        """At least one byte, at most `most`; blocks until some arrive (or timeout)."""
        return self.call(Op.READ, most, timeout=timeout).data

    def read_nb(self, most: int = 4096) -> bytes:
        """What is buffered now, at most `most` bytes (may be empty)."""
        return self.call(Op.READ_NB, most).data

    def info(self) -> dict:
        """The driver's counters (docs/drivers.md)."""
        return self.call(Op.INFO)._asdict()
