"""What every driver does first: get its ports and IRQ from root, attach, register.

A driver is a task whose chief is root. Its arguments are `name, names_id`; it asks root
(DRIVER_HELLO) for its resources and gets back words `(OK, irq or 0xFFFFFFFF)` with
map items for exactly its I/O ports. It attaches its IRQ by the V2 protocol (closed
receive from irq_id(n) with timeout 0: "timeout" means it now owns the line), then
registers its name so clients find it, also after a restart.
"""
from __future__ import annotations

from dataclasses import dataclass

from microkernel.abi import Fpage, IpcCode, IpcError, Msg, ThreadId, irq_id

from .protocol import DRIVER_HELLO, OK

__all__ = ["Driver", "start", "attach_irq", "next_request", "NO_IRQ"]

NO_IRQ = 0xFFFFFFFF
_REGISTER = 0x4E01          # servers.names.REGISTER (drivers do not import servers)


@dataclass
class Driver:
    name: str
    irq: int | None
    names: ThreadId
    ports: list[tuple[int, int]]


def start(rt, name: str, names_id: str | int, attach: bool = True) -> Driver:
    """Take the resources root holds for driver `name`; returns what was granted.
    With attach=False the driver attaches its IRQ itself, from another thread."""
    r = rt.call(rt.chief(), Msg(words=(DRIVER_HELLO,), strings=(name.encode(),)),
                window=Fpage.whole(), timeout=10)
    if not r.words or r.words[0] != OK:
        raise RuntimeError(f"root refused driver {name!r}: {r.words}")
    irq = None if r.words[1] == NO_IRQ else r.words[1]
    ports = [(it.fpage.base, it.fpage.size) for it in r.items]
    if irq is not None and attach:
        attach_irq(rt, irq)
    names = ThreadId(int(names_id))
    reply = rt.call(names, Msg(words=(_REGISTER,), strings=(name.encode(),)), timeout=5)
    if not reply.words or reply.words[0] != OK:
        raise RuntimeError(f"could not register {name!r}")
    return Driver(name, irq, names, ports)


def attach_irq(rt, irq: int) -> None:
    """Attach the calling thread to IRQ `irq` (V2: a closed receive from irq_id(n) with
    timeout 0, whose "timeout" means the line is now ours)."""
    try:
        rt.receive(irq_id(irq), timeout=0)
    except IpcError as e:
        if e.code != IpcCode.TIMEOUT:
            raise RuntimeError(f"IRQ {irq} is not free: {e}") from None


def next_request(rt) -> Msg:
    """A server loop's open wait that survives bad senders: a message the kernel could
    not deliver (map items without a receive window, MSG_CUT) fails the sender's IPC
    and the receiver's; the driver just waits for the next one."""
    while True:
        try:
            return rt.wait()
        except IpcError:
            continue
