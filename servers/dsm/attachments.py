"""Which local task has which segment where: the ranges this node's dsm server pages.

An attachment is (task incarnation, address, size) -> (home site, segment number,
name). A fault inside one is a shared page; any other fault of a task paged by the dsm
server is anonymous memory (servers.pager.Pager), so a thread whose pager is the dsm
server loses nothing else by it.
"""
from __future__ import annotations

import errno
from typing import NamedTuple

from protocols.dsm import PAGE

__all__ = ["Attachment", "Attachments"]

MAX_PER_TASK = 64


class Attachment(NamedTuple):
    task: int
    addr: int
    size: int
    home: int                # the home's site
    segment: int             # its number at the home
    name: str                # NAME@NODE, as the task gave it
    ahead: int = 1           # pages a fault asks for, from the faulting one on

    def key(self, vaddr: int) -> tuple:
        """The (home, segment, page) of the copy behind `vaddr`."""
        return self.home, self.segment, (vaddr - self.addr) // PAGE

    def want(self, page: int) -> int:
        """How many pages a fault on `page` asks for: `ahead`, within the attachment."""
        return max(1, min(self.ahead, self.size // PAGE - page))


class Attachments:
    """Every local task's attachments."""

    def __init__(self):
        self.by_task: dict[int, list[Attachment]] = {}

    def check(self, task: int, addr: int, size: int) -> None:
        """EINVAL if [addr, addr+size) overlaps an attachment of `task`; ENOSPC: too many."""
        mine = self.by_task.get(task, [])
        if len(mine) >= MAX_PER_TASK:
            raise OSError(errno.ENOSPC, f"at most {MAX_PER_TASK} attachments per task")
        for a in mine:
            if addr < a.addr + a.size and a.addr < addr + size:
                raise OSError(errno.EINVAL, f"overlaps {a.name} at {a.addr:#x}")

    def add(self, a: Attachment) -> None:
        self.by_task.setdefault(a.task, []).append(a)

    def remove(self, task: int, addr: int, size: int) -> Attachment:
        """Take away the attachment at exactly (addr, size) (ENOENT: none)."""
        for a in self.by_task.get(task, []):
            if (a.addr, a.size) == (addr, size):
                self.by_task[task].remove(a)
                return a
        raise OSError(errno.ENOENT, f"no segment attached at {addr:#x} of {size} bytes")

    def find(self, task: int, vaddr: int) -> Attachment | None:
        """The attachment of `task` that holds `vaddr`, or None."""
        for a in self.by_task.get(task, ()):
            if a.addr <= vaddr < a.addr + a.size:
                return a
        return None

    def forget(self, task: int) -> list[Attachment]:
        """Task `task` ended: its attachments, now gone."""
        return self.by_task.pop(task, [])
