"""The name server's protocol: name -> thread id, so clients find "ata0", "fs" or "unix"
again after a restart (servers/names.py serves it, as task 6).

    REGISTER  | name          ->                 the name is now the sender's
    LOOKUP    | name          -> id:64           ENOENT: nobody (alive) has the name
    LIST                      -> | *entries      each b"name\\0id" (decimal id)
    REMOVE    | name          ->                 ENOENT: nobody has the name; EPERM:
                                                 the sender is neither its holder's
                                                 task nor root
    ASSIGN    tid:64 | name   ->                 the name is now thread `tid`'s (root
                                                 only: after the name server was
                                                 restarted, root gives back the names of
                                                 the servers and drivers it keeps)

Names are 1..MAX_NAME bytes of UTF-8 (EINVAL otherwise). A name whose holder no longer
exists is dropped when it is looked up, so a stale id is never handed out.
"""
from __future__ import annotations

import enum
import errno

from microkernel.abi import ThreadId

from .client import Service, ServiceError
from .interface import Interface, Who, call
from .wellknown import names_id

__all__ = ["Op", "NAMES", "Names", "MAX_NAME"]

MAX_NAME = 64


class Op(enum.IntEnum):
    REGISTER = 0x4E01
    LOOKUP = 0x4E02
    LIST = 0x4E03
    REMOVE = 0x4E04
    ASSIGN = 0x4E05


NAMES = Interface("names", Op, {
    Op.REGISTER: call("| name"),
    Op.LOOKUP: call("| name", "id:64", retry=True),
    Op.LIST: call("", "| *entries", retry=True),
    Op.REMOVE: call("| name"),
    Op.ASSIGN: call("tid:64 | name", who=Who.ROOT),
})


class Names(Service):
    """The name server's client stubs."""

    iface = NAMES
    timeout = 5.0

    def __init__(self, rt, tid: int | None = None, **kw):
        """The name server of my node unless `tid` says which."""
        super().__init__(rt, tid=names_id(rt.site) if tid is None else tid, **kw)

    def register(self, name: str) -> None:
        """Register `name` as the calling thread."""
        self.call(Op.REGISTER, name.encode())

    def lookup(self, name: str) -> ThreadId | None:
        """The thread registered as `name`, or None."""
        try:
            return ThreadId(self.call(Op.LOOKUP, name.encode()).id)
        except ServiceError as e:
            if e.errno == errno.ENOENT:
                return None
            raise

    def list(self) -> dict[str, ThreadId]:
        """Every registered name and its thread."""
        out = {}
        for entry in self.call(Op.LIST).entries:
            name, _, tid = entry.partition(b"\0")
            out[name.decode()] = ThreadId(int(tid))
        return out

    def remove(self, name: str) -> None:
        self.call(Op.REMOVE, name.encode())

    def assign(self, name: str, tid: int) -> None:
        """Register `name` as thread `tid` (root only)."""
        self.call(Op.ASSIGN, int(tid), name.encode())
