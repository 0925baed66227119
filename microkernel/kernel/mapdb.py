"""The V2 mapping database: one tree of mappings per resource, rooted at sigma0.

Every physical frame, and every I/O port, has at most one tree (l4-v2-api.md §4.4).
A node says "space S holds the resource at address (or port) A, writable or not".
Each map adds a child: the receiver's mapping is derived from the sender's. Unmapping a
node removes, or write-protects, everything derived from it, whatever spaces that
reaches. That is how an address space revokes exactly what it handed out, directly or
indirectly, and nothing else.

This module is pure data: it never touches page tables. Each operation that takes
something away returns the list of `(node, action)` pairs it changed, with action
`REMOVE` or `PROTECT`. The caller (`vm.VM`) applies them to PTEs and I/O bitmaps. A
removed node keeps its `space`, `addr` and `parent` fields, so the caller can still find
its PTE, and it can tell that the node was a root because its parent is None.

Rules kept here (and checked by `check()`):
  * a node's key (frame or port) equals its parent's, and its rights never exceed the
    parent's. A map gives `src.writable and requested` (§4.2: rights are never
    amplified);
  * grant moves a node: the receiver's mapping takes the sender's place in the tree and
    keeps its children. A read-only grant of a writable node first write-protects the
    node's subtree, so the rights rule still holds;
  * one node per (space, address). Mapping over an occupied address is the caller's
    decision: `map`/`grant` refuse it with ValueError, except that a map onto a child of
    the same source just adds rights (Pistachio, and V2's "only the write permission
    differed" case). `vm.VM` follows X.2 and flushes the old mapping first.
"""
from __future__ import annotations

from typing import Hashable, Iterator

__all__ = ["Mapping", "MappingDB", "REMOVE", "PROTECT"]

REMOVE = "remove"
PROTECT = "protect"
_PAGE_SHIFT = 12


