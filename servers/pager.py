"""The default pager (task 5): anonymous, zero-filled memory for tasks started by `mk run`.

A page fault reaches the pager as the V2 fault message, sent in the faulting thread's
name (protocols/pager.py). The pager takes frames from root in 1 MiB blocks (a page at a
time once no block is left) into its own space (protocols.root MEMORY), zeroes a page,
and replies with a map item whose hot spot is the fault address, so the page lands
exactly there; with no memory left it maps nothing, and the task's access faults. Copy-on-write:
COPY makes another task share all the caller's pages read-only (remapped with
`fpage_unmap(flush=False)`); the first write fault of either side gets a private copy.
FORGET, from root when a task it started has ended, takes the task's pages back.

`Pager` is the bookkeeping and stays free of the protocol, for the Unix server's memory
(personalities/unix/memory.py) extends it; `Requests` serves protocols.pager.PAGER
over it.
"""
from __future__ import annotations

import errno
import logging

from microkernel.abi import Fpage, MapItem, Msg, ThreadId
from protocols.pager import PAGE, PAGER, fault_of
from protocols.server import Dispatch, serve
from protocols.root import Root

__all__ = ["main", "Pager", "Requests", "PAGE"]

log = logging.getLogger("mk.pager")
CHUNK = 20                      # log2 of what is asked from sigma0 at a time
POOL = 0x40000000               # where the pager keeps its frames in its own space


class Pager:
    """Which pager page backs which (task, virtual page), and how many share it."""

    def __init__(self, rt):
        self.rt = rt
        self.root = Root(rt)
        self.free: list[int] = []           # pager-space addresses of unused pages
        self.cursor = POOL
        self.pages: dict[tuple[int, int], int] = {}   # (task, vpage) -> pager page
        self.shares: dict[int, int] = {}               # pager page -> users

    def new_page(self, fill: bytes | None = None) -> int:
        """A page of my own, filled with `fill` (zeros by default), one user."""
        if not self.free:
            got = self.root.frames(self.cursor, (CHUNK, 12))
            if not got:
                raise MemoryError("no free memory left")
            self.free.extend(range(self.cursor, self.cursor + got, PAGE))
            self.cursor += got
        p = self.free.pop()
        self.rt.mem.write(p, fill if fill is not None else bytes(PAGE))
        self.shares[p] = 1
        return p

    def free_page(self, p: int) -> None:
        """Page `p` (from new_page) is unused again."""
        self.shares.pop(p, None)
        self.free.append(p)

    def fault(self, task: int, addr: int, write: bool) -> Msg:
        """Back (task, page of addr); give a private copy on a write to a shared page."""
        key = (task, addr & ~0xFFF)
        p = self.pages.get(key)
        if p is None:
            p = self.pages[key] = self.new_page()
        elif write and self.shares[p] > 1:
            self.shares[p] -= 1
            p = self.pages[key] = self.new_page(self.rt.mem.read(p, PAGE))
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
        """Task `task` is gone: each page only it used goes back to the free list."""
        for key in [k for k in self.pages if k[0] == task]:
            p = self.pages.pop(key)
            self.shares[p] -= 1
            if self.shares[p] == 0:
                self.free.append(p)


class Requests:
    """The handlers of protocols.pager.PAGER and of page faults, over a Pager whose
    tasks are task incarnations (ids with lthread 0: the version keeps two tasks of one
    number apart)."""

    def __init__(self, pager: Pager):
        self.pager = pager

    def copy(self, req, msg):
        """COPY: the sender's pages are shared copy-on-write with the task of req.dst,
        which must be of the sender's clan (EPERM: no task gives itself another's)."""
        dst = ThreadId(req.dst)
        if dst.chief != msg.sender.task or dst.site != msg.sender.site:
            raise OSError(errno.EPERM, f"task {dst.task} is not of the sender's clan")
        self.pager.copy(msg.sender.task_id(), dst.task_id())
        return ()

    def forget(self, req, msg):
        """FORGET: the task of req.tid (that incarnation) has ended (from root)."""
        self.pager.forget(ThreadId(req.tid).task_id())
        return ()

    def page_fault(self, msg: Msg) -> Msg:
        """A page fault: the map item that backs the page; nothing mapped when memory
        has run out (the task's access then faults: its MemoryFault)."""
        f = fault_of(msg)
        try:
            return self.pager.fault(msg.sender.task_id(), f.page, f.write)
        except MemoryError:
            log.warning("pager: no memory left for %s's page %#x", msg.sender, f.page)
            return Msg()


def main(rt, *args) -> None:
    """Serve PAGER and the page faults of every task paged by me, forever."""
    requests = Requests(Pager(rt))
    serve(rt, Dispatch(PAGER, requests, rt, fault=requests.page_fault))
