"""A segment's home: the directory of its pages (Ivy's fixed manager).

For each page the home knows its owner (the node that last wrote it or gave the
latest copy), the copy set (every node with a valid copy), whether the owner may write
(mode W: its copy is the only one), and the page's version. All requests for pages of
this node's segments go through one lock, so each page's transitions happen one at a
time: a read takes a copy from the owner (who keeps it, read-only); a write takes
the data from the owner (or needs none: the writer holds the current copy), invalidates
every other copy, and makes the writer the owner. A page no one has touched is zeros.

A holder that cannot be reached is dead to the page: its copy is struck from the copy
set, and if it held the only one (mode W), the page is lost for good and every later
access to it fails (EOWNERDEAD; the task sees a MemoryFault and Segment says why).
"""
from __future__ import annotations

import errno
import logging
import threading

from protocols.client import ServiceError
from protocols.dsm import COPIES_LTHREAD, CopiesClient, CopyOp, MAX_SIZE, PAGE

__all__ = ["Home", "Segment", "Entry"]

log = logging.getLogger("mk.dsm")
ZERO = bytes(PAGE)
MAX_SEGMENTS = 256


class Entry:
    """One page in the directory."""
    __slots__ = ("owner", "write", "copies", "version", "lost")

    def __init__(self):
        self.owner, self.write, self.copies, self.version, self.lost = None, False, set(), 0, ""


class Segment:
    """A segment homed here: its name, size and page directory."""

    def __init__(self, number: int, name: str, size: int):
        self.number, self.name, self.size = number, name, size
        self.pages: dict[int, Entry] = {}


class Home:
    """The directory of this node's segments; `copies` is this node's own (reached in
    process), others' are reached at lthread COPIES_LTHREAD of their dsm server."""

    def __init__(self, rt, copies):
        self.rt = rt
        self.copies = copies
        self.lock = threading.Lock()
        self.segments: dict[int, Segment] = {}
        self.by_name: dict[str, Segment] = {}
        self.peers: dict[int, int] = {}            # site -> its dsm server's id (lthread 0)

    def open(self, name: str, size: int) -> int:
        """The number of segment `name`, created with `size` if new (EEXIST: it exists
        with another size; ENOSPC: MAX_SEGMENTS)."""
        if size % PAGE or not 0 < size <= MAX_SIZE:
            raise OSError(errno.EINVAL, f"bad segment size {size}")
        with self.lock:
            seg = self.by_name.get(name)
            if seg is None:
                if len(self.segments) >= MAX_SEGMENTS:
                    raise OSError(errno.ENOSPC, "too many segments")
                number = max(self.segments, default=0) + 1
                seg = self.segments[number] = self.by_name[name] = Segment(number, name, size)
            elif seg.size != size:
                raise OSError(errno.EEXIST, f"segment {name} has {seg.size} bytes")
            return seg.number

    def read(self, segment: int, page: int, site: int, deliver=None) -> tuple[int, bytes]:
        """A read copy of a page for node `site`: (version, data). `deliver(version,
        data)`, if given, sends it under the lock; if it fails, nothing changed (ECOMM)."""
        with self.lock:
            e = self._entry(segment, page)
            before = (e.owner, e.write, set(e.copies))
            if e.owner is None:
                data = ZERO
                e.owner = site
            else:
                data = self._data(e, segment, page, drop=False)
            e.write = False
            e.copies.add(site)
            if deliver is not None and not deliver(e.version, data):
                e.owner, e.write, e.copies = before       # the owner kept its copy
                raise OSError(errno.ECOMM, f"the copy did not reach site {site}")
            return e.version, data

    def write(self, segment: int, page: int, site: int,
              deliver=None) -> tuple[int, bytes | None]:
        """The page for node `site` to write, every other copy invalidated first:
        (version, data; None when `site` holds the current copy). If `deliver` fails,
        the page stays here, this node its writer (ECOMM)."""
        with self.lock:
            e = self._entry(segment, page)
            old, new = e.version, e.version + 1
            if e.owner is None:
                data = ZERO
            elif site in e.copies:
                data = None
            else:
                data = self._data(e, segment, page, drop=True)
            for s in sorted(e.copies - {site}):
                self._call(s, CopyOp.INVALIDATE, segment, page, new)
            e.owner, e.write, e.copies, e.version = site, True, {site}, new
            if deliver is not None and not deliver(new, data):
                self._keep(e, segment, page, old, data)
                raise OSError(errno.ECOMM, f"the page did not reach site {site}")
            return new, data

    def _keep(self, e: Entry, segment: int, page: int, old: int, data: bytes | None) -> None:
        """A write grant was lost on the way: its data stays with this node (or, with
        none sent, the writer's own read copy stays the current one)."""
        if data is None:
            e.version, e.write = old, False
            return
        with self.copies.cond:
            self.copies.install((self.rt.site, segment, page), e.version, data, True)
        e.owner, e.copies = self.rt.site, {self.rt.site}

    def _entry(self, segment: int, page: int) -> Entry:
        seg = self.segments.get(segment)
        if seg is None:
            raise OSError(errno.ENOENT, f"no segment {segment}")
        if not 0 <= page < seg.size // PAGE:
            raise OSError(errno.EINVAL, f"page {page} is past the end of {seg.name}")
        e = seg.pages.setdefault(page, Entry())
        if e.lost:
            raise OSError(errno.EOWNERDEAD, e.lost)
        return e

    def _data(self, e: Entry, segment: int, page: int, drop: bool) -> bytes:
        """The current contents from a node with a valid copy (the owner first); with
        `drop` that copy goes. EOWNERDEAD: every such node is gone, so the page is lost."""
        order = [e.owner] + sorted(e.copies - {e.owner})
        for s in order if not e.write else [e.owner]:
            try:
                data = self._call(s, CopyOp.FETCH, segment, page, e.version, int(drop))
            except (ServiceError, OSError) as err:
                log.warning("dsm: page %d of segment %d: node %d: %s", page, segment, s, err)
                e.copies.discard(s)
                continue
            if drop:
                e.copies.discard(s)
            return data
        e.lost = f"the node that held its only copy (site {e.owner}) is gone"
        e.copies.clear()
        raise OSError(errno.EOWNERDEAD, e.lost)

    def _call(self, site: int, op: CopyOp, *args):
        """Operation `op` on node `site`'s copies: in process for this node, by IPC for
        another (an invalidation that fails is of a copy that is gone anyway)."""
        if site == self.rt.site:
            key = (site, *args[:2])                # this node is the home: its site
            if op == CopyOp.FETCH:
                return self.copies.fetch(key, args[2], bool(args[3]))
            return self.copies.invalidate(key, args[2])
        tid = self.peers[site]
        client = CopiesClient(self.rt, tid=tid.lthread_id(COPIES_LTHREAD))
        try:
            reply = client.call(op, *args)
        except ServiceError:
            if op == CopyOp.FETCH:
                raise
            log.warning("dsm: node %d did not invalidate: gone", site)
            return None
        return reply.data if op == CopyOp.FETCH else None
