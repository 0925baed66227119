"""Virtual memory operations: map/grant/unmap across address spaces (V2 §4, §5, §8.1).

`VM` joins the mapping database (`mapdb`) to the page tables (`space`). It provides the
operations the kernel's IPC and syscall code needs:

  * `transfer`: one map or grant item of an IPC. Memory fpages are placed by
    `abi.place` (V2 §4.3): the smaller of the send fpage and the receive window goes
    inside the larger, aligned, around the hot spot `snd_base`. Only pages the sender
    has mapped move (§4.2), with rights `fpage.writable and sender's rights`. I/O
    fpages (§4.5, a Fiasco extension) move idempotently, port p to port p, where the
    send fpage and the window intersect. A whole-space fpage covers memory and I/O.
  * `unmap`: fpage_unmap (§4.4) for the caller's own space.
  * `sigma0_identity`: resolves sigma0's page faults by mapping frame == vaddr (§5).
  * `delete_space`: a dead task's mappings go, with everything derived from them.

Mapping over an existing mapping: X.2 semantics. The receiver's old mapping is flushed
with its subtree, then the new one is made. There are two exceptions. If the old
mapping is a child of the same source node, it only gains rights (V2: "unless only the
write permission differed"). If the old mapping is the source itself or an ancestor of
it, that page is skipped: replacing it would cut the branch the source hangs from.

sigma0 (V2 §8.1) holds every frame outside the kernel pool, and every I/O port, that
no tree holds yet. Its roots are made lazily. A fault of sigma0's is answered by
`sigma0_identity`. When sigma0 *sends* a frame or port it never touched, the root is
made on the spot (Fiasco's sigma0 special case in `mem_fpage_map`), so the sigma0
server can hand out memory without touching it first. Its I/O bitmap allows every port
that is its own, held in a tree or in no tree at all. `sigma0_populate` makes a space
sigma0, and the kernel calls it once at boot. "Populated" is meant in the ownership sense:
PTEs appear on sigma0's faults, or when it sends a page.

Kernel memory: a transfer first counts the page tables it will need. If the pool
cannot supply them, it raises KernelError(NO_MEMORY) before changing anything. Even
then each page is installed in its PTE before it enters the database, so the database
and the page tables agree whatever fails. Mapping nodes are host objects and have no
pool.

Cost: linear in the pages that move or are taken away. The sender's pages are found
through the per-space index (`MappingDB.nodes_in`), so each shootdown is one word write
per affected space per call.
"""
from __future__ import annotations

from microkernel.abi.errors import Fault, KernelError
from microkernel.abi.fpage import PAGE_SIZE, USER_TOP, WHOLE_SPACE, Fpage, place

from .kmem import FramePool
from .mapdb import REMOVE, Mapping, MappingDB
from .space import AddressSpace

__all__ = ["VM"]

_NPORTS = 0x10000
_PAGE_LOG2 = 12
_Changes = list[tuple[Mapping, str]]


