"""Seeded impairment of one switch port's cable: loss, duplication, reordering, delay.

What VDE's wirefilter and Mininet's `link` (tc netem) do to a link, made exactly
reproducible: each direction of a port (a `Lane`: node -> switch, switch -> node) has its
own `random.Random`, seeded from the port's seed and the direction, and every frame that
crosses an impaired lane draws three numbers from it, always in the same order (loss,
duplicate, reorder) whatever the settings. The same seed and the same frames in the same
order therefore give the same losses, copies and swaps, run after run.

Per frame, in order:
  loss     the frame is dropped (counted `lost`);
  dup      a copy follows the frame (counted `duplicated`);
  reorder  the frame (and its copy) is held back and sent right after the lane's next
           frame, which overtakes it (counted `reordered`); with no next frame within
           `delay` + HOLD it goes out alone;
  delay    every frame leaves `delay` seconds after it came (a timer: other ports and
           the other direction are never held up).

A lane calls `emit(frame)` for each frame that leaves it and `schedule(seconds, fn)` for
the timers; the switch's loop provides both, tests provide fakes.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Callable

__all__ = ["Impairment", "Lane", "HOLD", "parse_delay"]

HOLD = 0.010                # a reordered frame waits at most this long for its overtaker
MAX_DELAY = 10.0            # seconds; more is a mistake, not a network


@dataclass(frozen=True)
class Impairment:
    """A port's settings; probabilities 0..1, `delay` in seconds, `seed` an int."""
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    delay: float = 0.0
    seed: int = 0

    def __post_init__(self):
        for name in ("loss", "dup", "reorder"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability, 0..1, not {value!r}")
        if not isinstance(self.delay, (int, float)) or not 0.0 <= self.delay <= MAX_DELAY:
            raise ValueError(f"delay is 0..{MAX_DELAY:g} s, not {self.delay!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed is an integer, not {self.seed!r}")

    @property
    def active(self) -> bool:
        return bool(self.loss or self.dup or self.reorder or self.delay)

    def changed(self, **settings) -> "Impairment":
        """A copy with `settings` (None values are left as they were)."""
        return replace(self, **{k: v for k, v in settings.items() if v is not None})

    def describe(self) -> dict:
        d = asdict(self)
        d["delay_ms"] = round(d.pop("delay") * 1000, 3)
        return d


def parse_delay(text: str) -> float:
    """"2ms", "1.5 ms", "500us", "0.1s" or "0" -> seconds; ValueError otherwise."""
    t = text.strip().lower().replace(" ", "")
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if t.endswith(unit):
            t, factor = t[: -len(unit)], scale
            break
    else:
        if t not in ("0", "0.0"):
            raise ValueError(f"a delay needs a unit (us, ms or s): {text!r}")
        factor = 1.0
    try:
        value = float(t) * factor
    except ValueError:
        raise ValueError(f"not a delay: {text!r}") from None
    if not 0.0 <= value <= MAX_DELAY:
        raise ValueError(f"a delay is 0..{MAX_DELAY:g} s: {text!r}")
    return value


class Lane:
    """One direction of a port's cable under an `Impairment`."""

    def __init__(self, direction: str, emit: Callable[[bytes], None],
                 schedule: Callable[[float, Callable[[], None]], None],
                 counters: dict[str, int]):
        self.direction = direction
        self.emit, self.schedule, self.counters = emit, schedule, counters
        self.set(Impairment())

    def set(self, imp: Impairment) -> None:
        """New settings; the random stream starts again from the seed."""
        self.imp = imp
        self.rng = random.Random(f"mk:{imp.seed}:{self.direction}")
        self.held: list[bytes] | None = None
        self.holds = 0                      # which hold a release timer belongs to

    def offer(self, frame: bytes) -> None:
        """A frame enters the lane; it leaves through `emit` (now, later, or never)."""
        imp = self.imp
        if not imp.active:
            self.emit(frame)
            return
        rnd = self.rng.random
        lost, dup, hold = rnd() < imp.loss, rnd() < imp.dup, rnd() < imp.reorder
        if lost:
            self.counters["lost"] += 1
            self.counters["drops"] += 1
            return
        group = [frame, frame] if dup else [frame]
        self.counters["duplicated"] += dup
        if self.held is not None:           # this frame overtakes the one held back
            group += self.held
            self.held = None
        elif hold:
            self.counters["reordered"] += 1
            self.held, self.holds = group, self.holds + 1
            self.schedule(imp.delay + HOLD, lambda n=self.holds: self._release(n))
            return
        self._later(group)

    def _release(self, hold: int) -> None:
        """A held group's time is up and nothing overtook it: it goes alone."""
        if self.held is not None and hold == self.holds:
            group, self.held = self.held, None
            for frame in group:
                self.emit(frame)

    def _later(self, group: list[bytes]) -> None:
        if self.imp.delay:
            self.schedule(self.imp.delay, lambda: [self.emit(f) for f in group])
        else:
            for frame in group:
                self.emit(frame)
