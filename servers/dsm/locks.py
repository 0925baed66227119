"""The locks and barriers of the segments homed here, for tasks on any node.

A lock is held by a task (its incarnation id: a restarted task is another); LOCK is
answered when the caller's task gets it, in the order the requests came (FIFO, so no
waiter starves). A barrier is answered for all its tasks at once when the `count`th
arrives, and is then ready for the next round. A task that ends (GONE, from its node's
dsm server, which root tells) gives up its locks and leaves its waits; so does every
task of a node that is gone (`drop_site`).

The replies come later (V2: the client stays blocked in its call until the server
answers: protocols.server.send_reply); a waiter whose reply cannot be delivered (it went
away) is passed over. A reply to another node waits up to PATIENCE for the comm task:
a grant lost on the way would leave the lock held by a task that never knew.
"""
from __future__ import annotations

import errno
from collections import deque

from microkernel.abi import ThreadId
from protocols.dsm import HOME, MAX_LOCKS, HomeOp
from protocols.server import send_reply

__all__ = ["Locks", "PATIENCE"]

PATIENCE = 5.0               # a reply to another node waits this long for the comm task


class Locks:
    """Locks and barriers by (segment, number)."""

    def __init__(self, rt):
        self.rt = rt
        self.holders: dict[tuple, ThreadId] = {}               # lock -> holding task
        self.waiting: dict[tuple, deque] = {}                  # lock -> (thread, task)
        self.barriers: dict[tuple, tuple[int, list]] = {}      # -> (count, [(thread, task)])

    def lock(self, key: tuple, sender: ThreadId):
        """Grant lock `key` to the sender's task now (()) or later (None)."""
        _check(key)
        task = sender.task_id()
        holder = self.holders.get(key)
        if holder is None:
            self.holders[key] = task
            return ()
        if holder == task or any(t == task for _, t in self.waiting.get(key, ())):
            raise OSError(errno.EDEADLK, "the task holds or awaits this lock already")
        self.waiting.setdefault(key, deque()).append((sender, task))
        return None

    def unlock(self, key: tuple, sender: ThreadId) -> tuple:
        """Release lock `key` (EPERM: the sender's task does not hold it)."""
        _check(key)
        if self.holders.get(key) != sender.task_id():
            raise OSError(errno.EPERM, "the task does not hold this lock")
        self._pass(key)
        return ()

    def barrier(self, key: tuple, count: int, sender: ThreadId):
        """Wait at barrier `key` until `count` tasks do (EINVAL: another count)."""
        _check(key)
        if not 1 <= count <= 1024:
            raise OSError(errno.EINVAL, f"bad barrier count {count}")
        n, waiters = self.barriers.get(key, (count, []))
        if n != count:
            raise OSError(errno.EINVAL, f"the barrier's count is {n}, not {count}")
        task = sender.task_id()
        if any(t == task for _, t in waiters):
            raise OSError(errno.EDEADLK, "the task waits at this barrier already")
        waiters.append((sender, task))
        if len(waiters) < count:
            self.barriers[key] = (count, waiters)
            return None
        self.barriers.pop(key, None)
        for thread, _ in waiters[:-1]:
            send_reply(self.rt, thread, HOME.reply(HomeOp.BARRIER), PATIENCE)
        return ()

    def gone(self, task: ThreadId) -> None:
        """Task `task` ended: its locks pass on, it leaves every wait."""
        self._leave(lambda t: t == task)

    def drop_site(self, site: int) -> None:
        """Node `site` is gone: so is every task of it."""
        self._leave(lambda t: t.site == site)

    def tasks(self) -> set[ThreadId]:
        """Every task that holds or waits for something here."""
        out = set(self.holders.values())
        for q in self.waiting.values():
            out.update(t for _, t in q)
        for _, ws in self.barriers.values():
            out.update(t for _, t in ws)
        return out

    def _leave(self, gone) -> None:
        for key, q in list(self.waiting.items()):
            self.waiting[key] = deque(w for w in q if not gone(w[1]))
        for key, (n, ws) in list(self.barriers.items()):
            self.barriers[key] = (n, [w for w in ws if not gone(w[1])])
        for key, holder in list(self.holders.items()):
            if gone(holder):
                self._pass(key)

    def _pass(self, key: tuple) -> None:
        """The lock goes to its first waiter that can still be told."""
        q = self.waiting.get(key)
        while q:
            thread, task = q.popleft()
            self.holders[key] = task
            if send_reply(self.rt, thread, HOME.reply(HomeOp.LOCK), PATIENCE):
                return
        self.holders.pop(key, None)
        self.waiting.pop(key, None)


def _check(key: tuple) -> None:
    if not 0 <= key[1] < MAX_LOCKS:
        raise OSError(errno.EINVAL, f"lock or barrier {key[1]}: 0 to {MAX_LOCKS - 1}")
