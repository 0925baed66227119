"""The i486 paging unit: the two-level 4 KiB page walk, #PF, and a TLB.

Page directories and page tables live in simulated physical memory in the real 32-bit
format, so the kernel builds them with plain word writes and every task's runtime walks
the same bytes. This is the one walk implementation (`walk`); `translate`, `TLB` and
`translate_range` are built on it.

     31        22 21        12 11           0
    +------------+------------+--------------+
    | PDX (10b)  | PTX (10b)  | offset (12b) |
    +------------+------------+--------------+
    PDE at (CR3 & ~0xFFF) + PDX*4, PTE at (PDE & ~0xFFF) + PTX*4, page at PTE & ~0xFFF.

Rights are the 486's: effective U/S and R/W are the AND of both levels; a user access
needs U (and W to write); a supervisor access ignores R/W unless CR0.WP is set. The
error code has P (protection, not absence), W (write access), U (user access).

A/D order (Bochs's): A and D are written only after every check has passed, so a
faulting access sets no A or D bit at any level. PDE.A is set on every successful walk,
PTE.A too, PTE.D on a write; the PDE's D bit is never touched. Not modelled: 4 MiB
pages, global pages, reserved-bit faults (none exist on a 486), PWT/PCD caching, and the
locked bus cycle of the A/D update (two host processes walking the same tables at once
may race on A/D, which both only ever set).
"""
from __future__ import annotations

import struct

from .device import BadAccess

__all__ = ["PageFault", "TLB", "walk", "translate", "translate_range",
           "pde_index", "pte_index", "PAGE_SIZE", "PAGE_SHIFT", "PAGE_MASK", "NENTRIES",
           "PTE_P", "PTE_W", "PTE_U", "PTE_PWT", "PTE_PCD", "PTE_A", "PTE_D", "PTE_AVL",
           "PTE_FRAME", "PFEC_P", "PFEC_W", "PFEC_U"]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
NENTRIES = 1024

PTE_P = 0x001      # present
PTE_W = 0x002      # writable
PTE_U = 0x004      # user
PTE_PWT = 0x008    # write-through (486+)
PTE_PCD = 0x010    # cache disable (486+)
PTE_A = 0x020      # accessed
PTE_D = 0x040      # dirty (PTE only)
PTE_AVL = 0xE00    # free for the OS
PTE_FRAME = 0xFFFFF000

PFEC_P = 1         # 0: not present, 1: protection violation
PFEC_W = 2         # the access was a write
PFEC_U = 4         # the access came from user mode (CPL 3)

_U32 = struct.Struct("<I")
_unpack = _U32.unpack_from
_pack = _U32.pack_into
_NOT_UW = 0xFFFFFFFF & ~(PTE_U | PTE_W)


class PageFault(Exception):
    """#PF (vector 14): `cr2` is the faulting linear address, `error_code` the P/W/U bits."""

    def __init__(self, cr2: int, error_code: int):
        super().__init__(cr2, error_code)
        self.cr2 = cr2
        self.error_code = error_code

    def __str__(self) -> str:
        e = self.error_code
        why = "protection violation" if e & PFEC_P else "page not present"
        rw = "write" if e & PFEC_W else "read"
        who = "user" if e & PFEC_U else "supervisor"
        return f"page fault at {self.cr2:#010x}: {why} on {who} {rw} (error code {e:#x})"


def pde_index(linear: int) -> int:
    return (linear >> 22) & 0x3FF


def pte_index(linear: int) -> int:
    return (linear >> 12) & 0x3FF


def walk(memory, cr3: int, linear: int, write, user, wp=False) -> int:
    """Walk the tables for one access; returns the effective PTE or raises PageFault.

    The effective PTE is the PTE as now stored (A, and D after a write, set) with its U
    and W bits ANDed with the PDE's: frame, combined rights and dirty state in one int.
    """
    if linear & -0x100000000:
        raise BadAccess(f"linear address {linear!r} outside 32 bits")
    buf = memory.view
    try:
        pde_addr = (cr3 & PTE_FRAME) | ((linear >> 20) & 0xFFC)
        pde = _unpack(buf, pde_addr)[0]
        if not pde & PTE_P:
            raise PageFault(linear, (PFEC_W if write else 0) | (PFEC_U if user else 0))
        pte_addr = (pde & PTE_FRAME) | ((linear >> 10) & 0xFFC)
        pte = _unpack(buf, pte_addr)[0]
        if not pte & PTE_P:
            raise PageFault(linear, (PFEC_W if write else 0) | (PFEC_U if user else 0))
        both = pde & pte
        if user:
            if not both & PTE_U or (write and not both & PTE_W):
                raise PageFault(linear, PFEC_P | PFEC_U | (PFEC_W if write else 0))
        elif write and wp and not both & PTE_W:
            raise PageFault(linear, PFEC_P | PFEC_W)
        if not pde & PTE_A:
            _pack(buf, pde_addr, pde | PTE_A)
        if write:
            if pte & (PTE_A | PTE_D) != PTE_A | PTE_D:
                pte |= PTE_A | PTE_D
                _pack(buf, pte_addr, pte)
        elif not pte & PTE_A:
            pte |= PTE_A
            _pack(buf, pte_addr, pte)
    except struct.error:
        raise BadAccess(f"page walk for {linear:#x} (CR3 {cr3:#x}) reads past physical "
                        f"memory ({memory.size:#x} bytes)") from None
    return pte & (pde | _NOT_UW)


