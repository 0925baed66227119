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

import array
import errno
import logging
import queue
import threading

from protocols.client import ServiceError
from protocols.dsm import COPIES_LTHREAD, MAX_AHEAD, MAX_SIZE, PAGE, CopiesClient, CopyOp

__all__ = ["Home", "Segment", "Entry", "invalidator_loop"]

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
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()     # for the invalidators
        self.invalidators = 0

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

    def read(self, segment: int, page: int, site: int, deliver=None,
             want: int = 1) -> list[tuple[int, bytes]]:
        """Read copies for node `site` of `page` and, ahead, of up to `want` - 1 pages
        after it that come cheap (untouched, or from the same node: one FETCH): a
        [(version, data)] from `page` on. `deliver(pages)`, if given, sends them under
        the lock; if it fails, the copy sets are as they were (ECOMM)."""
        with self.lock:
            e = self._entry(segment, page)
            run = [e] + self._ahead(segment, page, site, want, e)
            before = [(f, site in f.copies) for f in run]
            datas = self._contents(segment, page, run)
            run = run[:len(datas)]
            for f in run:                 # an untouched page stays ownerless: zeros
                f.write = False
                f.copies.add(site)
            out = [(f.version, d) for f, d in zip(run, datas)]
            if deliver is not None and not deliver(out):
                for f, had in before:                  # the owners keep their copies
                    if not had:
                        f.copies.discard(site)
                raise OSError(errno.ECOMM, f"the copy did not reach site {site}")
            return out

    def _source(self, f: Entry) -> int | None:
        """The node a read copy of a page comes from: its writer, else this node if it
        holds a copy (no message), else its owner; None: untouched (zeros)."""
        if f.write or f.owner is None:
            return f.owner
        return self.rt.site if self.rt.site in f.copies else f.owner

    def _ahead(self, segment: int, page: int, site: int, want: int, first: Entry) -> list:
        """The entries after `page` a read may take along: those in the first page's
        state (being written, or read) whose data comes from the same node (or that
        are untouched with it), until one is not."""
        seg, source = self.segments[segment], self._source(first)
        out = []
        for q in range(page + 1, min(page + min(want, MAX_AHEAD), seg.size // PAGE)):
            f = seg.pages.setdefault(q, Entry())
            if (f.lost or site in f.copies or f.write != first.write
                    or self._source(f) != source or source == site):
                break                  # (a page being written is left to its writer)
            out.append(f)
        return out

    def _contents(self, segment: int, page: int, run: list) -> list[bytes]:
        """The pages' data for a read: zeros if untouched, else one FETCH from their
        source; if that fails, the first page alone from whoever has it (_data: a
        failure there is the page's)."""
        e = run[0]
        source = self._source(e)
        if source is None:
            return [ZERO] * len(run)
        if len(run) > 1 or source == self.rt.site:
            try:
                data = self._fetch(source, segment, page, [f.version for f in run], False)
                return [data[i:i + PAGE] for i in range(0, len(data), PAGE)]
            except (ServiceError, OSError) as err:
                log.warning("dsm: pages %d+ of segment %d: %s", page, segment, err)
        return [self._data(e, segment, page, drop=False)]

    def write(self, segment: int, page: int, site: int, deliver=None,
              want: int = 1) -> list[tuple[int, bytes | None]]:
        """`page` for node `site` to write, every other copy invalidated first, and, if
        it is untouched, up to `want` - 1 untouched pages after it no one holds:
        [(version, data)], data None when `site` holds the current copy. If `deliver`
        fails, the page stays here, this node its writer (ECOMM)."""
        with self.lock:
            e = self._entry(segment, page)
            old, new = e.version, e.version + 1
            extra = self._untouched(segment, page, want) if e.owner is None else []
            if e.owner is None:
                data = ZERO
            elif site in e.copies:
                data = None
            else:
                data = self._data(e, segment, page, drop=True)
            self._invalidate(e.copies - {site}, segment, page, new)
            for f in [e] + extra:
                f.owner, f.write, f.copies, f.version = site, True, {site}, f.version + 1
            out = [(f.version, data if f is e else ZERO) for f in [e] + extra]
            if deliver is not None and not deliver(out):
                self._keep(e, segment, page, old, data)
                for f in extra:
                    f.owner, f.write, f.copies, f.version = None, False, set(), f.version - 1
                raise OSError(errno.ECOMM, f"the page did not reach site {site}")
            return out

    def _untouched(self, segment: int, page: int, want: int) -> list:
        """The entries after `page` no one has written or holds, up to `want` - 1 of
        them, until one is not (a write takes them along)."""
        seg, out = self.segments[segment], []
        for q in range(page + 1, min(page + min(want, MAX_AHEAD), seg.size // PAGE)):
            f = seg.pages.setdefault(q, Entry())
            if f.owner is not None or f.copies or f.lost:
                break
            out.append(f)
        return out

    def _invalidate(self, sites: set, segment: int, page: int, version: int) -> None:
        """INVALIDATE the copies on `sites`, the remote ones all at once: a call each
        from its own invalidator lthread (each waits in its own closed receive)."""
        remote = sorted(sites - {self.rt.site})
        if self.rt.site in sites:
            self._invalidate_at(self.rt.site, segment, page, version)
        if len(remote) < 2 or not self.invalidators:
            for s in remote:
                self._invalidate_at(s, segment, page, version)
            return
        done = threading.Semaphore(0)
        for s in remote:
            self.jobs.put((s, segment, page, version, done))
        for _ in remote:
            done.acquire()

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
                data = self._fetch(s, segment, page, [e.version], drop)
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

    def _fetch(self, site: int, segment: int, page: int, versions: list[int],
               drop: bool) -> bytes:
        """FETCH from node `site`'s copies (in process for this node, else by IPC)."""
        if site == self.rt.site:                   # this node is the home: its site
            return self.copies.fetch((site, segment, page), versions, drop)
        return self._copies(site).call(CopyOp.FETCH, segment, page, int(drop),
                                       array.array("I", versions).tobytes()).data

    def _invalidate_at(self, site: int, segment: int, page: int, version: int) -> None:
        """INVALIDATE at node `site` (one that fails is of a copy that is gone anyway)."""
        if site == self.rt.site:
            self.copies.invalidate((site, segment, page), version)
            return
        try:
            self._copies(site).call(CopyOp.INVALIDATE, segment, page, version)
        except ServiceError:
            log.warning("dsm: node %d did not invalidate: gone", site)

    def _copies(self, site: int) -> CopiesClient:
        return CopiesClient(self.rt, tid=self.peers[site].lthread_id(COPIES_LTHREAD))


def invalidator_loop(rt, home: Home) -> None:
    """An invalidator lthread: run the home's INVALIDATE calls handed to it, forever."""
    while True:
        site, segment, page, version, done = home.jobs.get()
        try:
            home._invalidate_at(site, segment, page, version)
        except Exception:
            log.exception("dsm: invalidating page %d of segment %d at site %d",
                          page, segment, site)
        finally:
            done.release()
