"""Kernel memory: the frame pool for page tables, and the per-space TLB generation words.

`FramePool` is the kernel's own memory. At boot the kernel reserves a range of physical
frames for page directories, page tables and the generation words below. sigma0 never
receives these frames (`vm.VM` refuses them), so no task can map its own page tables.
When the pool is empty, `alloc` raises `KernelError(Fault.NO_MEMORY)`. This is V2's
MAP_FAILED condition: "the kernel ran out of page-table or mapping-node memory"
(l4-v2-api.md §4.3). The IPC code turns it into that result.

The generation words model the TLB shootdown. Each task runtime plays the CPU and keeps
a software TLB (`hw.mmu.TLB`) in its own host process, and the kernel cannot reach into
that process to run `invlpg`. So every address space gets one 32-bit word in a kernel
frame (`GenerationTable`). The kernel adds one to the word whenever it removes or
write-protects a mapping of that space, before the system call that caused the change
returns. The runtime reads the word from shared physical memory before each access
(a single u32 load) and flushes its TLB when the value changed. This plays the role of
the shootdown IPI: an access that starts after `fpage_unmap` returned (or after the
map IPC that replaced a page was delivered) walks the page tables again. An access
already in flight finishes with the old translation, as an instruction in flight does
on real hardware. A space that gains a mapping or a right needs no bump. The TLB keeps
no "not present" entries, and it walks again when an entry lacks a right.
"""
from __future__ import annotations

from microkernel.abi.errors import Fault, KernelError

__all__ = ["FramePool", "GenerationTable", "FRAME_SIZE"]

FRAME_SIZE = 4096
_WORDS_PER_FRAME = FRAME_SIZE // 4


class FramePool:
    """The kernel's frames in physical [start, end): handed out zeroed, one at a time."""

    def __init__(self, memory, start: int, end: int):
        if start % FRAME_SIZE or end % FRAME_SIZE:
            raise ValueError(f"kernel pool {start:#x}-{end:#x} is not frame-aligned")
        if not 0 <= start < end <= memory.size:
            raise ValueError(f"kernel pool {start:#x}-{end:#x} outside physical memory "
                             f"(0-{memory.size:#x})")
        self.memory = memory
        self.start = start
        self.end = end
        # Popped from the end: the lowest frame goes first, which keeps dumps readable.
        self._free = list(range(end - FRAME_SIZE, start - FRAME_SIZE, -FRAME_SIZE))
        self._used: set[int] = set()
        self.generations = GenerationTable(self)

    @property
    def total(self) -> int:
        """Number of frames in the pool."""
        return (self.end - self.start) // FRAME_SIZE

    @property
    def used(self) -> int:
        """Frames currently handed out (page directories, page tables, generation words)."""
        return len(self._used)

    @property
    def available(self) -> int:
        """Frames left."""
        return len(self._free)

    def contains(self, paddr: int) -> bool:
        """Whether physical address `paddr` lies in the pool (never mappable to a task)."""
        return self.start <= paddr < self.end

    def alloc(self) -> int:
        """A zeroed 4 KiB frame's physical address; KernelError(NO_MEMORY) when empty."""
        if not self._free:
            raise KernelError(Fault.NO_MEMORY,
                              f"kernel frame pool exhausted ({self.total} frames)")
        paddr = self._free.pop()
        self.memory.zero(paddr, FRAME_SIZE)
        self._used.add(paddr)
        return paddr

    def free(self, paddr: int) -> None:
        """Return a frame from `alloc`; freeing a frame twice is a ValueError."""
        if paddr not in self._used:
            raise ValueError(f"frame {paddr:#x} is not allocated from the kernel pool")
        self._used.remove(paddr)
        self._free.append(paddr)

    def __repr__(self) -> str:
        return (f"<FramePool {self.start:#x}-{self.end:#x} "
                f"{self.used}/{self.total} frames used>")


class GenerationTable:
    """One u32 generation word per address space, in kernel frames taken from the pool.

    The words are packed 1024 to a frame. A frame is taken from the pool when the first
    of its words is needed, and it stays in the table after that. A word that is freed
    keeps its value and is bumped once more, so the runtime of a dead space flushes its
    TLB too. A reused word starts from that value: readers take the value when they
    attach, never 0.
    """

    def __init__(self, pool: FramePool):
        self._pool = pool
        self._memory = pool.memory
        self._free: list[int] = []
        self._taken: set[int] = set()
        self.frames: list[int] = []

    def alloc(self) -> int:
        """The physical address of a fresh generation word (may raise NO_MEMORY)."""
        if not self._free:
            frame = self._pool.alloc()
            self.frames.append(frame)
            self._free.extend(range(frame + FRAME_SIZE - 4, frame - 4, -4))
        addr = self._free.pop()
        self._taken.add(addr)
        return addr

    def free(self, addr: int) -> None:
        """Give a word back, after one last bump (the dead space's TLB must go)."""
        if addr not in self._taken:
            raise ValueError(f"generation word {addr:#x} is not allocated")
        self.bump(addr)
        self._taken.remove(addr)
        self._free.append(addr)

    def bump(self, addr: int) -> None:
        """Advance the word at `addr` (mod 2**32): every TLB of that space is stale."""
        mem = self._memory
        mem.write_u32(addr, (mem.read_u32(addr) + 1) & 0xFFFFFFFF)

    def read(self, addr: int) -> int:
        """The current value of the word at `addr`."""
        return self._memory.read_u32(addr)

    def __len__(self) -> int:
        return len(self._taken)
