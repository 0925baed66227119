"""The Unix server as pager of its processes: anonymous memory, copy-on-write, text.

It is the default pager's logic (`servers.pager.Pager`: frames from sigma0 in 1 MiB
chunks, zero-filled pages, copy-on-write by remapping read-only) with what a Unix
process adds: a program's text, copied by exec into pages the server owns and mapped
read-only at TEXT_BASE (shared by every process running the same text, and by a fork
with its parent), and a bump allocator for MMAP. A write to text gets no mapping, so
the access faults until the runtime raises MemoryFault (the process's SIGSEGV).

Files mapped with MMAP (docs/unix.md, "mmap of files") are regions of a process's
space backed by the fs server, which is their pager in turn: a fault there asks the fs
server (MAP) to map the file page from its page cache into a slot of this server's
space (FILE_SLOTS; one slot per file page, MAX_SLOTS, least recently used reused),
and the slot is mapped on read-only. So the frame is the fs server's and every
process mapping that page shares it. The first write to such a page makes a private
copy (MAP_PRIVATE), anonymous memory from then on.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

from microkernel.abi import Fpage, MapItem, Msg
from protocols.pager import PAGE
from servers.pager import Pager

from .program import MMAP_BASE, TEXT_BASE

__all__ = ["Memory"]

TEXT_CACHE = 16                 # texts kept mapped in the server after their last user
FILE_SLOTS = 0x8000_0000        # where file pages from the fs server sit in my space
MAX_SLOTS = 1024                # file pages held at once (4 MiB of slots)


class Memory(Pager):
    """Pages of every process, keyed by (task number, virtual page)."""

    def __init__(self, rt, fs=None):
        super().__init__(rt)
        self.fs = fs                                   # a protocols.fs.FsClient, for MAP
        self.regions: dict[int, list[tuple]] = {}      # task -> [(start, end, ino, off)]
        self.slots: OrderedDict[tuple[int, int], int] = OrderedDict()   # (ino, page) -> slot
        self.slot_free: list[int] = []
        self.slot_next = FILE_SLOTS
        self.text: set[int] = set()                    # pager pages holding text
        self.cache: dict[bytes, list[int]] = {}        # sha1(text) -> pages (held once)
        self.brk: dict[int, int] = {}                  # task -> next MMAP address

    def load_text(self, task: int, data: bytes) -> None:
        """Map program text `data` read-only at TEXT_BASE of `task` (shared, cached)."""
        key = hashlib.sha1(data).digest()
        pages = self.cache.pop(key, None)
        if pages is None:
            pages = []
            for off in range(0, len(data), PAGE):
                p = self.new_page(data[off:off + PAGE].ljust(PAGE, b"\0"))
                self.text.add(p)
                pages.append(p)
        self.cache[key] = pages                        # most recent last
        for i, p in enumerate(pages):
            self.pages[(task, TEXT_BASE + i * PAGE)] = p
            self.shares[p] += 1
        self._trim_cache()

    def _trim_cache(self) -> None:
        while len(self.cache) > TEXT_CACHE:
            key = next(iter(self.cache))
            for p in self.cache.pop(key):
                self._release(p)

    def _release(self, p: int) -> None:
        self.shares[p] -= 1
        if self.shares[p] == 0:
            self.text.discard(p)
            self.free.append(p)

    def fault(self, task: int, addr: int, write: bool) -> Msg:
        """As the default pager, but text is read-only: a write to it maps nothing; and
        a page of a mapped file not yet copied comes from the fs server."""
        p = self.pages.get((task, addr & ~0xFFF))
        if p is None:
            where = self._region(task, addr)
            if where is not None:
                return self._file_fault(task, addr & ~0xFFF, *where, write)
        elif p in self.text:
            if write:
                return Msg()
            return Msg(items=(MapItem(Fpage(p, 12, False), addr & ~0xFFF),))
        return super().fault(task, addr, write)

    def copy(self, src: int, dst: int) -> None:
        super().copy(src, dst)
        if src in self.brk:
            self.brk[dst] = self.brk[src]
        if src in self.regions:
            self.regions[dst] = list(self.regions[src])

    def forget(self, task: int) -> None:
        """The task's address space is gone (exit, exec): release its pages."""
        for key in [k for k in self.pages if k[0] == task]:
            self._release(self.pages.pop(key))
        self.brk.pop(task, None)
        self.regions.pop(task, None)

    def mmap(self, task: int, length: int) -> int:
        """Reserve `length` bytes of fresh anonymous memory; its address."""
        addr = self.brk.get(task, MMAP_BASE)
        self.brk[task] = addr + ((length + PAGE - 1) & ~(PAGE - 1))
        return addr

    # -- mapped files ----------------------------------------------------------------------

    def mmap_file(self, task: int, length: int, ino: int, offset: int) -> int:
        """Map `length` bytes of file `ino` from `offset` (page-aligned); the address."""
        addr = self.mmap(task, length)
        end = addr + ((length + PAGE - 1) & ~(PAGE - 1))
        self.regions.setdefault(task, []).append((addr, end, ino, offset))
        return addr

    def munmap(self, task: int, addr: int, length: int) -> None:
        """Take [addr, addr+length) out of the task's space (whole pages): its private
        pages go back to the pool, the file regions there are cut. What is flushed here
        may be mapped in other tasks too (shared copy-on-write pages, file slots): they
        simply fault and get it again."""
        lo, hi = addr & ~(PAGE - 1), (addr + length + PAGE - 1) & ~(PAGE - 1)
        for vpage in range(lo, hi, PAGE):
            p = self.pages.get((task, vpage))
            if p is not None and p not in self.text:
                del self.pages[(task, vpage)]
                self.rt.fpage_unmap(Fpage(p, 12), flush=True)
                self._release(p)
        kept = []
        for start, end, ino, off in self.regions.get(task, ()):
            if end <= lo or start >= hi:
                kept.append((start, end, ino, off))
                continue
            for vpage in range(max(start, lo), min(end, hi), PAGE):
                slot = self.slots.get((ino, (off + vpage - start) // PAGE))
                if slot is not None:
                    self.rt.fpage_unmap(Fpage(slot, 12), flush=True)
            if start < lo:
                kept.append((start, lo, ino, off))
            if end > hi:
                kept.append((hi, end, ino, off + hi - start))
        self.regions[task] = kept

    def _region(self, task: int, addr: int) -> tuple[int, int] | None:
        """(inode, file page) behind `addr` of the task, if a file is mapped there."""
        for start, end, ino, off in self.regions.get(task, ()):
            if start <= addr < end:
                return ino, (off + (addr & ~(PAGE - 1)) - start) // PAGE
        return None

    def _file_fault(self, task: int, vpage: int, ino: int, page: int, write: bool) -> Msg:
        """Map the file page read-only; on a write, a private copy of it. If the fs
        server cannot map it (the file is gone, say), nothing: MemoryFault."""
        try:
            slot = self._file_page(ino, page)
        except OSError:
            return Msg()
        if not write:
            return Msg(items=(MapItem(Fpage(slot, 12, False), vpage),))
        p = self.pages[(task, vpage)] = self.new_page(self.rt.mem.read(slot, PAGE))
        return Msg(items=(MapItem(Fpage(p, 12), vpage),))

    def _file_page(self, ino: int, page: int) -> int:
        """My slot for (ino, page), mapped by the fs server just now (it may have
        flushed the page since an earlier fault: so ask every time)."""
        key = (ino, page)
        slot = self.slots.pop(key, None)
        if slot is None:
            if self.slot_free:
                slot = self.slot_free.pop()
            elif self.slot_next < FILE_SLOTS + MAX_SLOTS * PAGE:
                slot, self.slot_next = self.slot_next, self.slot_next + PAGE
            else:
                _, slot = self.slots.popitem(last=False)
                self.rt.fpage_unmap(Fpage(slot, 12), flush=True, own=True)
        try:
            self.fs.map(ino, page, Fpage(slot, 12))
        except OSError:
            self.rt.fpage_unmap(Fpage(slot, 12), flush=True, own=True)
            self.slot_free.append(slot)
            raise
        self.slots[key] = slot
        return slot

    def stats(self) -> tuple[int, int]:
        """(pages in use, pages free) in the server's pool."""
        return sum(1 for v in self.shares.values() if v > 0), len(self.free)
