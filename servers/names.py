"""The name server: name → thread id, so clients find "ata0" or "fs" again after a
restart. Task 6, started by root; root tells every task its id as an argument.

    REGISTER  words (REGISTER,)            strings (name,)  -> (OK,) ; the sender's id
    LOOKUP    words (LOOKUP,)              strings (name,)  -> (OK, id low, id high) or (NO_NAME,)
    LIST      words (LIST,)                                 -> strings (name\\0id, ...)
    REMOVE    words (REMOVE,)              strings (name,)  -> (OK,) ; only its holder or root

A name registered by a thread that no longer exists is dropped when someone looks it up
(checked with id_nearest), so a stale id is never handed out.
"""
from __future__ import annotations

import logging

from microkernel.abi import KernelError, Msg, ThreadId
from microkernel.user.serve import serve

__all__ = ["main", "Names", "REGISTER", "LOOKUP", "LIST", "REMOVE", "OK", "NO_NAME",
           "lookup", "register"]

log = logging.getLogger("mk.names")
REGISTER, LOOKUP, LIST, REMOVE = 0x4E01, 0x4E02, 0x4E03, 0x4E04
OK, NO_NAME, BAD = 0, 2, 2       # NO_NAME is ENOENT, as protocols.names.Names expects
MAX_NAME = 64


class Names:
    def __init__(self, alive=lambda tid: True, root_task: int = 4):
        self.table: dict[str, int] = {}
        self.alive = alive
        self.root_task = root_task

    def handle(self, msg: Msg) -> Msg:
        if not msg.words:
            return Msg(words=(BAD,))
        op = msg.words[0]
        if op == LIST:
            return Msg(words=(OK,), strings=tuple(
                f"{n}\0{int(t)}".encode() for n, t in sorted(self.table.items())))
        if len(msg.strings) != 1 or not 0 < len(msg.strings[0]) <= MAX_NAME:
            return Msg(words=(BAD,))
        try:
            name = bytes(msg.strings[0]).decode()
        except UnicodeDecodeError:
            return Msg(words=(BAD,))
        if op == REGISTER:
            self.table[name] = int(msg.sender)
            return Msg(words=(OK,))
        if op == LOOKUP:
            tid = self.table.get(name)
            if tid is not None and not self.alive(tid):
                del self.table[name]
                tid = None
            if tid is None:
                return Msg(words=(NO_NAME,))
            return Msg(words=(OK, tid & 0xFFFFFFFF, tid >> 32))
        if op == REMOVE:
            tid = self.table.get(name)
            if tid is not None and (ThreadId(tid).task == msg.sender.task
                                    or msg.sender.task == self.root_task):
                del self.table[name]
                return Msg(words=(OK,))
            return Msg(words=(NO_NAME,))
        return Msg(words=(BAD,))


def main(rt) -> None:
    def alive(tid: int) -> bool:
        try:
            rt.id_nearest(tid)
            return True
        except KernelError:
            return False
    serve(rt, Names(alive).handle)


def lookup(rt, names: int, name: str, timeout: float | None = 5.0) -> ThreadId | None:
    """A client's lookup; None when the name is not (or no longer) registered."""
    r = rt.call(names, Msg(words=(LOOKUP,), strings=(name.encode(),)), timeout=timeout)
    if r.words and r.words[0] == OK and len(r.words) == 3:
        return ThreadId(r.words[2] << 32 | r.words[1])
    return None


def register(rt, names: int, name: str) -> None:
    r = rt.call(names, Msg(words=(REGISTER,), strings=(name.encode(),)), timeout=5.0)
    if not r.words or r.words[0] != OK:
        raise ValueError(f"name server refused {name!r}")
