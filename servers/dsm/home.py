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
import threading

from protocols.client import ServiceError
from protocols.comm import CommClient
from protocols.dsm import (COHERENCE_LTHREAD, COPIES_LTHREAD, MAX_AHEAD, MAX_SIZE, PAGE,
                           CopiesClient, CopyOp, tell)

from .grant import ZERO, unpack_pages
from .locks import PATIENCE

__all__ = ["Home", "Segment", "Entry"]

log = logging.getLogger("mk.dsm")
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
        self.comm = CommClient(rt, timeout=PATIENCE)     # INVALIDATE's datagrams

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
        are untouched with it), until one is not (a page being written is left to its
        writer). A page being written comes along only at the first page's version:
        written as often, so likely with it; another (a neighbour's data next to it)
        would lose its writer the right to write for a copy no one asked for."""
        source = self._source(first)
        if source == site:
            return []
        return self._run(segment, page, want, lambda f: (
            site not in f.copies and f.write == first.write and self._source(f) == source
            and (not f.write or f.version == first.version)))

    def _run(self, segment: int, page: int, want: int, fits) -> list:
        """The entries after `page`, up to `want` - 1 of them, while `fits(entry)` and
        none is lost."""
        seg, out = self.segments[segment], []
        for q in range(page + 1, min(page + min(want, MAX_AHEAD), seg.size // PAGE)):
            f = seg.pages.setdefault(q, Entry())
            if f.lost or not fits(f):
                break
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
                return self._fetch(source, segment, page, [f.version for f in run], False)
            except (ServiceError, OSError) as err:
                log.warning("dsm: pages %d+ of segment %d: %s", page, segment, err)
        return [self._data(e, segment, page, drop=False)]

    def write(self, segment: int, page: int, site: int, deliver=None,
              want: int = 1) -> tuple[list, list]:
        """`page` for node `site` to write, with up to `want` - 1 pages after it that
        come along (`_take`): ([(version, data)], acks), data None when `site` holds the
        current copy. This node's copies of them go first; every other node's are sent
        INVALIDATE once the grant is on its way (its three frames are the longer path);
        `acks` are the dsm servers (ids) whose INVALIDATED the writer must await. If
        `deliver` fails, the pages stay here, this node their writer (an untouched one
        taken along stays untouched) (ECOMM)."""
        with self.lock:
            e = self._entry(segment, page)
            run, datas = self._take(e, segment, page, site, want)
            versions = [f.version + 1 for f in run]
            remote = self._void_here(set().union(*(f.copies for f in run)) - {site},
                                     segment, page, versions)
            acks = [int(self.peers[s]) for s in remote]  # even one that seems dead now:
            # the writer decides, after a second look (it may have missed announcements)
            before = [(f.owner, f.version) for f in run]
            for f in run:
                f.owner, f.write, f.copies, f.version = site, True, {site}, f.version + 1
            out = [(f.version, d) for f, d in zip(run, datas)]
            if deliver is not None and not deliver(out, acks):
                for i, (f, d, (owner, version)) in enumerate(zip(run, datas, before)):
                    if i and owner is None:
                        f.owner, f.write, f.copies, f.version = None, False, set(), version
                    else:
                        self._keep(f, segment, page + i, version, d)
                raise OSError(errno.ECOMM, f"the page did not reach site {site}")
            self._invalidate(remote, segment, page, versions, site)
            return out, acks

    def push(self, segment: int, site: int, pages: list) -> int:
        """Node `site` wrote back [(page, (version, data))] and holds them read-only now:
        this node keeps a copy of each it still owns at that version (a write or a
        read that came between moved on, and the page with it); how many were kept."""
        seg, kept = self.segments.get(segment), 0
        with self.lock:
            for page, (version, data) in pages if seg else ():
                e = seg.pages.get(page)
                if e is None or e.lost or e.owner != site or e.version != version or data is None:
                    continue
                with self.copies.cond:
                    if not self.copies.install((self.rt.site, segment, page), version, data,
                                               False):
                        continue
                e.write = False
                e.copies.add(self.rt.site)
                kept += 1
        return kept

    def _take(self, e: Entry, segment: int, page: int, site: int, want: int):
        """([entries], [data or None]) a write of `page` takes, a run of pages in the
        same case as the first (a writer that took pages ahead and a neighbour that
        needs them back: one call, not one a page):
        * untouched, with the untouched pages after it no one holds: zeros;
        * held by `site`, with the pages after it `site` holds: no data (an upgrade);
        * written by another node, with the pages after it that node writes: one FETCH;
        * else the page alone, its data from whoever has it."""
        if e.owner is None:
            run = [e] + self._run(segment, page, want,
                                  lambda f: f.owner is None and not f.copies)
            return run, [ZERO] * len(run)
        if site in e.copies:
            run = [e] + self._run(segment, page, want, lambda f: site in f.copies)
            return run, [None] * len(run)
        if e.write:
            run = [e] + self._run(segment, page, want,
                                  lambda f: f.write and f.owner == e.owner != site)
            if len(run) > 1:
                try:
                    datas = self._fetch(e.owner, segment, page, [f.version for f in run],
                                        True)
                    e.copies.discard(e.owner)
                    return run, datas
                except (ServiceError, OSError) as err:
                    log.warning("dsm: pages %d+ of segment %d: %s", page, segment, err)
        return [e], [self._data(e, segment, page, drop=True)]

    def _void_here(self, sites: set, segment: int, page: int, versions: list[int]) -> list:
        """Void this node's copies of the pages from `page` on, if it is one of `sites`
        (in process, at once); the other sites, in order."""
        if self.rt.site in sites:
            for i, v in enumerate(versions):
                self.copies.invalidate((self.rt.site, segment, page + i), v)
        return sorted(sites - {self.rt.site})

    def _invalidate(self, sites: list, segment: int, page: int, versions: list[int],
                    writer: int) -> None:
        """Send the other nodes' copies of the pages from `page` on one INVALIDATE each,
        naming the writer's dsm server, to which they answer INVALIDATED (three hops
        where a call would take four, and none waits for another): datagrams, all in
        one call to the comm server."""
        if sites:
            to, vs = self._dsm(writer), array.array("I", versions).tobytes()
            tell(self.comm, [self.peers[s].lthread_id(COHERENCE_LTHREAD) for s in sites],
                 CopyOp.INVALIDATE, self.rt.site, segment, page, int(to), vs)

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
                data = self._fetch(s, segment, page, [e.version], drop)[0]
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
               drop: bool) -> list[bytes]:
        """The pages from `page` on, one per version, FETCHed from node `site`'s copies
        (in process for this node, else by IPC)."""
        if site == self.rt.site:                   # this node is the home: its site
            return self.copies.fetch((site, segment, page), versions, drop)
        r = self._copies(site).call(CopyOp.FETCH, segment, page, int(drop),
                                    array.array("I", versions).tobytes())
        datas = unpack_pages(r.kinds, r.data)
        if len(datas) != len(versions) or None in datas:
            raise ServiceError(errno.EPROTO, f"FETCH of {len(versions)} pages: {len(datas)}")
        return datas

    def _dsm(self, site: int):
        """The dsm server of node `site` (this one's, or a peer's that called)."""
        return self.rt.myself().task_id() if site == self.rt.site else self.peers[site]

    def _copies(self, site: int) -> CopiesClient:
        return CopiesClient(self.rt, tid=self.peers[site].lthread_id(COPIES_LTHREAD))

