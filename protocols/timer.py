"""The timer protocol (drivers/timer.py, the 8254 PIT as tick and clock).

    NOW          -> ms ticks lost      ms since the driver started; IRQ0 ticks; ticks
                                       the clock says were lost (merged edges)
    SLEEP  ms    ->                    answered at the first tick >= ms later;
                                       ms 0..MAX_SLEEP_MS (EINVAL past it)

The driver's ticker thread tells its lthread 0 that sleepers are due with DUE (Who.SELF).
"""
from __future__ import annotations

import enum

from .client import Service
from .interface import Interface, Who, call

__all__ = ["Op", "TIMER", "Timer", "MAX_SLEEP_MS"]

MAX_SLEEP_MS = 0x7FFF_FFFF       # ~24.8 days


class Op(enum.IntEnum):
    NOW = 0xD021
    SLEEP = 0xD022
    DUE = 0x6002


TIMER = Interface("timer", Op, {
    Op.NOW: call("", "ms ticks lost", retry=True),
    Op.SLEEP: call("ms", "", retry=True),
    Op.DUE: call(who=Who.SELF),
})


class Timer(Service):
    """The timer driver's client stubs."""

    iface = TIMER
    name = "timer"

    def now(self):
        """(ms, ticks, lost) since the driver started."""
        return self.call(Op.NOW)

    def sleep(self, ms: int) -> None:
        """Block for at least `ms` milliseconds, measured by the PIT."""
        self.call(Op.SLEEP, ms)