class VM:
    """The mapping database and every address space built over one physical memory."""

    def __init__(self, memory, pool: FramePool):
        self.memory = memory
        self.pool = pool
        self.db = MappingDB()
        self.sigma0: AddressSpace | None = None
        self._kernel_ports: frozenset[int] = frozenset()

    @classmethod
    def for_machine(cls, machine, kmem_bytes: int | None = None) -> "VM":
        """A VM over `machine.memory` whose kernel pool is the top `kmem_bytes` of it.

        The default pool is 1/16 of memory, and at least 64 frames: 1 MiB, or 256 page
        tables, for a 16 MiB machine.
        """
        memory = machine.memory
        if kmem_bytes is None:
            kmem_bytes = max(memory.size // 16, 64 * PAGE_SIZE)
        kmem_bytes = -(-kmem_bytes // PAGE_SIZE) * PAGE_SIZE
        if not 0 < kmem_bytes <= memory.size // 2:
            raise ValueError(f"kernel memory {kmem_bytes:#x} bytes: must be 1 frame to "
                             f"half of physical memory ({memory.size:#x})")
        return cls(memory, FramePool(memory, memory.size - kmem_bytes, memory.size))

    # -- spaces --------------------------------------------------------------------------

    def new_space(self, asid: int) -> AddressSpace:
        """A fresh, empty address space (may raise NO_MEMORY)."""
        return AddressSpace(self.memory, self.pool, asid)

    def delete_space(self, space: AddressSpace) -> None:
        """Flush everything `space` holds (recursively, in all spaces), then free it."""
        dirty: set[AddressSpace] = set()
        try:
            self._apply(self.db.remove_space(space), dirty, dying=space)
        finally:
            dirty.discard(space)
            _shoot(dirty)
            space.destroy()
            if self.sigma0 is space:
                self.sigma0 = None

    # -- sigma0 --------------------------------------------------------------------------

    def sigma0_populate(self, space: AddressSpace, exclude_ports=()) -> None:
        """Make `space` sigma0: it owns every frame and port no tree holds (roots lazily).

        `exclude_ports` is a sequence of (base, count) the kernel keeps for itself (the
        PIC's): sigma0 never gets them, so no task can.
        """
        if self.sigma0 is not None and self.sigma0 is not space:
            raise KernelError(Fault.BAD_ARGUMENT, "sigma0 is already another space")
        self.sigma0 = space
        self._kernel_ports = frozenset(p for base, count in exclude_ports
                                       for p in range(base, base + count))
        space.io.bits[:] = bytes(len(space.io.bits))     # the IOPB: a clear bit allows
        for port in self._kernel_ports:
            space.io.deny(port)
        for node in self.db.roots(io=True):
            if node.space is not space:
                space.io.deny(node.key)

    sigma0_ports = sigma0_populate      # the name in the design brief

    def sigma0_identity(self, space: AddressSpace, vaddr: int, write: bool) -> None:
        """Resolve sigma0's fault at `vaddr`: map frame == page, read-write (any `write`).

        KernelError(BAD_ARGUMENT) if the frame is outside physical memory or in the kernel
        pool, is no longer sigma0's (granted away), or sigma0 holds another mapping there.
        """
        if self.sigma0 is None:
            self.sigma0 = space
        elif self.sigma0 is not space:
            raise KernelError(Fault.BAD_ARGUMENT, "identity faults are for sigma0 only")
        if not 0 <= vaddr < 1 << 32:
            raise KernelError(Fault.BAD_ARGUMENT, f"address {vaddr!r} outside 32 bits")
        frame = vaddr & ~(PAGE_SIZE - 1)
        if not self._frame_ok(frame):
            raise KernelError(Fault.BAD_ARGUMENT,
                              f"sigma0 fault at {vaddr:#x}: no such frame for tasks")
        node = self.db.lookup(space, frame)
        root = self.db.root(frame)
        if node is not None and node is root and node.key == frame:
            space.set_page(frame, frame, True)   # a root may regain W: no parent bounds it
            node.writable = True
        elif node is not None:
            raise KernelError(Fault.BAD_ARGUMENT,
                              f"sigma0 already maps frame {node.key:#x} at {frame:#x}")
        elif root is not None:
            raise KernelError(Fault.BAD_ARGUMENT,
                              f"frame {frame:#x} was granted away (held by {root.space!r})")
        else:
            space.set_page(frame, frame, True)
            self.db.add_root(space, frame, frame, True)

    # -- map and grant -------------------------------------------------------------------

    def transfer(self, src: AddressSpace, fpage: Fpage, snd_base: int, grant: bool,
                 dst: AddressSpace, window: Fpage | None) -> int:
        """Map (or grant) `fpage` of `src` into `window` of `dst`; the pages/ports moved.

        `window` None (the receiver accepts no mappings) is a ValueError: the caller
        reports MSG_CUT without calling. KernelError(NO_MEMORY) means the page tables
        could not be allocated, and then nothing has changed (the caller reports
        MAP_FAILED).
        """
        if window is None:
            raise ValueError("no receive window: the receiver accepts no mappings")
        if fpage.log2size == _PAGE_LOG2 and not grant and not fpage.io and not window.io \
                and src is not self.sigma0:
            moved = self._map_page(src, fpage, snd_base, dst, window)
            if moved is not None:
                return moved
        dirty: set[AddressSpace] = set()
        count = 0
        try:
            if not fpage.io and not window.io:
                count += self._transfer_mem(src, fpage, snd_base, grant, dst, window, dirty)
            ports = _intersect(_port_range(fpage), _port_range(window))
            if ports is not None:
                count += self._transfer_io(src, ports, grant, dst, dirty)
        finally:
            _shoot(dirty)
        return count

    def _map_page(self, src, fpage, snd_base, dst, window) -> int | None:
        """The common case of a pager's reply, one page mapped to a free place under a
        page table that exists: what `_transfer_mem` does for it, without its set-up
        (measured: a third of a page fault's kernel time went there). None: not that
        case, nothing done."""
        src_base, dst_base, _ = place(fpage, snd_base, window)
        if src_base >= USER_TOP or dst_base >= USER_TOP or not dst.has_table(dst_base):
            return None
        db = self.db
        node = db.lookup(src, src_base)
        if node is None:
            return 0                                      # the sender has nothing there
        if db.lookup(dst, dst_base) is not None:
            return None
        rights = fpage.writable and node.writable
        dst.set_page(dst_base, node.key, rights)
        db.map(node, dst, dst_base, rights)
        return 1

    def _transfer_mem(self, src, fpage, snd_base, grant, dst, window, dirty) -> int:
        src_base, dst_base, log2 = place(fpage, snd_base, window)
        # what would land in the kernel area (a window reaching past USER_TOP) is not
        # mapped; the source has nothing there to send, so the end of either space cuts
        size = max(0, min(1 << log2, USER_TOP - dst_base, USER_TOP - src_base))
        items = self._source_pages(src, src_base, size) if size else []
        self._reserve_tables(src, dst, items, src_base, dst_base)
        db, moved = self.db, 0
        for item in items:
            if isinstance(item, int):                     # sigma0's untouched frame
                src.set_page(item, item, True)
                item = db.add_root(src, item, item, True)
            node: Mapping = item
            if not node.live:                             # flushed by an earlier page
                continue
            addr = dst_base + (node.addr - src_base)
            rights = fpage.writable and node.writable
            old = db.lookup(dst, addr)
            if old is not None:
                if old.key == node.key and node.derives_from(old):
                    continue                              # would cut its own branch
                if not grant and old.parent is node:
                    if rights and not old.writable:
                        dst.set_page(addr, node.key, True)
                        old.writable = True
                    moved += 1
                    continue
                self._apply(db.unmap(old, flush=True, own=True), dirty)
            dst.set_page(addr, node.key, rights)          # may raise: nothing changed yet
            if grant:
                from_space, from_addr = node.space, node.addr
                self._apply(db.grant(node, dst, addr, rights), dirty)
                from_space.clear_page(from_addr, shoot=False)
                dirty.add(from_space)
            else:
                db.map(node, dst, addr, rights)
            moved += 1
        return moved

    def _source_pages(self, src, base: int, size: int) -> list:
        """The sender's nodes in [base, base+size); for sigma0, untouched frames as ints."""
        if src is not self.sigma0:
            return self.db.nodes_in(src, base, size)
        out: list = []
        lookup, root = self.db.lookup, self.db.root
        end = min(base + size, self.memory.size)
        for addr in range(base, end, PAGE_SIZE):
            node = lookup(src, addr)
            if node is not None:
                out.append(node)
            elif root(addr) is None and not self.pool.contains(addr):
                out.append(addr)
        if end < base + size:                             # sigma0's own non-identity maps
            out.extend(self.db.nodes_in(src, end, base + size - end))
        return out

    def _reserve_tables(self, src, dst, items, src_base: int, dst_base: int) -> None:
        """Raise NO_MEMORY now if the new page tables will not fit in the pool."""
        need: set[tuple[int, int]] = set()
        for item in items:
            if isinstance(item, int):
                if not src.has_table(item):
                    need.add((id(src), item >> 22))
                addr = item
            else:
                addr = item.addr
            to = dst_base + (addr - src_base)
            if not dst.has_table(to):
                need.add((id(dst), to >> 22))
        if len(need) > self.pool.available:
            raise KernelError(Fault.NO_MEMORY,
                              f"mapping needs {len(need)} page tables, "
                              f"{self.pool.available} kernel frames left")
        for space in (src, dst):
            left = space.tables_left()
            if left is not None and sum(s == id(space) for s, _ in need) > left:
                raise KernelError(Fault.NO_MEMORY, f"space {space.asid} holds its quota of "
                                  f"{space.table_quota} page tables")

    def _transfer_io(self, src, ports: tuple[int, int], grant: bool, dst, dirty) -> int:
        lo, hi = ports
        db, moved = self.db, 0
        if src is self.sigma0:
            items = []
            for port in range(lo, hi):
                node = db.lookup(src, port, io=True)
                if (node is None and db.root(port, io=True) is None
                        and port not in self._kernel_ports):
                    node = db.add_root(src, port, port, True, io=True)
                if node is not None:
                    items.append(node)
        else:
            items = db.nodes_in(src, lo, hi - lo, io=True)
        for node in items:
            if not node.live:
                continue
            port = node.addr
            old = db.lookup(dst, port, io=True)
            if old is not None:
                if node.derives_from(old):
                    continue
                if not grant and old.parent is node:
                    moved += 1
                    continue
                self._apply(db.unmap(old, flush=True, own=True), dirty)
            if grant:
                from_space = node.space
                db.grant(node, dst, port, True)
                from_space.io.deny(port)
            else:
                db.map(node, dst, port, True)
            dst.io.allow(port)
            moved += 1
        return moved

    # -- unmap ---------------------------------------------------------------------------

    def unmap(self, space: AddressSpace, fpage: Fpage, flush: bool, own: bool) -> int:
        """V2 fpage_unmap in `space`; returns how many mappings were removed or protected.

        flush=True removes everything derived from the space's pages in `fpage`, in every
        space. With `own`, it removes the space's own pages too. flush=False
        write-protects the same set instead. An I/O port has no read-only form, so a
        remap leaves ports alone.
        """
        dirty: set[AddressSpace] = set()
        done = 0
        try:
            targets: list[Mapping] = []
            if not fpage.io:
                targets += self.db.nodes_in(space, fpage.base, fpage.size)
            ports = _port_range(fpage)
            if ports is not None and flush:
                targets += self.db.nodes_in(space, ports[0], ports[1] - ports[0], io=True)
            for node in targets:
                if node.live:
                    changes = self.db.unmap(node, flush, own)
                    self._apply(changes, dirty)
                    done += len(changes)
        finally:
            _shoot(dirty)
        return done

    # -- internals -----------------------------------------------------------------------

    def _frame_ok(self, frame: int) -> bool:
        return 0 <= frame < self.memory.size and not self.pool.contains(frame)

    def _apply(self, changes: _Changes, dirty: set, dying: AddressSpace | None = None) -> None:
        """Carry database changes into PTEs and I/O bitmaps; note the spaces to shoot."""
        freed_ports = []
        for node, action in changes:
            space = node.space
            if node.io:                                   # only REMOVE reaches ports
                if space is not dying:
                    space.io.deny(node.addr)
                if node.parent is None:
                    freed_ports.append(node.key)
                continue
            if space is dying:
                continue
            if action == REMOVE:
                space.clear_page(node.addr, shoot=False)
            else:
                space.protect_page(node.addr, shoot=False)
            dirty.add(space)
        sigma0 = self.sigma0
        if freed_ports and sigma0 is not None and sigma0 is not dying:
            for port in freed_ports:                      # a port no tree holds is sigma0's
                if port not in self._kernel_ports:
                    sigma0.io.allow(port)


def _port_range(fpage: Fpage) -> tuple[int, int] | None:
    """The ports an fpage covers: an I/O fpage's own, all of them for the whole space."""
    if fpage.io:
        return fpage.base, min(fpage.base + fpage.size, _NPORTS)
    if fpage.log2size >= WHOLE_SPACE:
        return 0, _NPORTS
    return None


def _intersect(a, b) -> tuple[int, int] | None:
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


def _shoot(spaces) -> None:
    for space in spaces:
        if not space.destroyed:
            space.shootdown()
