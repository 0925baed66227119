"""This node's copies of shared pages: what the dsm server maps into its tasks.

A copy is one frame of the dsm server's own memory, mapped (V2 map items) into every
local task that attached its segment; so one `fpage_unmap` of the frame reaches them
all: flush to invalidate, remap (flush False) to make the copy read-only. A copy is
keyed by (home site, segment, page).

Versions keep a grant and an invalidation that cross on the wire apart: the home
bumps a page's version at each write grant, an invalidation raises the copy's `floor`
to the new version, and a grant older than the floor is dropped when it arrives (the
task faults again and asks anew). A fetch waits until the version the home granted
this node is installed, for the grant may still be on its way to lthread 0.
"""
from __future__ import annotations

import errno
import threading

from microkernel.abi import Fpage
from protocols.dsm import PAGE

__all__ = ["Copies", "NONE", "READ", "WRITE", "FETCH_WAIT"]

NONE, READ, WRITE = 0, 1, 2
FETCH_WAIT = 10.0             # a granted copy's install, at most (s)
MAX_ACKS = 4096               # INVALIDATED answers kept for writers yet to ask


class Copy:
    """One page's copy on this node."""
    __slots__ = ("have", "version", "floor", "frame")

    def __init__(self):
        self.have, self.version, self.floor, self.frame = NONE, -1, 0, 0


class Copies:
    """The copies, under one condition variable (lthread 0 installs and maps, lthread 2
    and an in-process home fetch and invalidate)."""

    def __init__(self, rt, frames):
        self.rt = rt
        self.frames = frames                  # a servers.pager.Pager: new_page/free_page
        self.cond = threading.Condition()
        self.copies: dict[tuple, Copy] = {}
        self.lost: dict[tuple, str] = {}      # pages no one can have again, and why
        self.acks: dict[tuple, set] = {}      # (key, version) -> sites that answered

    def held(self, key: tuple, write: bool):
        """(frame, writable) of the copy that serves an access, or None (caller holds
        `cond`: the map item must go out before an invalidation can run)."""
        c = self.copies.get(key)
        if c is None or c.have < (WRITE if write else READ):
            return None
        return c.frame, c.have == WRITE

    def install(self, key: tuple, version: int, data: bytes | None, write: bool) -> bool:
        """Take a grant of `version` (data None: the copy held is current); False when
        an invalidation overtook it (caller holds `cond`)."""
        c = self.copies.setdefault(key, Copy())
        if version < c.floor or (data is None and c.have == NONE):
            return False
        if data is not None:
            if not c.frame:
                c.frame = self.frames.new_page()
            self.rt.mem.write(c.frame, data)
        c.have, c.version = (WRITE if write else READ), version
        self.cond.notify_all()
        return True

    def fetch(self, key: tuple, versions: list[int], drop: bool) -> list[bytes]:
        """The contents of the pages from `key` on, one per version, once each version
        is installed; drop: invalidate the copies (a writer takes them), else keep them
        read-only. ESTALE: a grant never came."""
        home, segment, first = key
        keys = [(home, segment, first + i) for i in range(len(versions))]
        with self.cond:
            ok = self.cond.wait_for(lambda: all(map(self._has, keys, versions)), FETCH_WAIT)
            if not ok:
                raise OSError(errno.ESTALE, f"no copy of versions {versions} here")
            out = []
            for k, version in zip(keys, versions):
                c = self.copies[k]
                out.append(self._give(c, drop))
                if drop:
                    self._drop(c, version + 1, unmapped=True)
            return out

    def downgrade(self, home: int, segment: int, limit: int) -> list[tuple]:
        """The writable copies of a segment, up to `limit`, made read-only (remap) and
        read: [(page, version, data)] in page order, for a write-back to the home."""
        with self.cond:
            keys = sorted(k for k, c in self.copies.items()
                          if c.have == WRITE and k[0] == home and k[1] == segment)[:limit]
            return [(k[2], self.copies[k].version, self._give(self.copies[k], False))
                    for k in keys]

    def invalidate(self, key: tuple, version: int) -> None:
        """Every copy older than `version` is void: unmap it from the tasks."""
        with self.cond:
            self._drop(self.copies.setdefault(key, Copy()), version)

    def acked(self, key: tuple, version: int, site: int) -> None:
        """Node `site` has voided its copy of `key` for the write grant of `version`."""
        with self.cond:
            if len(self.acks) >= MAX_ACKS:
                del self.acks[next(iter(self.acks))]
            self.acks.setdefault((key, version), set()).add(site)
            self.cond.notify_all()

    def await_acks(self, key: tuple, version: int, sites: set, timeout: float) -> set:
        """Wait up to `timeout` until every node of `sites` has acked; those still
        missing (their answers are kept for a later wait)."""
        with self.cond:
            self.cond.wait_for(lambda: sites <= self.acks.get((key, version), set()),
                               timeout)
            got = self.acks.get((key, version), set())
            if sites <= got:
                del self.acks[(key, version)]
            return sites - got

    def _give(self, c: Copy, drop: bool) -> bytes:
        """The copy's contents, its tasks' mappings revoked first (flush if `drop`, else
        made read-only, and the copy with them), so no store lands after the read; a
        read-only copy kept has nothing to revoke. Caller holds `cond`."""
        if drop or c.have == WRITE:
            self.rt.fpage_unmap(Fpage(c.frame, 12), flush=drop)
        if not drop:
            c.have = READ
        return self.rt.mem.read(c.frame, PAGE)

    def _has(self, key: tuple, version: int) -> bool:
        c = self.copies.get(key)
        return c is not None and c.have != NONE and c.version >= version

    def _drop(self, c: Copy, floor: int, unmapped: bool = False) -> None:
        c.floor = max(c.floor, floor)
        if c.frame:
            if not unmapped:
                self.rt.fpage_unmap(Fpage(c.frame, 12), flush=True)
            self.frames.free_page(c.frame)
        c.have, c.frame = NONE, 0
