"""Distributed shared memory (servers/dsm): named segments kept coherent across nodes.

Every node runs a dsm server (task DSM_TASK, registered as "dsm"). A segment is named
`NAME@NODE`: its *home* is NODE's dsm server (no `@`: this node's), which keeps the
segment's directory, its locks and its barriers. Pages are the 486's 4 KiB; the protocol
is Ivy's (Li and Hudak) with a fixed manager: one writer or many readers, and a write
invalidates every other copy first. docs/dsm.md has the memory model and its costs.

A task's side (lthread 0 of its node's dsm server, local tasks only: EPERM otherwise):

    ATTACH  addr size ahead | name -> segment  the segment `name` (created at its
                                 home if new, joined if it exists with this size: EEXIST
                                 otherwise) at `addr` in the caller's space; a fault
                                 asks for up to `ahead` pages (1..MAX_AHEAD) from the
                                 faulting one on; the caller then makes this server its
                                 thread's pager (Segment does)
                                 EINVAL: addr or size not page-aligned, size 0 or over
                                 MAX_SIZE, past the user area, overlapping another
                                 attachment; a name not NAME[@NODE] of [A-Za-z0-9._-]
    DETACH  addr size         -> (nothing)       no more faults served there (ENOENT)
    WHY     addr              -> | why            why a page of the caller's segment
                                 faults for good: "" if it does not
    FORGET  tid:64            -> (nothing)       task `tid` ended (root): its
                                 attachments and pages go, its locks are released
    WRITEBACK addr            -> (nothing)       a barrier's first step: the pages of
                                 the caller's segment at `addr` this node writes become
                                 read-only and go to the home (PUSH), up to
                                 MAX_WRITEBACK; ENOENT: no segment of the caller's there

The home's side (lthread 1; the dsm servers of every node, Who.PEER, except the locks):

    OPEN    size | name       -> segment         create or join (EEXIST: another size)
    READ    segment page want -> | versions kinds data  read copies of `page` and of up
                                 to want-1 pages after it that come cheap (untouched,
                                 or from the same node): versions u32 each; kinds a
                                 byte each: 0 its 4 KiB follow in data, 1 zeros (none
                                 sent), 2 none (the caller holds the current copy)
                                 (EOWNERDEAD: the page is lost)
    WRITE   segment page want -> | versions acks kinds data  `page` to write, and, if
                                 it is untouched, up to want-1 untouched pages no one
                                 holds after it. Every other copy is sent INVALIDATE
                                 first; acks (u64 ids) are the dsm servers whose
                                 INVALIDATED the caller awaits before it uses the page
    LOCK    segment lock      -> (nothing)       answered when the caller's task holds
                                 lock `lock` (0..MAX_LOCKS-1); EDEADLK: it holds it already
    UNLOCK  segment lock      -> (nothing)       EPERM: the caller's task does not hold it
    BARRIER segment bar count -> (nothing)       answered when `count` tasks wait at it;
                                 EINVAL: a count other than the waiting tasks'
    GONE    tid:64            -> (nothing)       a task ended: its locks go to the next
                                 waiter, it leaves every wait
    PUSH    segment | pages versions kinds data  (one-way) the sender's node wrote these
                                 pages (u32 numbers, up to MAX_AHEAD) and now holds them
                                 read-only: the home keeps a copy of each still at its
                                 version (kinds as READ's, 0 or 1); others are passed over

A node's copies (Who.PEER and checked: the sender's site keys the copy of a home's page):

    FETCH      segment page drop | versions -> | kinds data  (lthread 2) pages from
                                 `page` on, one per version (u32 each, 1..MAX_AHEAD),
                                 once each version is installed (kinds as READ's, 0 or
                                 1); drop: invalidate them (a new writer), else keep
                                 read-only copies
    INVALIDATE home segment page writer:64 | versions  (lthread 3, one-way: no reply)
                                 drop the copies of the pages from `page` on of home
                                 site `home` (the sender's, or the writer's asking
                                 again), raising each one's floor to its version (u32
                                 each, 1..MAX_AHEAD), then send INVALIDATED to lthread
                                 3 of `writer` (a dsm server) with the first version
    INVALIDATED home segment page version       (lthread 3, one-way) the sender's copies
                                 of the run from that page of home site `home`, granted
                                 at that version, are gone

Both go as datagrams (protocols/comm.py DATAGRAM: one frame each, no acknowledgement);
a writer that misses an INVALIDATED sends INVALIDATE again itself, by ordinary IPC.

Lthread 3 never waits (FETCH may, for a grant on its way): an invalidation is never
stuck behind a fetch, so a writer's wait for INVALIDATED closes no circle.
"""
from __future__ import annotations

import enum
import re

from microkernel.abi.fpage import USER_TOP

from microkernel.abi import IpcError

from .client import Service, ServiceError
from .comm import CommClient
from .interface import Interface, Who, call

__all__ = ["Op", "HomeOp", "CopyOp", "DSM", "HOME", "COPIES", "HOME_LTHREAD",
           "COPIES_LTHREAD", "COHERENCE_LTHREAD", "MAX_AHEAD", "MAX_SIZE", "MAX_LOCKS", "MAX_NAME", "PAGE",
           "MAX_WRITEBACK", "DsmClient", "HomeClient", "CopiesClient", "tell", "parse_name",
           "check_range"]

