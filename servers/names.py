"""The name server (task 6, started by root): name -> thread id, so clients find "ata0",
"fs" or "unix" again after a restart. It serves protocols.names.NAMES (the operations,
their layouts and errors are declared there); clients call it with protocols.names.Names.

A name whose holder no longer exists (checked with id_nearest) is dropped when someone
looks it up, so a stale id is never handed out. Only the holder's task, or root, may
remove a name.
"""
from __future__ import annotations

import errno

from microkernel.abi import ThreadId
from protocols.names import MAX_NAME, NAMES
from protocols.server import Dispatch, serve
from protocols.wellknown import ROOT_TASK

__all__ = ["main", "NameServer"]


def _name(raw: bytes) -> str:
    """A request's name; EINVAL unless it is 1..MAX_NAME bytes of UTF-8."""
    if not 0 < len(raw) <= MAX_NAME:
        raise OSError(errno.EINVAL, "a name is 1..64 bytes")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise OSError(errno.EINVAL, "a name is UTF-8") from None


class NameServer:
    """The table, and a handler per operation of NAMES."""

    def __init__(self, alive=lambda tid: True):
        self.table: dict[str, int] = {}
        self.alive = alive                  # does this thread id still exist?

    def register(self, req, msg):
        """The name is now the sender's (whoever held it before)."""
        self.table[_name(req.name)] = int(msg.sender)
        return ()

    def lookup(self, req, msg):
        """The holder's id; ENOENT when nobody (alive) holds the name."""
        name = _name(req.name)
        tid = self.table.get(name)
        if tid is not None and not self.alive(tid):
            del self.table[name]
            tid = None
        if tid is None:
            raise OSError(errno.ENOENT, name)
        return (tid,)

    def list(self, req, msg):
        """Every entry as b"name\\0id", sorted by name."""
        return (tuple(f"{n}\0{t}".encode() for n, t in sorted(self.table.items())),)

    def assign(self, req, msg):
        """Root gives `name` to thread `tid` (after this server was restarted)."""
        self.table[_name(req.name)] = req.tid
        return ()

    def remove(self, req, msg):
        """Drop a name: ENOENT if nobody holds it, EPERM for a sender that is neither
        the holder's task nor root."""
        name = _name(req.name)
        tid = self.table.get(name)
        if tid is None:
            raise OSError(errno.ENOENT, name)
        if msg.sender.task not in (ThreadId(tid).task, ROOT_TASK):
            raise OSError(errno.EPERM, name)
        del self.table[name]
        return ()


def main(rt, name: str = "names", names_id=None) -> None:
    """Serve NAMES forever (root starts it as it starts every server it keeps)."""
    serve(rt, Dispatch(NAMES, NameServer(rt.alive), rt))


# -- to delete once every client uses protocols.names.Names --------------------------
