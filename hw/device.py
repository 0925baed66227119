"""The contract between a device model and the machine it is plugged into.

A device claims I/O port ranges and at most a few IRQ lines. It answers port reads and
writes (`io_read`/`io_write`, widths 1, 2 or 4 bytes) and drives its IRQ lines through
the `IrqLine` objects the machine hands it at plug time. Devices that move data in
bulk (the ATA data port) may also implement `io_read_string`/`io_write_string`, which
the port bus uses for `insw`/`outsw` so a whole sector crosses in one call.

Devices are passive: time comes from `machine.clock`, host-side I/O (a pseudo-terminal,
a ZeroMQ cable) is polled by the machine's owner through `poll_sources()`. Plug and
unplug may happen while the machine runs (ISA hot-plug); `unplug` must leave nothing
behind.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .machine import Machine

__all__ = ["Device", "IrqLine", "BadAccess"]


class BadAccess(Exception):
    """A port or memory access the hardware cannot perform (bad width, out of range)."""


class IrqLine:
    """One ISA interrupt request line, wired to an input of the PIC pair.

    ISA lines are edge-triggered: the PIC latches a request on a low-to-high change.
    """

    __slots__ = ("irq", "level", "_sink", "_pic")

    def __init__(self, irq: int, sink: Callable[[int, bool], None], pic: Any = None):
        self.irq = irq
        self.level = False
        self._sink = sink
        self._pic = pic                      # the controller, asked by `held()`

    def set(self, level: bool) -> None:
        level = bool(level)
        if level != self.level:
            self.level = level
            self._sink(self.irq, level)

    def raise_(self) -> None:
        self.set(True)

    def lower(self) -> None:
        self.set(False)

    def pulse(self) -> None:
        """Raise then lower: one edge, as a timer output or a one-shot event does."""
        self.set(True)
        self.set(False)

    def held(self) -> bool:
        """The controller has latched a request on this line and masks it: another edge
        would change nothing until software unmasks the line."""
        return self._pic is not None and self._pic.held(self.irq)

    def when_unmasked(self, callback: Callable[[], None]) -> None:
        """Call `callback()` once, the next time software unmasks this line."""
        if self._pic is not None:
            self._pic.when_unmasked(self.irq, callback)


class Device:
    """Base class of every device model. Subclasses set `name`, `port_ranges`, `irqs`."""

    name: str = "device"
    port_ranges: tuple[tuple[int, int], ...] = ()   # (base, count) pairs
    irqs: tuple[int, ...] = ()

    def __init__(self) -> None:
        self.machine: Machine | None = None
        self.irq_lines: dict[int, IrqLine] = {}
        self._timer: Any = None            # the one pending clock event of the model

    # -- lifecycle ------------------------------------------------------------------

    def plugged(self, machine: "Machine", lines: dict[int, IrqLine]) -> None:
        """Called by the machine once ports and IRQ lines are wired."""
        self.machine = machine
        self.irq_lines = lines

    def unplugged(self) -> None:
        """Called by the machine after ports and lines are released; drop timers here."""
        for line in self.irq_lines.values():
            line.lower()
        self.machine = None
        self.irq_lines = {}

    def poll_sources(self) -> list[tuple[Any, Callable[[], None]]]:
        """(file descriptor or zmq socket, ready callback) pairs the owner should poll."""
        return []

    def sources_changed(self) -> None:
        """Tell the owner that `poll_sources()` now says something else (the machine's
        `on_sources_changed` hook, which the kernel sets)."""
        hook = getattr(self.machine, "on_sources_changed", None)
        if hook is not None:
            hook()

    def close(self) -> None:
        """Release host resources (files, sockets)."""

    def cancel_timer(self) -> None:
        """Drop the model's pending event on the machine clock (`self._timer`), if any."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- port I/O -------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        raise NotImplementedError

    def io_write(self, port: int, size: int, value: int) -> None:
        raise NotImplementedError

    def describe(self) -> dict:
        """What `mk` and docs print about this device."""
        return {"name": self.name, "ports": [list(r) for r in self.port_ranges],
                "irqs": list(self.irqs)}
