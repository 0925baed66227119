"""An address space: an i486 page directory in simulated physical memory, plus I/O rights.

The kernel writes the real 32-bit formats (`hw.mmu`), so every task runtime walks the
same bytes with `hw.mmu.translate`:

    PDE = page-table frame | P | W | U     rights are left to the PTE
    PTE = page frame | P | U | (W)         A and D are set by the walker, not here

The page directory is the space's CR3. Page tables come from the kernel's `FramePool`
on demand, when the first page of their 4 MiB region is mapped. When the last page goes,
the table is given back and the PDE is cleared, so an address space holds only as many
kernel frames as it has populated 4 MiB regions, plus one.

User space is the low 3 GiB (`abi.USER_TOP`); `vm` maps nothing above it. A real i486
L4 kernel shares its own region (the top of every directory) with every space. Here
the kernel is a separate host process and never runs through these tables, so the top
GiB stays empty, reserved only so that fpage words keep one meaning.

TLB coherence (see `kmem`): a change that removes a mapping or takes away write access
bumps the space's generation word before the method returns. With `shoot=False` the
caller takes that duty on: it must call `shootdown()` before its own system call
returns. `vm.VM` uses this to bump once per space for a large unmap.
`io` is the space's I/O permission bitmap (the TSS IOPB): the ports it holds through
I/O fpages.
"""
from __future__ import annotations

import struct

from hw.mmu import PTE_A, PTE_D, PTE_FRAME, PTE_P, PTE_U, PTE_W
from hw.ports import IOPermissionBitmap
from microkernel.abi.errors import Fault, KernelError

from .kmem import FRAME_SIZE, FramePool

__all__ = ["AddressSpace"]

_PDE_BITS = PTE_P | PTE_W | PTE_U
_KEEP = PTE_A | PTE_D


