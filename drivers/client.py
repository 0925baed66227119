"""The client side of the char and block protocols, with retry across driver restarts.

A device is found by name through the name server. When root restarts a driver that
died, the new driver has a new thread id (the task's version changed), and a client's
request in flight fails with NOT_EXISTENT (or CANCELED). `CharDevice` and `BlockDevice`
then look the name up again and resend, a bounded number of times with short waits, so
a caller sees one slow request instead of an error (Minix 3's reincarnation, seen from
the client). Errors the driver reports (E_INVAL, E_RANGE, E_IO...) are raised as
`DeviceError` and never retried.

Retrying means a request may reach the device twice: harmless for the block protocol
(reads, and writes of the same data to the same sectors, are idempotent); for a char
WRITE the bytes may go out twice if the driver died after sending them but before its
reply. Bytes a char driver had received but not yet handed out die with it.
"""
from __future__ import annotations

import time

from microkernel.abi import NEVER, IpcCode, IpcError, Msg, ThreadId

from .protocol import (E_INVAL, E_IO, E_NODEV, E_RANGE, FLUSH, INFO, OK, READ, READ_NB,
                       SECTOR, WRITE)

__all__ = ["names_id", "lookup", "DeviceError", "CharDevice", "BlockDevice",
           "RETRY_CODES", "NAMES_TASK"]

NAMES_TASK = 6                   # servers.root starts the name server as task 6
_LOOKUP, _NAMES_OK = 0x4E02, 0   # servers.names.LOOKUP (drivers do not import servers)
RETRY_CODES = (IpcCode.NOT_EXISTENT, IpcCode.CANCELED)
RETRY_FOR = 10.0                 # seconds a request keeps being retried after a restart
CHAR_CHUNK = 64 << 10            # drivers.uart.MAX_WRITE
BLOCK_CHUNK = 256                # sectors per request (drivers.ata.MAX_COUNT)
_NAMES = {E_INVAL: "E_INVAL", E_IO: "E_IO", E_RANGE: "E_RANGE", E_NODEV: "E_NODEV"}


def names_id(rt) -> ThreadId:
    """The name server's id on this node: task 6, lthread 0, the first (version 1)
    incarnation, created by root (task 4, nest 0) so its chief is 4 and nest 1."""
    return ThreadId.make(NAMES_TASK, 0, version=1, site=rt.site, chief=4, nest=1)


def lookup(rt, names: int, name: str, timeout: float = 5.0) -> ThreadId | None:
    """The driver registered as `name`, or None when nobody is (yet)."""
    r = rt.call(names, Msg(words=(_LOOKUP,), strings=(name.encode(),)), timeout=timeout)
    if len(r.words) == 3 and r.words[0] == _NAMES_OK:
        return ThreadId(r.words[2] << 32 | r.words[1])
    return None


class DeviceError(Exception):
    """The driver answered with an error status (`.code`, an errno number)."""

    def __init__(self, code: int, what: str = ""):
        self.code = code
        super().__init__(f"{_NAMES.get(code, code)}{': ' + what if what else ''}")


class _Device:
    """A named driver and the retrying call to it."""

    def __init__(self, rt, names: int | None, name: str, retry_for: float = RETRY_FOR):
        self.rt, self.name = rt, name
        self.names = names_id(rt) if names is None else ThreadId(int(names))
        self.retry_for = retry_for
        self.tid: ThreadId | None = None
        self.retries = 0                       # requests resent after a driver restart

    def driver(self, deadline: float) -> ThreadId:
        """The driver's id, looked up (again) while it is not registered."""
        pause = 0.02
        while self.tid is None:
            self.tid = lookup(self.rt, self.names, self.name)
            if self.tid is None:
                if time.monotonic() + pause > deadline:
                    raise DeviceError(E_NODEV, f"no driver named {self.name!r}")
                self.rt.sleep(pause)
                pause = min(pause * 2, 0.5)
        return self.tid

    def call(self, msg: Msg, timeout=NEVER) -> Msg:
        """Send `msg` to the driver and return its OK reply; retry after a restart."""
        deadline = time.monotonic() + self.retry_for
        pause = 0.02
        while True:
            tid = self.driver(deadline)
            try:
                reply = self.rt.call(tid, msg, timeout=timeout)
            except IpcError as e:
                if e.code not in RETRY_CODES or time.monotonic() + pause > deadline:
                    raise
                self.tid = None
                self.retries += 1
                self.rt.sleep(pause)
                pause = min(pause * 2, 0.5)
                continue
            if not reply.words:
                raise DeviceError(E_IO, "empty reply")
            if reply.words[0] != OK:
                raise DeviceError(reply.words[0], f"{self.name}")
            return reply


class CharDevice(_Device):
    """A char driver (com1, com2): write bytes, read bytes (blocking or not)."""

    def write(self, data: bytes) -> int:
        """Send all of `data` (in 64 KiB requests); returns the bytes written."""
        view, n = memoryview(bytes(data)), 0
        while n < len(view):
            r = self.call(Msg(words=(WRITE,), strings=(bytes(view[n:n + CHAR_CHUNK]),)))
            n += r.words[1]
        return n

    def read(self, most: int = 4096, timeout=NEVER) -> bytes:
        """At least one byte, at most `most`; blocks until some arrive (or timeout)."""
        return self._read(READ, most, timeout)

    def read_nb(self, most: int = 4096) -> bytes:
        """What is buffered now, at most `most` bytes (may be empty)."""
        return self._read(READ_NB, most, NEVER)

    def _read(self, op: int, most: int, timeout) -> bytes:
        r = self.call(Msg(words=(op, most)), timeout=timeout)
        return bytes(r.strings[0]) if r.strings else b""

    def info(self) -> dict:
        """The driver's counters (see docs/drivers.md)."""
        w = self.call(Msg(words=(INFO,))).words
        keys = ("irqs", "rx_bytes", "tx_bytes", "overruns", "buffered", "readers",
                "baud", "breaks")
        return dict(zip(keys, w[1:]))


class BlockDevice(_Device):
    """A block driver (ata0): 512-byte sectors by LBA."""

    def info(self) -> tuple[int, int]:
        """(sectors, sector size)."""
        w = self.call(Msg(words=(INFO,))).words
        return w[1], w[2]

    def read(self, lba: int, count: int = 1) -> bytes:
        """`count` sectors from `lba` (split into requests of at most 256)."""
        parts = []
        while count > 0:
            n = min(count, BLOCK_CHUNK)
            parts.append(bytes(self.call(Msg(words=(READ, lba, n))).strings[0]))
            lba, count = lba + n, count - n
        return b"".join(parts)

    def write(self, lba: int, data: bytes) -> None:
        """Write whole sectors from `lba` (len(data) a multiple of 512)."""
        if len(data) % SECTOR:
            raise ValueError(f"{len(data)} bytes is not a whole number of sectors")
        view = memoryview(bytes(data))
        for off in range(0, len(view), BLOCK_CHUNK * SECTOR):
            chunk = view[off:off + BLOCK_CHUNK * SECTOR]
            self.call(Msg(words=(WRITE, lba + off // SECTOR, len(chunk) // SECTOR),
                          strings=(bytes(chunk),)))

    def flush(self) -> None:
        """Ask the drive to put written sectors on stable storage."""
        self.call(Msg(words=(FLUSH,)))