class Mapping:
    """A node: `space` holds `key` (frame paddr or port) at `addr` (vaddr or port)."""

    __slots__ = ("space", "addr", "key", "writable", "io", "parent", "children", "live")

    def __init__(self, space: Hashable, addr: int, key: int, writable: bool, io: bool,
                 parent: "Mapping | None"):
        self.space = space
        self.addr = addr
        self.key = key
        self.writable = writable
        self.io = io
        self.parent = parent
        self.children: dict[Mapping, None] = {}    # an ordered set
        self.live = True

    def subtree(self) -> Iterator["Mapping"]:
        """This node and everything derived from it, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def derives_from(self, other: "Mapping") -> bool:
        """Whether `other` is this node or one of its ancestors."""
        node: Mapping | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False

    def __repr__(self) -> str:
        kind = "port" if self.io else "frame"
        return (f"<Mapping {self.space!r}@{self.addr:#x} {kind} {self.key:#x} "
                f"{'rw' if self.writable else 'ro'}{'' if self.live else ' dead'}>")


class MappingDB:
    """All mapping trees, with a per-space index by page number (memory) or port (I/O)."""

    def __init__(self) -> None:
        self._index: dict[Hashable, tuple[dict[int, Mapping], dict[int, Mapping]]] = {}
        self._roots: tuple[dict[int, Mapping], dict[int, Mapping]] = ({}, {})

    # -- queries -----------------------------------------------------------------------

    def lookup(self, space: Hashable, addr: int, io: bool = False) -> Mapping | None:
        """The node `space` holds at `addr` (any address in the page) or port, or None."""
        idx = self._index.get(space)
        if idx is None:
            return None
        return idx[1].get(addr) if io else idx[0].get(addr >> _PAGE_SHIFT)

    def root(self, key: int, io: bool = False) -> Mapping | None:
        """The root of the tree for frame (or port) `key`, or None if no space holds it."""
        return self._roots[io].get(key)

    def roots(self, io: bool = False) -> list[Mapping]:
        """The root of every tree (frames, or ports with `io`)."""
        return list(self._roots[io].values())

    def nodes_in(self, space: Hashable, base: int, size: int,
                 io: bool = False) -> list[Mapping]:
        """The nodes of `space` in [base, base+size) (bytes or ports), in address order.

        The cost is the smaller of the region's pages and the space's mapped pages, so
        a whole-space fpage over a sparse space does not walk a million pages.
        """
        idx = self._index.get(space)
        if idx is None:
            return []
        table = idx[1] if io else idx[0]
        if io:
            lo, hi = base, base + size
        else:
            lo, hi = base >> _PAGE_SHIFT, (base + size + (1 << _PAGE_SHIFT) - 1) >> _PAGE_SHIFT
        if hi - lo <= len(table):
            get = table.get
            return [n for n in map(get, range(lo, hi)) if n is not None]
        return [table[k] for k in sorted(k for k in table if lo <= k < hi)]

    def nodes(self, space: Hashable, io: bool = False) -> list[Mapping]:
        """Every node of `space` (memory or I/O), in address order."""
        return self.nodes_in(space, 0, 1 << (16 if io else 32), io)

    def spaces(self) -> list[Hashable]:
        """The spaces that hold at least one node."""
        return [s for s, (mem, io) in self._index.items() if mem or io]

    def __len__(self) -> int:
        return sum(len(mem) + len(io) for mem, io in self._index.values())

    # -- building ----------------------------------------------------------------------

    def add_root(self, space: Hashable, addr: int, key: int, writable: bool = True,
                 io: bool = False) -> Mapping:
        """Start the tree of `key` at (space, addr); ValueError if either is taken."""
        if key in self._roots[io]:
            raise ValueError(f"{'port' if io else 'frame'} {key:#x} already has a tree")
        node = Mapping(space, _norm(addr, io), key, writable, io, None)
        self._insert(node)
        self._roots[io][key] = node
        return node

    def map(self, src: Mapping, dst_space: Hashable, dst_addr: int,
            writable: bool) -> Mapping:
        """Derive a child of `src` at (dst_space, dst_addr), writable only if both are.

        If that place already holds a child of `src`, the child gains the rights and is
        returned (nothing is downgraded by a map). Any other occupant is a ValueError.
        """
        _alive(src)
        rights = src.writable and writable
        old = self.lookup(dst_space, dst_addr, src.io)
        if old is not None:
            if old.parent is not src:
                raise ValueError(f"{dst_space!r}@{dst_addr:#x} is already mapped: {old!r}")
            old.writable = old.writable or rights
            return old
        node = Mapping(dst_space, _norm(dst_addr, src.io), src.key, rights, src.io, src)
        self._insert(node)
        src.children[node] = None
        return node

    def grant(self, src: Mapping, dst_space: Hashable, dst_addr: int,
              writable: bool) -> list[tuple[Mapping, str]]:
        """Move `src` to (dst_space, dst_addr), keeping its place in its tree.

        The node keeps its children, and its rights become `src.writable and writable`.
        When that takes W away, the subtree is write-protected first, and those changes
        are returned. The sender's address is free afterwards. Granting onto an occupied
        place is a ValueError, unless the place is `src`'s own (a no-op).
        """
        _alive(src)
        old = self.lookup(dst_space, dst_addr, src.io)
        if old is src:
            return []
        if old is not None:
            raise ValueError(f"{dst_space!r}@{dst_addr:#x} is already mapped: {old!r}")
        changes = []
        if src.writable and not writable:
            changes = self.unmap(src, flush=False, own=False)
            src.writable = False
        self._remove_index(src)
        src.space, src.addr = dst_space, _norm(dst_addr, src.io)
        self._insert(src)
        return changes

    # -- taking away ---------------------------------------------------------------------

    def unmap(self, node: Mapping, flush: bool, own: bool) -> list[tuple[Mapping, str]]:
        """V2 fpage_unmap of one node. Returns the (node, REMOVE | PROTECT) changes.

        flush: remove everything derived from `node`, and `node` too if `own`.
        Remap (flush False): write-protect that same set. Only writable nodes change,
        and a read-only node's subtree is read-only already, so the walk stops there.
        """
        _alive(node)
        if flush:
            if own:
                return self._cut(node)
            out = []
            for child in list(node.children):
                out.extend(self._cut(child))
            return out
        out = []
        stack = [node] if own else list(node.children)
        while stack:
            n = stack.pop()
            if n.writable:
                n.writable = False
                out.append((n, PROTECT))
                stack.extend(n.children)
        return out

    def remove_space(self, space: Hashable) -> list[tuple[Mapping, str]]:
        """A dying space: flush every node it holds, each with its whole subtree."""
        idx = self._index.get(space)
        if idx is None:
            return []
        out = []
        for table in idx:
            for node in list(table.values()):
                if node.live:
                    out.extend(self._cut(node))
        del self._index[space]
        return out

    # -- invariants ----------------------------------------------------------------------

    def check(self) -> None:
        """Raise AssertionError naming the first broken invariant of the database."""
        indexed = 0
        for space, tables in self._index.items():
            for io, table in enumerate(tables):
                for k, n in table.items():
                    indexed += 1
                    where = n.addr if io else n.addr >> _PAGE_SHIFT
                    if not (n.live and n.space is space and n.io == bool(io) and where == k):
                        _fail(f"index entry {space!r}[{k:#x}] holds {n!r}")
                    self._check_links(n)
        reached = 0
        for io, roots in enumerate(self._roots):
            for key, r in roots.items():
                if not (r.parent is None and r.key == key and r.io == bool(io)):
                    _fail(f"root entry {key:#x} holds {r!r}")
                for n in r.subtree():
                    reached += 1
                    if self.lookup(n.space, n.addr, n.io) is not n:
                        _fail(f"{n!r} is in a tree but not in its space's index")
        if reached != indexed:
            _fail(f"{indexed} indexed nodes but {reached} in trees (an orphan or a cycle)")

    def _check_links(self, n: Mapping) -> None:
        p = n.parent
        if p is None:
            if self._roots[n.io].get(n.key) is not n:
                _fail(f"{n!r} has no parent, not a root")
        elif not p.live:
            _fail(f"{n!r} hangs from dead {p!r}")
        elif n not in p.children:
            _fail(f"{n!r} missing from its parent's children")
        elif p.key != n.key or p.io != n.io:
            _fail(f"{n!r} differs in key from {p!r}")
        elif n.writable and not p.writable:
            _fail(f"{n!r} has more rights than {p!r}")
        for c in n.children:
            if c.parent is not n:
                _fail(f"{c!r} is a child of {n!r} but points elsewhere")

    # -- internals -----------------------------------------------------------------------

    def _insert(self, node: Mapping) -> None:
        idx = self._index.get(node.space)
        if idx is None:
            idx = self._index[node.space] = ({}, {})
        table = idx[node.io]
        k = node.addr if node.io else node.addr >> _PAGE_SHIFT
        if k in table:
            raise ValueError(f"{node.space!r}@{node.addr:#x} is already mapped")
        table[k] = node

    def _remove_index(self, node: Mapping) -> None:
        table = self._index[node.space][node.io]
        del table[node.addr if node.io else node.addr >> _PAGE_SHIFT]

    def _cut(self, top: Mapping) -> list[tuple[Mapping, str]]:
        """Remove `top` and its subtree from the database; return them as REMOVEs."""
        parent = top.parent
        if parent is None:
            del self._roots[top.io][top.key]
        else:
            del parent.children[top]
        out = []
        index = self._index
        for n in top.subtree():
            table = index[n.space][n.io]
            del table[n.addr if n.io else n.addr >> _PAGE_SHIFT]
            out.append((n, REMOVE))
        for n, _ in out:
            n.live = False
            n.children = {}
        return out


def _norm(addr: int, io: bool) -> int:
    if io:
        if not 0 <= addr < 0x10000:
            raise ValueError(f"port {addr!r} outside 0..0xffff")
        return addr
    if not 0 <= addr < 1 << 32:
        raise ValueError(f"address {addr!r} outside 32 bits")
    return addr & ~((1 << _PAGE_SHIFT) - 1)


def _alive(node: Mapping) -> None:
    if not node.live:
        raise ValueError(f"{node!r} was removed")


def _fail(what: str) -> None:
    raise AssertionError(f"mapping database: {what}")
