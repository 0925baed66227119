"""The Unix server as pager of its processes: anonymous memory, copy-on-write, text.

It is the default pager's logic (`servers.pager.Pager`: frames from sigma0 in 1 MiB
chunks, zero-filled pages, copy-on-write by remapping read-only) with what a Unix
process adds: a program's text, copied by exec into pages the server owns and mapped
read-only at TEXT_BASE (shared by every process running the same text, and by a fork
with its parent), and a bump allocator for MMAP. A write to text gets no mapping, so
the access faults until the runtime raises MemoryFault (the process's SIGSEGV).
"""
from __future__ import annotations

import hashlib

from microkernel.abi import Fpage, MapItem, Msg
from servers.pager import PAGE, Pager

from .proto import MMAP_BASE, TEXT_BASE

__all__ = ["Memory"]

TEXT_CACHE = 16                 # texts kept mapped in the server after their last user


class Memory(Pager):
    """Pages of every process, keyed by (task number, virtual page)."""

    def __init__(self, rt, sigma0: int):
        super().__init__(rt, sigma0)
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
                p = self._new_page(data[off:off + PAGE].ljust(PAGE, b"\0"))
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
        """As the default pager, but text is read-only: a write to it maps nothing."""
        p = self.pages.get((task, addr & ~0xFFF))
        if p is not None and p in self.text:
            if write:
                return Msg()
            return Msg(items=(MapItem(Fpage(p, 12, False), addr & ~0xFFF),))
        return super().fault(task, addr, write)

    def copy(self, src: int, dst: int) -> None:
        super().copy(src, dst)
        if src in self.brk:
            self.brk[dst] = self.brk[src]

    def forget(self, task: int) -> None:
        """The task's address space is gone (exit, exec): release its pages."""
        for key in [k for k in self.pages if k[0] == task]:
            self._release(self.pages.pop(key))
        self.brk.pop(task, None)

    def mmap(self, task: int, length: int) -> int:
        """Reserve `length` bytes of fresh anonymous memory; its address."""
        addr = self.brk.get(task, MMAP_BASE)
        self.brk[task] = addr + ((length + PAGE - 1) & ~(PAGE - 1))
        return addr

    def stats(self) -> tuple[int, int]:
        """(pages in use, pages free) in the server's pool."""
        return sum(1 for v in self.shares.values() if v > 0), len(self.free)
