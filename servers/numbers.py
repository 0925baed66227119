"""The task numbers root hands to the tasks of its clan (protocols.root ALLOC_TASK).

RMGR's task-number service: a task that wants to create tasks of its own (the Unix
server, for its processes) asks root for an inactive number, which root hands over with
`task_new(no, pager=None, new_chief=asker)`. Each task incarnation may hold at most its
quota (the servers root keeps more, for they make tasks for others); when it ends, the
kernel gives every number it owned back to root, and root hands them out again.
"""
from __future__ import annotations

import errno

from protocols.wellknown import FIRST_GIVEN_TASK, LAST_GIVEN_TASK

__all__ = ["TaskNumbers", "QUOTA", "KEPT_QUOTA"]

QUOTA = 64                       # numbers one task may hold at once
KEPT_QUOTA = 512                 # ... one that root keeps (the Unix server: its processes)


class TaskNumbers:
    """Free numbers, and which task incarnation holds which."""

    def __init__(self):
        self.free = list(range(LAST_GIVEN_TASK, FIRST_GIVEN_TASK - 1, -1))   # lowest last
        self.held: dict[int, list[int]] = {}          # task id -> numbers given to it

    def take(self, task: int, quota: int = QUOTA) -> int:
        """A number for task incarnation `task`: EAGAIN when it holds its quota or none
        is left."""
        held = self.held.setdefault(task, [])
        if len(held) >= quota:
            raise OSError(errno.EAGAIN, f"task holds its quota of {quota} numbers")
        if not self.free:
            raise OSError(errno.EAGAIN, "no task numbers left")
        held.append(self.free.pop())
        return held[-1]

    def reclaim(self, task: int) -> int:
        """Task incarnation `task` ended: the kernel gave its numbers back to root;
        they are free again. How many."""
        numbers = self.held.pop(task, [])
        self.free.extend(sorted(numbers, reverse=True))
        return len(numbers)
