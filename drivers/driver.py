"""What every driver does first: get its ports and IRQ from root, attach, register.

A driver is a task whose chief is root. Its arguments are `name, names_id`; it asks root
for its resources (protocols.root: DRIVER_HELLO, answered with the IRQ and map items for
exactly its I/O ports) and attaches its IRQ by the V2 protocol (closed receive from
irq_id(n) with timeout 0: "timeout" means it now owns the line). Once its device is set
up it registers its name with the name server (protocols.names), so a client that finds
it is answered at once, also after a restart, and serves its class protocol with
protocols.server.serve.
"""
from __future__ import annotations

from dataclasses import dataclass

from microkernel.abi import IpcCode, IpcError, ThreadId, irq_id
from protocols.names import Names
from protocols.root import Root

__all__ = ["Driver", "start", "attach_irq"]


@dataclass
class Driver:
    name: str
    irq: int | None
    names: ThreadId
    ports: list[tuple[int, int]]

    def register(self, rt) -> None:
        """Tell the name server I serve now (once the device is set up)."""
        Names(rt, tid=self.names).register(self.name)


def start(rt, name: str, names_id: str | int, attach: bool = True) -> Driver:
    """Take the resources root holds for driver `name`; returns what was granted. With
    attach=False the driver attaches its IRQ itself, from another thread. Root refusing
    (ENODEV) raises ServiceError."""
    irq, ports = Root(rt).driver_hello(name)
    if irq is not None and attach:
        attach_irq(rt, irq)
    return Driver(name, irq, ThreadId(int(names_id)), ports)


def attach_irq(rt, irq: int) -> None:
    """Attach the calling thread to IRQ `irq` (V2: a closed receive from irq_id(n) with
    timeout 0, whose "timeout" means the line is now ours)."""
    try:
        rt.receive(irq_id(irq), timeout=0)
    except IpcError as e:
        if e.code != IpcCode.TIMEOUT:
            raise RuntimeError(f"IRQ {irq} is not free: {e}") from None
