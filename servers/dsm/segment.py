"""The task's side of distributed shared memory: attach a segment, use it, synchronise.

    seg = Segment.attach(rt, "grid@n1", 64 * 1024, addr=0x2000_0000)
    seg.write(0, b"hello")                 # plain stores: a write fault makes this
    seg.read(0, 5)                         # node the page's owner; loads see the latest
    with seg.locked(0):                    # lock 0 of the segment, at its home
        n = seg.read_u32(8); seg.write_u32(8, n + 1)
    seg.barrier(3)                         # wait until 3 tasks arrive
    seg.detach()

Attaching makes the node's dsm server the pager of the calling thread (and of the
task's threads started after it, when called from lthread 0: V2 gives a new thread
thread 0's pager); memory outside the segment stays ordinary anonymous memory. The
bytes are the task's own memory (`rt.mem`), so any code that uses `rt.mem` at those
addresses shares them too. An access to a page that is lost (the node holding its only
copy died) raises SegmentFault with the reason: the task's SIGBUS.
"""
from __future__ import annotations

import errno
import struct
from contextlib import contextmanager

from microkernel.abi import NEVER
from microkernel.user.vmem import MemoryFault
from protocols.client import ServiceError
from protocols.dsm import MAX_AHEAD, DsmClient, HomeClient, HomeOp, Op, parse_name

__all__ = ["Segment", "SegmentFault"]


class SegmentFault(MemoryFault):
    """An access to a shared page that cannot be served (the task's SIGBUS)."""


class Segment:
    """A segment attached at `addr` of this task (use `Segment.attach`)."""

    def __init__(self, rt, name: str, size: int, addr: int, number: int, dsm: DsmClient):
        self.rt, self.name, self.size, self.addr, self.number = rt, name, size, addr, number
        self.dsm = dsm
        self.home = HomeClient(rt, parse_name(name)[1])

    @classmethod
    def attach(cls, rt, name: str, size: int, addr: int, ahead: int = MAX_AHEAD) -> "Segment":
        """Attach segment `name` ("NAME@NODE"; created at NODE if new) of `size` bytes
        at `addr`; a fault brings up to `ahead` pages from the faulting one on, those
        that come cheap (1: one page a fault). ServiceError EINVAL (bad name, size,
        address or ahead), EEXIST (the name exists with another size), ENOENT (no such
        node)."""
        parse_name(name)
        dsm = DsmClient(rt)
        number = dsm.call(Op.ATTACH, addr, size, ahead, name.encode()).segment
        rt.lthread_ex_regs(rt.myself().lthread, None, pager=int(dsm.server()))
        return cls(rt, name, size, addr, number, dsm)

    def detach(self) -> None:
        """No more faults served for the segment (pages mapped stay until invalidated)."""
        self.dsm.call(Op.DETACH, self.addr, self.size)

    def read(self, off: int, n: int) -> bytes:
        """`n` bytes at offset `off`."""
        self._check(off, n)
        try:
            return self.rt.mem.read(self.addr + off, n)
        except MemoryFault as e:
            raise self._fault(off, e) from None

    def write(self, off: int, data: bytes) -> None:
        """Store `data` at offset `off`."""
        self._check(off, len(data))
        try:
            self.rt.mem.write(self.addr + off, data)
        except MemoryFault as e:
            raise self._fault(off, e) from None

    def read_u32(self, off: int) -> int:
        return struct.unpack("<I", self.read(off, 4))[0]

    def write_u32(self, off: int, value: int) -> None:
        self.write(off, struct.pack("<I", value & 0xFFFFFFFF))

    def lock(self, n: int = 0) -> None:
        """Take lock `n` of the segment (waits; the task holds it until unlock or end)."""
        self.home.call(HomeOp.LOCK, self.number, n, timeout=NEVER)

    def unlock(self, n: int = 0) -> None:
        self.home.call(HomeOp.UNLOCK, self.number, n)

    @contextmanager
    def locked(self, n: int = 0):
        self.lock(n)
        try:
            yield self
        finally:
            self.unlock(n)

    def barrier(self, count: int, n: int = 0) -> None:
        """Wait at barrier `n` until `count` tasks (on any nodes) have come. The pages
        this node writes go home first (WRITEBACK), where the reads after it find them;
        a detached segment has none to send."""
        try:
            self.dsm.call(Op.WRITEBACK, self.addr)
        except ServiceError as e:
            if e.errno != errno.ENOENT:
                raise
        self.home.call(HomeOp.BARRIER, self.number, n, count, timeout=NEVER)

    def _check(self, off: int, n: int) -> None:
        if off < 0 or n < 0 or off + n > self.size:
            raise ValueError(f"{self.name}: bytes {off}..{off + n} outside its {self.size}")

    def _fault(self, off: int, e: MemoryFault) -> SegmentFault:
        """The fault with the dsm server's reason, if it has one."""
        page = (self.addr + off) & ~0xFFF
        try:
            why = self.dsm.call(Op.WHY, page).why.decode()
        except OSError:
            why = ""
        return SegmentFault(why or f"{self.name}: {e}")
