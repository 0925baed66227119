"""The physical memory root hands to the tasks of its clan (protocols.root MEMORY).

Root is sigma0's only client: it takes blocks of 2**s bytes (s 12..22) from sigma0 into
POOL of its own space and maps them on to the task that asked, so the mapping tree runs
sigma0 -> root -> the task (-> whoever the task maps them to, if it is a pager). Root
waits with no receive window, so no stranger's map item can land in its space and
displace these parents. When a task of the clan ends, the kernel has flushed every
mapping derived from its pages; its blocks come back here and go out again, zeroed, to
the next task that asks: fresh memory is zero. A block of the size asked is taken from
the free ones, else from sigma0, else cut out of a larger free one.
"""
from __future__ import annotations

from protocols.sigma0 import grab

__all__ = ["Frames", "POOL"]

POOL = 0x4000_0000               # where the blocks sit in root's space
POOL_END = 0x8000_0000
_ZEROS = bytes(1 << 16)


class Frames:
    """Blocks by size: free ones, and whose each given one is (a task incarnation)."""

    def __init__(self, rt):
        self.rt = rt
        self.cursor = POOL
        self.free: dict[int, list[tuple[int, int]]] = {}     # log2 -> [(addr, phys)]
        self.given: dict[int, list[tuple[int, int, int]]] = {}  # task id -> [(addr, phys, log2)]

    def give(self, task: int, log2: int) -> tuple[int, int] | None:
        """A zeroed block of 2**log2 bytes for task incarnation `task`: (its address in
        my space, its physical address), or None when there is no memory left."""
        block = self._take(log2)
        if block is None:
            return None
        self.given.setdefault(task, []).append((*block, log2))
        return block

    def reclaim(self, task: int) -> int:
        """Task incarnation `task` ended: its blocks are free again; how many bytes."""
        blocks = self.given.pop(task, [])
        for addr, phys, log2 in blocks:
            self.free.setdefault(log2, []).append((addr, phys))
        return sum(1 << log2 for _, _, log2 in blocks)

    def _take(self, log2: int) -> tuple[int, int] | None:
        """A free block (zeroed: it was someone's), a new one from sigma0, or a piece
        of a larger free one."""
        if self.free.get(log2):
            addr, phys = self.free[log2].pop()
            self._zero(addr, 1 << log2)
            return addr, phys
        addr = (self.cursor + (1 << log2) - 1) & ~((1 << log2) - 1)
        if addr + (1 << log2) <= POOL_END:
            phys = grab(self.rt, log2, addr)
            if phys is not None:                # sigma0's frames are fresh: zero
                self.cursor = addr + (1 << log2)
                return addr, phys
        for bigger in sorted(s for s, blocks in self.free.items() if s > log2 and blocks):
            addr, phys = self.free[bigger].pop()
            for off in range((1 << bigger) - (1 << log2), 0, -(1 << log2)):   # lowest last
                self.free.setdefault(log2, []).append((addr + off, phys + off))
            self._zero(addr, 1 << log2)
            return addr, phys
        return None

    def _zero(self, addr: int, size: int) -> None:
        for off in range(0, size, len(_ZEROS)):
            self.rt.mem.write(addr + off, _ZEROS[:min(len(_ZEROS), size - off)])
