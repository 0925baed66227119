"""The 486 PC as one object: memory, port bus, PIC pair, timers, serial, disk, network.

`Machine` wires device models to the port bus and to the PIC's inputs, and lets cards
be plugged and unplugged while it runs (ISA hot-plug): `plug` builds a card of a kind
it knows and puts it in, `unplug` takes one out, `tune` sets a model's timing (a
slower drive). It knows nothing of the kernel: whoever owns it drives time
(`clock.run_due()`) and polls host-side I/O (`poll_sources()`), and watches the PIC's
INTR output (`pic.intr`, `pic.inta()`).
"""
from __future__ import annotations

from typing import Any, Callable

from .ata import ATADisk
from .clock import Clock, RealClock
from .device import BadAccess, Device, IrqLine
from .i8254 import PIT
from .i8259 import CASCADE_IR, PICPair
from .memory import PhysicalMemory
from .nic import NIC
from .ports import PortBus
from .rtc import RTC
from .uart16550 import UART16550

__all__ = ["Machine", "COM1", "COM2", "NET0", "TUNABLE"]

COM1 = (0x3F8, 4)   # (base port, IRQ)
COM2 = (0x2F8, 3)
NET0 = (0x300, 9)
TUNABLE = {ATADisk: ("latency", "rate")}    # what `tune` may set, by device model


class Machine:
    """A simulated 486 AT-class PC. `disk` (a raw image path) is optional."""

    def __init__(self, mem_size: int = 16 << 20, disk: str | None = None,
                 clock: Clock | None = None, mem_name: str | None = None):
        self.clock = clock or RealClock()
        self.memory = PhysicalMemory(mem_size, name=mem_name)
        self.ports = PortBus()
        self.pic = PICPair()
        self.devices: dict[str, Device] = {}
        self._lines: dict[int, IrqLine] = {}
        # called when a device's poll sources change (its owner re-reads poll_sources)
        self.on_sources_changed: Callable[[], None] | None = None
        self.attach(self.pic, lines=False)
        self.pit = self.attach(PIT())
        self.rtc = self.attach(RTC())
        self.uarts = [self.attach(UART16550("com1", *COM1)),
                      self.attach(UART16550("com2", *COM2))]
        self.ata = self.attach(ATADisk(disk)) if disk else None

    # -- hot-plug -------------------------------------------------------------------

    def attach(self, device: Device, lines: bool = True) -> Any:
        """Plug `device` in: claim its ports and IRQ lines. Returns the device."""
        if device.name in self.devices:
            raise BadAccess(f"a device named {device.name!r} is already plugged in")
        bad = [irq for irq in device.irqs if not 0 <= irq < 16 or irq == CASCADE_IR]
        if bad and lines:
            raise BadAccess(f"IRQ {bad[0]} cannot be a card's: lines are 0..15 but "
                            f"{CASCADE_IR}, the cascade to the second 8259A")
        busy = [irq for irq in device.irqs if irq in self._lines] if lines else []
        if busy:
            raise BadAccess(f"IRQ {busy[0]} is already in use")
        done: list[tuple[int, int]] = []
        try:
            for base, count in device.port_ranges:
                self.ports.register(device, base, count)
                done.append((base, count))
        except BadAccess:
            self.ports.unregister(device)
            raise
        wired = {}
        if lines:
            for irq in device.irqs:
                wired[irq] = self._lines[irq] = IrqLine(irq, self.pic.set_irq, self.pic)
        self.devices[device.name] = device
        device.plugged(self, wired)
        return device

    def plug(self, kind: str, name: str, port: int, irq: int, **options) -> Any:
        """Build a card of `kind` ("uart", "nic" or "ata") at base `port` on line `irq`
        and attach it; the device. A NIC takes mac, link and pcap; a disk takes `disk` (the image
        path) and `ctrl` (its control port, base + 0x206 by default). A card that
        does not fit (ports or line taken) is closed again."""
        if kind == "uart":
            dev = UART16550(name, port, irq)
        elif kind == "nic":
            dev = NIC(name, port, irq, **options)
        elif kind == "ata":
            dev = ATADisk(str(options["disk"]), name, port,
                          int(options.get("ctrl", port + 0x206)), irq)
        else:
            raise ValueError(f"no device model of kind {kind!r}")
        try:
            self.attach(dev)
        except Exception:
            dev.close()
            raise
        return dev

    def unplug(self, name: str) -> Device:
        """Take the card called `name` out and close it (its host side too)."""
        dev = self.detach(name)
        dev.close()
        return dev

    def tune(self, name: str, attr: str, value: float) -> None:
        """Set a device model's timing (the disk's latency and transfer rate), as one
        would swap a drive for a slower one."""
        dev = self.devices[name]
        if attr not in next((a for cls, a in TUNABLE.items() if isinstance(dev, cls)), ()):
            raise ValueError(f"{attr!r} of {dev.name} cannot be tuned")
        if not 0 <= value < 1e12:
            raise ValueError(f"{attr} {value} out of range")
        setattr(dev, attr, value)

    def detach(self, name: str) -> Device:
        """Unplug the device called `name`; its ports and IRQ lines become free."""
        device = self.devices.pop(name, None)
        if device is None or device is self.pic:
            raise BadAccess(f"no removable device named {name!r}")
        self.ports.unregister(device)
        for irq in device.irqs:
            if self._lines.get(irq) is not None and device.irq_lines.get(irq) is self._lines[irq]:
                del self._lines[irq]
        device.unplugged()
        if device is self.ata:
            self.ata = None
        return device

    # -- for the owner's event loop ---------------------------------------------------

    def poll_sources(self) -> list[tuple[Any, Callable[[], None]]]:
        out = []
        for d in list(self.devices.values()):
            out.extend(d.poll_sources())
        return out

    def describe(self) -> dict:
        return {"memory": {"size": self.memory.size, "map": self.memory.regions()},
                "devices": [d.describe() for d in self.devices.values()]}

    def close(self, unlink: bool = True) -> None:
        for d in list(self.devices.values()):
            d.close()
        self.memory.close()
        if unlink:
            self.memory.unlink()
