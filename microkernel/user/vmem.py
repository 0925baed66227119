"""`rt.mem`: the task's view of its address space, through the MMU, over shared memory.

The runtime plays the CPU: each access walks the task's real i486 page tables in
simulated physical memory (`hw.mmu`, with a software TLB), then reads or writes the
frame in the shared segment directly, with no kernel involvement. A miss or a rights
violation is a page fault: the runtime traps to the kernel, which calls the thread's
pager on its behalf (V2 §5); when the kernel answers, the access is retried.

TLB coherence: the kernel bumps this space's generation word (in kernel memory) before
`fpage_unmap` returns; every access compares it and flushes the TLB on a change, so no
access that starts after the unmap can reach a revoked page.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from hw.memory import PhysicalMemory
from hw.mmu import PFEC_P, TLB, PageFault, translate_range
from microkernel.abi.fpage import USER_TOP

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = ["VirtualMemory", "MemoryFault"]

MAX_RETRIES = 8


class MemoryFault(Exception):
    """An access the pager would not resolve (it keeps faulting): the task's #GP."""


class VirtualMemory:
    """Read and write the task's virtual memory."""

    def __init__(self, rt: "Runtime", mem_name: str, cr3: int, gen_addr: int):
        self.rt = rt
        self.phys = PhysicalMemory.attach(mem_name)
        self.cr3 = cr3
        self.gen_addr = gen_addr
        self._local = threading.local()

    def _tlb(self) -> TLB:
        loc = self._local
        tlb = getattr(loc, "tlb", None)
        if tlb is None:
            tlb = loc.tlb = TLB(self.phys)
            loc.gen = -1
        gen = self.phys.read_u32(self.gen_addr)
        if gen != loc.gen:
            tlb.flush()
            loc.gen = gen
        return tlb

    def _pieces(self, vaddr: int, n: int, write: bool) -> list[tuple[int, int]]:
        """Translate a range, taking page faults through the pager until it maps;
        the same fault repeating MAX_RETRIES times is the task's MemoryFault."""
        last, same = None, 0
        while True:
            try:
                return translate_range(self.phys, self.cr3, vaddr, n, write, True,
                                       tlb=self._tlb())
            except PageFault as pf:
                if pf.cr2 >= USER_TOP:
                    raise MemoryFault(f"{'write' if write else 'read'} at {pf.cr2:#x}: the "
                                      f"kernel area (user space ends at {USER_TOP:#x})") from None
                key = (pf.cr2 & ~0xFFF, pf.error_code)
                same = same + 1 if key == last else 1
                last = key
                if same > MAX_RETRIES:
                    raise MemoryFault(f"page fault at {pf.cr2:#x} "
                                      f"({'write' if write else 'read'}) not resolved "
                                      "by the pager") from None
                self.rt._page_fault(pf.cr2, write, bool(pf.error_code & PFEC_P))

    def read(self, vaddr: int, n: int) -> bytes:
        """Read `n` bytes at virtual address `vaddr`."""
        if n == 0:
            return b""
        view = self.phys.view
        return b"".join(bytes(view[pa:pa + k]) for pa, k in self._pieces(vaddr, n, False))

    def write(self, vaddr: int, data: bytes) -> None:
        """Write `data` at virtual address `vaddr` (all pages checked before any byte)."""
        if not data:
            return
        view, off = self.phys.view, 0
        mv = memoryview(data)
        for pa, k in self._pieces(vaddr, len(data), True):
            view[pa:pa + k] = mv[off:off + k]
            off += k

    def read_u32(self, vaddr: int) -> int:
        return int.from_bytes(self.read(vaddr, 4), "little")

    def write_u32(self, vaddr: int, value: int) -> None:
        self.write(vaddr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def touch(self, vaddr: int, write: bool = False) -> None:
        """Make sure the page is mapped (fault it in) without moving data."""
        self._pieces(vaddr, 1, write)
