"""sigma0 (task 2): the owner of all free physical memory and of the I/O ports.

The kernel maps every free frame into sigma0 at its own address (an idempotent map)
and gives it every port it does not keep; sigma0 hands them out by the V2 sigma0
protocol (protocols/sigma0.py), each frame and each port to one task only (a task may
ask again for what it already has; what belonged to a task that has died can be handed
out again):

    w0 = a (low 2 bits: fault flags)   the frame at physical a, mapped 1:1 (a page fault
                                       of a task paged by sigma0 is exactly this request)
    w0 = ANY [, w1 = s]                any free 2**s bytes (s 12..22, default 12), aligned
    w0 = an I/O fpage                  those ports (Fiasco's I/O extension)

The reply is a map item with words (snd_base, fpage), as V2's register map message;
a request sigma0 refuses gets an empty reply (the faulting access then faults again).
V2's protocol has no operation codes, so sigma0 runs protocols.server.serve with its
own `handle` rather than a Dispatch.
"""
from __future__ import annotations

import logging

from microkernel.abi import Fpage, MapItem, Msg
from protocols.server import serve
from protocols.sigma0 import ANY, MAX_LOG2, MIN_LOG2

__all__ = ["main", "Sigma0"]

log = logging.getLogger("mk.sigma0")
HOLE = (0xA0000, 0x100000)


class Sigma0:
    """The bookkeeping: which frame and which port went to which task."""

    def __init__(self, mem_size: int, pool_start: int, pool_end: int,
                 alive=lambda owner: True):
        self.mem_size = mem_size
        self.alive = alive                          # does this task id still exist?
        self.frames: dict[int, int] = {}            # frame -> task it went to
        self.ports: dict[int, int] = {}
        self.reserved = [(0, 0x1000), HOLE, (pool_start, pool_end)]
        self.cursor = 0x100000

    def usable(self, addr: int) -> bool:
        """Is `addr` RAM that sigma0 may hand out (not page 0, the hole, the pool)?"""
        return 0 <= addr < self.mem_size and not any(a <= addr < b for a, b in self.reserved)

    def _free_for(self, table: dict, key: int, task: int) -> bool:
        """Is `key` free for `task`: unowned, `task`'s, or its owner has died (the
        kernel flushed a dead task's mappings, so the frame can go round again)."""
        owner = table.get(key, task)
        return owner == task or not self.alive(owner)

    def frame(self, addr: int, task: int) -> Fpage | None:
        """The frame at `addr` for `task`, if it is free or already that task's."""
        addr &= ~0xFFF
        if not self.usable(addr) or not self._free_for(self.frames, addr, task):
            return None
        self.frames[addr] = task
        return Fpage.page(addr)

    def any(self, log2size: int, task: int) -> Fpage | None:
        """A free, aligned region of 2**log2size bytes."""
        size = 1 << log2size
        for base in list(range(self.cursor & ~(size - 1), self.mem_size, size)) + \
                list(range(0, self.cursor, size)):
            pages = range(base, base + size, 0x1000)
            if all(self.usable(p) and (p not in self.frames or not self.alive(self.frames[p]))
                   for p in pages):
                for p in pages:
                    self.frames[p] = task
                self.cursor = base + size
                return Fpage(base, log2size)
        return None

    def io(self, fp: Fpage, task: int) -> Fpage | None:
        """The ports of I/O fpage `fp` for `task`, if every one is free or its."""
        ports = range(fp.base, fp.base + fp.size)
        if not all(self._free_for(self.ports, p, task) for p in ports):
            return None
        for p in ports:
            self.ports[p] = task
        return fp

    def handle(self, msg: Msg) -> Msg:
        """One request -> the reply (a map item, or empty when refused)."""
        words, task = msg.words, int(msg.sender.task_id())
        if not words:
            return Msg()
        w0 = words[0]
        fp = None
        if w0 == ANY:
            s = words[1] if len(words) > 1 and MIN_LOG2 <= words[1] <= MAX_LOG2 \
                else MIN_LOG2
            fp = self.any(s, task)
        elif w0 & 0xF0000000 == 0xF0000000 and (w0 >> 2) & 0x3F <= 16:
            fp = self.io(Fpage.decode(w0), task)
        elif w0 & ~3:
            fp = self.frame(w0, task)
        if fp is None:
            return Msg()
        return Msg(words=(fp.base, fp.encode()), items=(MapItem(fp, fp.base),))


def main(rt, mem_size: int, pool_start: int, pool_end: int) -> None:
    """Serve the sigma0 protocol forever; a malformed request gets an empty reply."""
    s0 = Sigma0(mem_size, pool_start, pool_end, rt.alive)

    def handle(msg: Msg) -> Msg:
        try:
            return s0.handle(msg)
        except (ValueError, IndexError) as e:
            log.warning("sigma0: malformed request from %s: %s", msg.sender, e)
            return Msg()
    serve(rt, handle)
