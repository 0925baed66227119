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
    DATAGRAM dest:64 | words *strings ->  the caller's message (words: u32 each) to
                                      thread `dest` of another node, in the caller's
                                      name, as one frame outside the link: no
                                      acknowledgement, no retransmission, no error back;
                                      it may be lost or overtaken (at most once, one
                                      frame where a one-way message costs two). EINVAL:
                                      dest is on this node; ENOENT/EHOSTDOWN: no such
                                      node, or dead; EMSGSIZE: more than one frame

IPC to other nodes needs no operation: the kernel redirects it to the comm server
(docs/kernel.md, "Remote IPC"; the wire is docs/net.md).
"""
from __future__ import annotations

import array
import enum

import msgpack

from .client import Service
from .interface import Interface, Who, call

__all__ = ["Op", "COMM", "CommClient", "MAX_NODE_NAME"]

MAX_NODE_NAME = 64


class Op(enum.IntEnum):
    NODES = 0xC011
    RESOLVE = 0xC012
    LEAVE = 0xC013
    DATAGRAM = 0xC014


COMM = Interface("comm", Op, {
    Op.NODES: call("", "| table", retry=True),
    Op.RESOLVE: call("| name", "site", retry=True),
    Op.LEAVE: call(who=Who.CHIEF),
    Op.DATAGRAM: call("dest:64 | words *strings"),
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

    def datagram(self, dest: int, words=(), strings=()) -> None:
        """Send a message to `dest` (another node's thread) as a datagram (DATAGRAM)."""
        self.call(Op.DATAGRAM, int(dest), array.array("I", words).tobytes(), tuple(strings))

    def leave(self) -> None:
        """Tell the cluster this node stops (the comm server's chief only)."""
        self.call(Op.LEAVE)
