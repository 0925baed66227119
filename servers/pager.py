"""The default pager: anonymous, zero-filled memory for tasks started by `mk run`.

A page fault reaches the pager as the V2 fault message (w0 = address | write<<1 |
present) sent in the faulting thread's name. The pager takes frames from sigma0 in
1 MiB chunks into its own space, zeroes a page, and replies with a map item whose hot
spot is the fault address, so the page lands exactly there. Copy-on-write: `COPY`
makes another task share all the caller's pages read-only (remapped with
`fpage_unmap(flush=False)`); the first write fault of either side gets a private copy.

Requests besides faults (w0 = label):
    COPY, dst task id low, high      share my pages copy-on-write with task dst
    FORGET, task id low, high        the task is gone; take its pages back (from root)
"""
from __future__ import annotations

import logging

from microkernel.abi import Fpage, MapItem, Msg, ThreadId
from microkernel.user.serve import serve

__all__ = ["main", "Pager", "COPY", "FORGET"]

log = logging.getLogger("mk.pager")
COPY, FORGET = 0xFFFF_0C01, 0xFFFF_0C02
CHUNK = 20                      # log2 of what is asked from sigma0 at a time
POOL = 0x40000000               # where the pager keeps its frames in its own space
PAGE = 0x1000


class Pager:
    def __init__(self, rt, sigma0: int):
        self.rt = rt
        self.sigma0 = ThreadId(sigma0)
        self.free: list[int] = []           # pager-space addresses of unused pages
        self.cursor = POOL
        self.pages: dict[tuple[int, int], int] = {}   # (task, vpage) -> pager page
        self.shares: dict[int, int] = {}               # pager page -> users

    def _grow(self) -> None:
        for s in (CHUNK, 12):
            window = Fpage(self.cursor, s)
            reply = self.rt.call(self.sigma0, Msg(words=(0xFFFFFFFC, s)), window=window)
            if reply.fpage_received:
                self.free.extend(range(self.cursor, self.cursor + (1 << s), PAGE))
                self.cursor += 1 << s
                return
        raise MemoryError("sigma0 has no free memory left")

    def _new_page(self, fill: bytes | None = None) -> int:
        if not self.free:
            self._grow()
        p = self.free.pop()
        self.rt.mem.write(p, fill if fill is not None else bytes(PAGE))
        self.shares[p] = 1
        return p

    def fault(self, task: int, addr: int, write: bool) -> Msg:
        """Back (task, page of addr); give a private copy on a write to a shared page."""
        key = (task, addr & ~0xFFF)
        p = self.pages.get(key)
        if p is None:
            p = self.pages[key] = self._new_page()
        elif write and self.shares[p] > 1:
            self.shares[p] -= 1
            p = self.pages[key] = self._new_page(self.rt.mem.read(p, PAGE))
        writable = self.shares[p] == 1
        return Msg(items=(MapItem(Fpage(p, 12, writable), addr & ~0xFFF),))

    def copy(self, src: int, dst: int) -> None:
        """dst shares every page of src read-only; both copy on their next write."""
        for (task, vpage), p in list(self.pages.items()):
            if task == src:
                self.rt.fpage_unmap(Fpage(p, 12), flush=False)
                self.pages[(dst, vpage)] = p
                self.shares[p] += 1

    def forget(self, task: int) -> None:
        for key in [k for k in self.pages if k[0] == task]:
            p = self.pages.pop(key)
            self.shares[p] -= 1
            if self.shares[p] == 0:
                self.free.append(p)

    def handle(self, msg: Msg) -> Msg:
        w = msg.words
        sender = msg.sender
        if len(w) >= 3 and w[0] == COPY:
            self.copy(sender.task, ThreadId(w[2] << 32 | w[1]).task)
            return Msg(words=(0,))
        if len(w) >= 3 and w[0] == FORGET:
            self.forget(ThreadId(w[2] << 32 | w[1]).task)
            return Msg(words=(0,))
        if len(w) == 2:
            return self.fault(sender.task, w[0], bool(w[0] & 2))
        return Msg(words=(0xFFFFFFFF,))


def main(rt, sigma0: int) -> None:
    serve(rt, Pager(rt, sigma0).handle)
