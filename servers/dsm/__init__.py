"""The dsm server (task DSM_TASK on every node): distributed shared memory as a pager.

The paper's claim made real: "distributed shared memory can also be implemented by
user-level servers outside the kernel". A task attaches a named segment at an address
of its choosing (servers/dsm/segment.py) and makes this server its thread's pager; its
faults on the segment come here (V2 §5), and this server answers each with a V2 map
item of a frame of its own that holds a copy of the page, fetched over remote IPC from
wherever the page lives. Coherence is Ivy's: one writer or many readers; a write fault
invalidates every other copy first (`fpage_unmap` flush on each node), a read fault
makes the writer's copy read-only (remap) and shares it. Each segment has a home (the
node in its name) that keeps the directory of its pages and serves its locks and
barriers. docs/dsm.md has the memory model, the protocol and the costs.

    copies.py       this node's copies: install, fetch, invalidate, with versions
    home.py         the directory of the segments homed here
    locks.py        their locks and barriers
    attachments.py  which local task has which segment where
    server.py       the three lthreads' handlers
    segment.py      the library a task uses: Segment.attach, read, write, lock, barrier
"""
from __future__ import annotations

import logging
import os

from protocols import wellknown
from protocols.dsm import COHERENCE_LTHREAD, COPIES_LTHREAD, DSM, HOME_LTHREAD
from protocols.names import Names
from protocols.server import Dispatch, serve

from servers.pager import Pager

from .copies import Copies
from .home import Home
from .locks import Locks
from .server import CopiesSide, HomeSide, Local, copies_loop, home_loop

__all__ = ["main"]

log = logging.getLogger("mk.dsm")


def main(rt, name, names_id) -> None:
    """Start the home's and the copies' lthreads, register as "dsm", serve the tasks."""
    node = os.path.basename(rt.rundir.rstrip("/")) or f"site{rt.site}"
    anon = Pager(rt)                     # frames for the copies and anonymous memory
    copies = Copies(rt, anon)
    home = Home(rt, copies)
    rt.lthread_ex_regs(HOME_LTHREAD, home_loop, args=(HomeSide(rt, home, Locks(rt)),))
    side = CopiesSide(rt, copies)
    rt.lthread_ex_regs(COPIES_LTHREAD, copies_loop, args=(side,))       # FETCH: may wait
    rt.lthread_ex_regs(COHERENCE_LTHREAD, copies_loop, args=(side,))    # never waits
    local = Local(rt, node, home, copies, anon)
    Names(rt, tid=int(names_id)).register(wellknown.DSM)
    log.info("dsm: node %s, site %d", node, rt.site)
    serve(rt, Dispatch(DSM, local, rt, fault=local.fault))
