"""What comes from the network, on its way to this node's threads: one queue per (remote
sender, local thread) pair, served by a pool of lthreads, so a thread that is slow to
receive holds up only what is addressed to it, what one thread sends another arrives in
order (V2: messages between two threads are not reordered), and a thread waiting in a
closed receive for one partner gets that partner's message even while another sender's
waits for it to be free.

An item is ("msg", sender, dest, words, strings, reply) — a remote thread's message,
sent to `dest` in the sender's name (deceit) — or ("notice", waiter, partner, result): the
error notice [REMOTE_ERROR, result] that ends `waiter`'s wait for remote `partner`.
"""
from __future__ import annotations

import threading
from collections import deque

__all__ = ["Deliveries", "MAX_QUEUED"]

MAX_QUEUED = 4096             # items waiting in all queues: past it, a message is refused


class Deliveries:
    """FIFO queues by a key (a (sender, destination) pair); a key is served by one
    lthread at a time."""

    def __init__(self):
        self.cond = threading.Condition()
        self.queues: dict[tuple, deque] = {}
        self.ready: deque[tuple] = deque()
        self.active: set[tuple] = set()
        self.count = 0

    def put(self, dest: tuple, item: tuple) -> bool:
        """Queue `item` under key `dest`; False when every queue is full."""
        with self.cond:
            if self.count >= MAX_QUEUED:
                return False
            q = self.queues.get(dest)
            if q is None:
                q = self.queues[dest] = deque()
                if dest not in self.active:
                    self.ready.append(dest)
                    self.cond.notify()
            q.append(item)
            self.count += 1
            return True

    def idle(self, dest: tuple) -> bool:
        """Nothing under key `dest` is queued or being delivered."""
        with self.cond:
            return dest not in self.queues and dest not in self.active

    def take(self) -> tuple[tuple, tuple]:
        """The next item of a key no other lthread serves (blocks)."""
        with self.cond:
            while not self.ready:
                self.cond.wait()
            dest = self.ready.popleft()
            self.active.add(dest)
            q = self.queues[dest]
            item = q.popleft()
            if not q:
                del self.queues[dest]
            self.count -= 1
            return dest, item

    def done(self, dest: tuple) -> None:
        """Key `dest`'s item was delivered: its next one may go."""
        with self.cond:
            self.active.discard(dest)
            if dest in self.queues:
                self.ready.append(dest)
                self.cond.notify()
