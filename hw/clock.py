"""Time for the simulated PC: a timer heap driven by the owner's event loop.

Devices never start host threads. They ask the machine's clock to call them back at a
time, and whoever owns the machine (the kernel's event loop, or a test) fires the due
callbacks. Two clocks share one interface:

- `RealClock` follows the host's monotonic clock; `run_due()` fires what is due now.
- `VirtualClock` only moves when told (`advance(seconds)`), so tests are deterministic.
"""
from __future__ import annotations

import heapq
import itertools
import time
from typing import Callable

__all__ = ["Clock", "RealClock", "VirtualClock", "Timer"]


class Timer:
    """A pending callback; `cancel()` stops it from firing."""

    __slots__ = ("when", "fn", "cancelled", "clock")

    def __init__(self, when: float, fn: Callable[[], None], clock: "Clock | None" = None):
        self.when = when
        self.fn = fn
        self.cancelled = False
        self.clock = clock

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.fn = None
            if self.clock is not None:
                self.clock._cancelled += 1


class Clock:
    """A timer heap. Subclasses say what `now()` is."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()
        self._cancelled = 0                  # dead entries still in the heap

    def now(self) -> float:
        raise NotImplementedError

    def call_at(self, when: float, fn: Callable[[], None]) -> Timer:
        """Call `fn()` once the clock reaches `when` (seconds, same scale as `now()`)."""
        t = Timer(when, fn, self)
        heap = self._heap
        if self._cancelled > 64 and self._cancelled * 2 > len(heap):
            heap[:] = [e for e in heap if not e[2].cancelled]   # drop the dead, once
            heapq.heapify(heap)
            self._cancelled = 0
        heapq.heappush(heap, (when, next(self._seq), t))
        return t

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return self.call_at(self.now() + delay, fn)

    def next_deadline(self) -> float | None:
        """The time of the earliest live timer, or None."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
            self._cancelled = max(0, self._cancelled - 1)
        return heap[0][0] if heap else None

    def run_due(self, now: float | None = None) -> int:
        """Fire every timer due at `now` (default: the clock's time), in time order."""
        now = self.now() if now is None else now
        heap, fired = self._heap, 0
        while heap and heap[0][0] <= now:
            _, _, t = heapq.heappop(heap)
            if t.cancelled:
                self._cancelled = max(0, self._cancelled - 1)
            else:
                t.cancelled = True
                fn, t.fn = t.fn, None
                fn()
                fired += 1
        return fired


class RealClock(Clock):
    """Host real time (monotonic seconds)."""

    def now(self) -> float:
        return time.monotonic()


class VirtualClock(Clock):
    """Time that moves only by `advance`; firing happens as time passes each deadline."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> int:
        """Move time forward, firing each due timer at its own deadline; returns the count."""
        if seconds < 0:
            raise ValueError("virtual time cannot go backwards")
        end, fired = self._now + seconds, 0
        while (d := self.next_deadline()) is not None and d <= end:
            self._now = max(self._now, d)
            fired += self.run_due(self._now)
        self._now = end
        return fired
