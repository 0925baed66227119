"""The comm server's own protocol (servers/comm): the cluster as this node sees it.

    NODES            -> | table       msgpack: this node (name, site, mac, boot, interval),
                                      `peers` (one map each: name, site, mac, alive,
                                      last_heard s, rtt_ms, frames_in, frames_out,
                                      retransmits, duplicates, in_flight) and `counts`
                                      (frames dropped, by reason; deaths; ...)
    RESOLVE | name   -> site          a node's site by its name; ENOENT: never heard of,
                                      EHOSTDOWN: not heard for 3 intervals
    LEAVE            ->               the node is stopping: say goodbye to the cluster, so
                                      its callers fail at once (root, at shutdown)
    DATAGRAM | dests words *strings -> sent  the caller's message (words: u32 each) to
                                      each thread of `dests` (u64 each, 1..MAX_DESTS, all
                                      of other nodes), in the caller's name, as one frame
                                      each outside the link: no acknowledgement, no
                                      retransmission, no error back; it may be lost or
                                      overtaken (at most once, one frame where a one-way
                                      message costs two). sent: bit i, dests[i]'s node
                                      lives and its frame went. EINVAL: a dest on this
                                      node; EMSGSIZE: more than one frame
IPC to other nodes needs no operation: the kernel redirects it to the comm server
(docs/kernel.md, "Remote IPC"; the wire is docs/net.md).
"""
from __future__ import annotations

import array
import enum

import msgpack

from .client import Service
from .interface import Interface, Who, call

__all__ = ["Op", "COMM", "CommClient", "MAX_NODE_NAME", "MAX_DESTS"]

MAX_NODE_NAME = 64
MAX_DESTS = 32                    # threads one DATAGRAM reaches


class Op(enum.IntEnum):
    NODES = 0xC011
    RESOLVE = 0xC012
    LEAVE = 0xC013
    DATAGRAM = 0xC014


COMM = Interface("comm", Op, {
    Op.NODES: call("", "| table", retry=True),
    Op.RESOLVE: call("| name", "site", retry=True),
    Op.LEAVE: call(who=Who.CHIEF),
    Op.DATAGRAM: call("| dests words *strings", "sent"),
})


class CommClient(Service):
    """The comm server's client stubs."""

    iface = COMM
    name = "comm"
    timeout = 5.0

    def nodes(self) -> dict:
        """This node and every peer it has heard of (see NODES)."""
        return msgpack.unpackb(self.call(Op.NODES).table)

    def resolve(self, node: str) -> int:
        """The site of node `node` (ServiceError ENOENT, EHOSTDOWN)."""
        return self.call(Op.RESOLVE, node.encode()).site

    def datagram(self, dests, words=(), strings=()) -> int:
        """Send a message to each of `dests` (other nodes' threads) as a datagram
        (DATAGRAM); the mask of those that went."""
        return self.call(Op.DATAGRAM, array.array("Q", [int(d) for d in dests]).tobytes(),
                         array.array("I", words).tobytes(), tuple(strings)).sent

    def leave(self) -> None:
        """Tell the cluster this node stops (the comm server's chief only)."""
        self.call(Op.LEAVE)