PAGE = 0x1000
MAX_SIZE = 16 << 20              # a segment's bytes (4096 pages)
MAX_LOCKS = 256                  # locks and barriers per segment
MAX_AHEAD = 16                   # pages one fault may bring, and one PUSH carries
MAX_WRITEBACK = 4 * MAX_AHEAD    # pages one barrier writes back to the home
MAX_NAME = 64
HOME_LTHREAD, COPIES_LTHREAD, COHERENCE_LTHREAD = 1, 2, 3
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Op(enum.IntEnum):
    ATTACH = 0xD5A0
    DETACH = 0xD5A1
    WHY = 0xD5A2
    FORGET = 0xD5A3
    WRITEBACK = 0xD5A4


class HomeOp(enum.IntEnum):
    OPEN = 0xD5B0
    READ = 0xD5B1
    WRITE = 0xD5B2
    LOCK = 0xD5B3
    UNLOCK = 0xD5B4
    BARRIER = 0xD5B5
    GONE = 0xD5B6
    PUSH = 0xD5B7


class CopyOp(enum.IntEnum):
    FETCH = 0xD5C0
    INVALIDATE = 0xD5C1
    INVALIDATED = 0xD5C2


DSM = Interface("dsm", Op, {
    Op.ATTACH: call("addr size ahead | name", "segment"),
    Op.DETACH: call("addr size"),
    Op.WHY: call("addr", "| why"),
    Op.FORGET: call("tid:64", who=Who.CHIEF | Who.ROOT),
    Op.WRITEBACK: call("addr"),
}, pad_to=3)                    # a pager's requests are never two words (a fault is)

HOME = Interface("dsm home", HomeOp, {
    HomeOp.OPEN: call("size | name", "segment", Who.PEER),
    HomeOp.READ: call("segment page want", "| versions kinds data", Who.PEER),
    HomeOp.WRITE: call("segment page want", "| versions acks kinds data", Who.PEER),
    HomeOp.LOCK: call("segment lock"),
    HomeOp.UNLOCK: call("segment lock"),
    HomeOp.BARRIER: call("segment barrier count"),
    HomeOp.GONE: call("tid:64", who=Who.PEER),
    HomeOp.PUSH: call("segment | pages versions kinds data", who=Who.PEER, doc="one-way"),
})

COPIES = Interface("dsm copies", CopyOp, {
    CopyOp.FETCH: call("segment page drop | versions", "| kinds data", Who.PEER),
    CopyOp.INVALIDATE: call("home segment page writer:64 | versions", who=Who.PEER,
                            doc="one-way"),
    CopyOp.INVALIDATED: call("home segment page version", who=Who.PEER, doc="one-way"),
})


def parse_name(name: str) -> tuple[str, str]:
    """(segment, node) of "NAME[@NODE]" (node "" is this one); ValueError if malformed."""
    seg, _, node = name.partition("@")
    if not _NAME.fullmatch(seg) or (node and not _NAME.fullmatch(node)) or len(name) > 2 * MAX_NAME:
        raise ValueError(f"bad segment name {name!r}: NAME[@NODE] of letters, digits, . _ -")
    return seg, node


def check_range(addr: int, size: int) -> None:
    """ValueError unless [addr, addr+size) is a page-aligned range of the user area no
    larger than MAX_SIZE."""
    if addr % PAGE or size % PAGE or not 0 < size <= MAX_SIZE:
        raise ValueError(f"segment at {addr:#x} of {size} bytes: address and size must be "
                         f"page-aligned, the size 1 page to {MAX_SIZE >> 20} MiB")
    if addr + size > USER_TOP:
        raise ValueError(f"segment at {addr:#x} of {size} bytes ends past the user area")


class DsmClient(Service):
    """A task's calls to its node's dsm server."""

    iface = DSM
    name = "dsm"
    timeout = 30.0


class HomeClient(Service):
    """Calls to a segment's home: lthread 1 of NODE's dsm server."""

    iface = HOME
    timeout = 30.0

    def __init__(self, rt, node: str = "", **kw):
        super().__init__(rt, name=f"dsm@{node}" if node else "dsm", **kw)

    def server(self, deadline=None):
        if self.tid is None:
            self.tid = super().server(deadline).lthread_id(HOME_LTHREAD)
        return self.tid


class CopiesClient(Service):
    """A home's FETCH calls to the copies of a node (lthread 2 of its dsm server)."""

    iface = COPIES
    timeout = 15.0               # above the copies' wait for a grant on its way


def tell(comm: CommClient, tids: list, code: int, *values, datagram: bool = True,
         iface: Interface = COPIES) -> list:
    """Send `iface`'s one-way `code` to each thread of `tids` (of other nodes): as
    datagrams through `comm`, in one call (one frame each; one may be lost, and the
    writer's wait asks again), or with `datagram` False by ordinary IPC, each waiting
    up to comm's timeout for the comm task to take it. The tids it went to (on a
    failure of the comm server itself, it is looked up anew)."""
    msg = iface.request(code, *values)
    if datagram:
        try:
            sent = comm.datagram(tids, msg.words, msg.strings)
        except (IpcError, ServiceError):
            comm.forget()
            return []
        return [t for i, t in enumerate(tids) if sent >> i & 1]
    out = []
    for t in tids:
        try:
            comm.rt.send(t, msg, timeout=comm.timeout)
            out.append(t)
        except IpcError:
            pass
    return out