def translate(memory, cr3: int, linear: int, write, user, wp=False) -> int:
    """The physical address for one access at `linear`, or PageFault; sets A/D."""
    return (walk(memory, cr3, linear, write, user, wp) & PTE_FRAME) | (linear & PAGE_MASK)


# Which of the 8 access kinds (wp<<2 | user<<1 | write) a TLB entry may serve without a
# walk, indexed by (U, W, D) of the effective PTE. A write needs D already set, so the
# first write through a clean entry walks again and sets D, as on the 486.
def _served(us: int, rw: int, d: int) -> int:
    mask = 0
    for kind in range(8):
        wp, user, write = kind >> 2 & 1, kind >> 1 & 1, kind & 1
        ok = us and (not write or rw) if user else (not write or not wp or rw)
        if ok and (not write or d):
            mask |= 1 << kind
    return mask


_SERVED = tuple(_served(i >> 1 & 1, i & 1, i >> 2 & 1) for i in range(8))   # [D<<2|U<<1|W]


def _served_index(eff: int) -> int:
    return ((eff >> 1) & 3) | ((eff >> 4) & 4)


class TLB:
    """A translation cache for one CPU/address space, not coherent with page tables.

    Entries map a linear page to (frame, access kinds served). A hit does no memory
    access; a miss, a kind the entry does not serve (a write through a clean entry, a
    right the cached entry lacks) walks the tables again. A stale entry keeps working
    until `invlpg` or `flush`, as on the 486. A different `cr3` than the last one seen
    counts as a CR3 load and flushes everything. The 486 has 32 entries; this keeps up
    to `capacity` (oldest evicted first), which only makes stale-entry bugs show more.
    """

    def __init__(self, memory, capacity: int = 4096):
        self.memory = memory
        self.capacity = capacity
        self.cr3: int | None = None
        self.misses = 0
        self._map: dict[int, tuple[int, int]] = {}

    def translate(self, cr3: int, linear: int, write, user, wp=False) -> int:
        """As `translate`, through the cache."""
        if cr3 != self.cr3:
            self._map.clear()
            self.cr3 = cr3
        e = self._map.get(linear >> 12)
        if e is not None and e[1] >> ((4 if wp else 0) | (2 if user else 0)
                                      | (1 if write else 0)) & 1:
            return e[0] | (linear & PAGE_MASK)
        return self._miss(cr3, linear, write, user, wp)

    def _miss(self, cr3: int, linear: int, write, user, wp) -> int:
        m, vpn = self._map, linear >> 12
        try:
            eff = walk(self.memory, cr3, linear, write, user, wp)
        except PageFault:
            m.pop(vpn, None)               # a #PF invalidates the faulting page's entry
            raise
        self.misses += 1
        frame = eff & PTE_FRAME
        if vpn not in m and len(m) >= self.capacity:
            del m[next(iter(m))]
        m[vpn] = (frame, _SERVED[_served_index(eff)])
        return frame | (linear & PAGE_MASK)

    def invlpg(self, linear: int) -> None:
        """Drop the entry for the page holding `linear` (INVLPG)."""
        self._map.pop((linear & 0xFFFFFFFF) >> 12, None)

    def flush(self) -> None:
        """Drop every entry (what a CR3 load does)."""
        self._map.clear()

    def __len__(self) -> int:
        return len(self._map)


def translate_range(memory, cr3: int, linear: int, length: int, write, user,
                    wp=False, tlb: TLB | None = None) -> list[tuple[int, int]]:
    """Split linear..linear+length into (paddr, chunk_len) pieces, one per page.

    Every page is translated (and its A/D set) before anything is returned, so a fault
    on a later page comes before the caller moves any data; CR2 is the first byte of
    the range inside the faulting page. Through `tlb` if given.
    """
    if length < 0 or linear < 0 or linear + length > 1 << 32:
        raise BadAccess(f"linear range {linear!r}+{length!r} outside 32 bits")
    out = []
    end = linear + length
    while linear < end:
        n = min(PAGE_SIZE - (linear & PAGE_MASK), end - linear)
        if tlb is not None:
            pa = tlb.translate(cr3, linear, write, user, wp)
        else:
            pa = translate(memory, cr3, linear, write, user, wp)
        out.append((pa, n))
        linear += n
    return out