class AddressSpace:
    """One task's page directory (`cr3`), generation word (`gen_addr`) and I/O bitmap."""

    def __init__(self, memory, pool: FramePool, asid: int):
        self.memory = memory
        self.pool = pool
        self.asid = asid
        self.cr3 = pool.alloc()
        try:
            self.gen_addr = pool.generations.alloc()
        except BaseException:
            pool.free(self.cr3)
            raise
        self.io = IOPermissionBitmap()
        self.destroyed = False
        # page tables this space may hold, so one task cannot take the whole pool (a
        # task touching a page every 4 MiB needs a table each): a quarter of the pool,
        # 16 times what mapping all physical memory takes (the pool is 1/16 of memory)
        self.table_quota: int | None = max(8, pool.total // 4)
        self._tables: dict[int, int] = {}    # PDE index -> page-table frame
        self._present: dict[int, int] = {}   # PDE index -> present PTEs in that table

    # -- page-table entries ----------------------------------------------------------

    def set_page(self, vaddr: int, frame: int, writable: bool) -> None:
        """Map the page holding `vaddr` to `frame` (user; W if `writable`).

        May raise KernelError(NO_MEMORY) for a new page table, and changes nothing when
        it does. When this replaces another frame or takes away W, the generation word is
        bumped.
        """
        if frame & ~PTE_FRAME or not 0 <= frame < self.memory.size:
            raise ValueError(f"frame {frame:#x} is not a page frame of physical memory")
        if self.pool.contains(frame):
            raise KernelError(Fault.BAD_ARGUMENT, f"frame {frame:#x} belongs to the kernel")
        pdx = _pdx(vaddr)
        table = self._tables.get(pdx)
        if table is None:
            if self.table_quota is not None and len(self._tables) >= self.table_quota:
                raise KernelError(Fault.NO_MEMORY, f"space {self.asid} holds its quota of "
                                  f"{self.table_quota} page tables")
            table = self.pool.alloc()
            self._tables[pdx] = table
            self._present[pdx] = 0
            self.memory.write_u32(self.cr3 + 4 * pdx, table | _PDE_BITS)
        at = table + ((vaddr >> 10) & 0xFFC)
        old = self.memory.read_u32(at)
        new = frame | PTE_P | PTE_U | (PTE_W if writable else 0)
        stale = False
        if old & PTE_P:
            if old & PTE_FRAME == frame:
                new |= old & _KEEP
                stale = bool(old & PTE_W) and not writable
            else:
                stale = True
        else:
            self._present[pdx] += 1
        self.memory.write_u32(at, new)
        if stale:
            self.shootdown()

    def clear_page(self, vaddr: int, shoot: bool = True) -> bool:
        """Unmap the page holding `vaddr`; True if it was mapped. Bumps unless shoot=False."""
        pdx = _pdx(vaddr)
        table = self._tables.get(pdx)
        if table is None:
            return False
        at = table + ((vaddr >> 10) & 0xFFC)
        if not self.memory.read_u32(at) & PTE_P:
            return False
        self.memory.write_u32(at, 0)
        left = self._present[pdx] - 1
        if left:
            self._present[pdx] = left
        else:                                   # the table is empty: give it back
            self.memory.write_u32(self.cr3 + 4 * pdx, 0)
            del self._tables[pdx], self._present[pdx]
            self.pool.free(table)
        if shoot:
            self.shootdown()
        return True

    def protect_page(self, vaddr: int, shoot: bool = True) -> bool:
        """Clear W at `vaddr`; True if the page had W. Bumps unless shoot=False."""
        table = self._tables.get(_pdx(vaddr))
        if table is None:
            return False
        at = table + ((vaddr >> 10) & 0xFFC)
        pte = self.memory.read_u32(at)
        if pte & (PTE_P | PTE_W) != PTE_P | PTE_W:
            return False
        self.memory.write_u32(at, pte & ~PTE_W)
        if shoot:
            self.shootdown()
        return True

    def lookup(self, vaddr: int) -> tuple[int, bool] | None:
        """(frame, writable) of the page holding `vaddr`, read back from its PTE, or None."""
        table = self._tables.get(_pdx(vaddr))
        if table is None:
            return None
        pte = self.memory.read_u32(table + ((vaddr >> 10) & 0xFFC))
        if not pte & PTE_P:
            return None
        return pte & PTE_FRAME, bool(pte & PTE_W)

    def tables_left(self) -> int | None:
        """How many more page tables this space may take (None: no quota)."""
        return None if self.table_quota is None else self.table_quota - len(self._tables)

    def has_table(self, vaddr: int) -> bool:
        """Whether the 4 MiB region holding `vaddr` has a page table already."""
        return _pdx(vaddr) in self._tables

    def mappings(self) -> dict[int, tuple[int, bool]]:
        """Every present page as {vaddr: (frame, writable)}, read from physical memory."""
        out: dict[int, tuple[int, bool]] = {}
        view = self.memory.view
        for pdx in sorted(self._tables):
            base, table = pdx << 22, self._tables[pdx]
            used = len(bytes(view[table:table + FRAME_SIZE]).rstrip(b"\0"))
            entries = struct.unpack_from(f"<{(used + 3) // 4}I", view, table)
            out.update((base | i << 12, (pte & PTE_FRAME, bool(pte & PTE_W)))
                       for i, pte in enumerate(entries) if pte & PTE_P)
        return out

    @property
    def table_count(self) -> int:
        """Page tables in use (kernel frames held besides the directory)."""
        return len(self._tables)

    @property
    def page_count(self) -> int:
        """Present pages."""
        return sum(self._present.values())

    # -- TLB and lifetime --------------------------------------------------------------

    @property
    def generation(self) -> int:
        """The current value of this space's generation word."""
        return self.pool.generations.read(self.gen_addr)

    def shootdown(self) -> None:
        """Bump the generation word: every runtime of this space flushes its TLB."""
        self.pool.generations.bump(self.gen_addr)

    def destroy(self) -> None:
        """Free every page table, the directory and the generation word (idempotent).

        The directory is zeroed before it is freed, so a runtime that walks it again
        faults instead of reading a later owner's tables.
        """
        if self.destroyed:
            return
        self.destroyed = True
        self.memory.zero(self.cr3, FRAME_SIZE)
        for table in self._tables.values():
            self.pool.free(table)
        self._tables.clear()
        self._present.clear()
        self.pool.free(self.cr3)
        self.pool.generations.free(self.gen_addr)

    def __repr__(self) -> str:
        return (f"<AddressSpace asid={self.asid} cr3={self.cr3:#x} "
                f"tables={len(self._tables)}{' destroyed' if self.destroyed else ''}>")


def _pdx(vaddr: int) -> int:
    if not 0 <= vaddr < 1 << 32:
        raise ValueError(f"virtual address {vaddr!r} outside 32 bits")
    return vaddr >> 22
