"""Interrupts as IPC (V2 §7), with the kernel acknowledging the PIC.

The kernel owns the 8259A pair: it programs it at boot with the classic PC sequence
(vectors 0x20..0x2F, slave on IR2) and keeps every line masked that no thread waits
for. A thread attaches to IRQ n by a closed receive from `irq_id(n)` with timeout 0;
the V2 answer "receive timeout" means it now owns the line (a second attacher gets
NOT_EXISTENT). When the line fires, the kernel masks it, sends the EOI, and delivers an
empty message from `irq_id(n)`, or counts it pending. The line stays masked until the
owner's next receive from it (Fiasco's `-always_irqack` mode), so a slow driver never
sees an interrupt storm and never touches the PIC itself.

Beyond V2, a line is handed down without ever being free (docs/kernel.md, Interrupts):
its owner's send to `irq_id(n)` of a task's id (two words, low and high) reserves the line for that
task (only its threads may attach it), and when that task ends or lets go, the line
returns to the thread that handed it. Root hands each driver its line so, and gets it
back when the driver dies: no other task can take it across a restart.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from microkernel.abi import IpcCode

from .ipc import OPEN, block_receive, receive_now
from .thread import Thread, ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["IrqControl", "VECTOR_BASE"]

VECTOR_BASE = 0x20
MASTER, SLAVE = 0x20, 0xA0
CASCADE = 2


class IrqControl:
    """Which thread owns which line, what is pending, and the PIC's mask."""

    def __init__(self, k: "Kernel"):
        self.k = k
        self.ports = k.machine.ports
        self.owner: list[Thread | None] = [None] * 16
        self.keeper: list[Thread | None] = [None] * 16     # who handed the line down
        self.reserved: list = [None] * 16                  # the Task it was handed to
        self.pending = [0] * 16
        self.delivered = [0] * 16
        self.init_pic()

    def init_pic(self) -> None:
        """ICW1..ICW4 to both chips (edge, cascade, 8086 mode), all lines but IR2 masked."""
        out = self.ports.outb
        out(MASTER + 1, 0xFF)
        out(SLAVE + 1, 0xFF)
        out(MASTER, 0x11); out(MASTER + 1, VECTOR_BASE); out(MASTER + 1, 1 << CASCADE); out(MASTER + 1, 0x01)
        out(SLAVE, 0x11); out(SLAVE + 1, VECTOR_BASE + 8); out(SLAVE + 1, CASCADE); out(SLAVE + 1, 0x01)
        self.imr = 0xFFFF & ~(1 << CASCADE)
        self._write_imr()

    def _write_imr(self) -> None:
        self.ports.outb(MASTER + 1, self.imr & 0xFF)
        self.ports.outb(SLAVE + 1, self.imr >> 8)

    def _write_chip(self, n: int) -> None:
        """Write the IMR of line n's chip only: one port write per interrupt, not two."""
        if n >= 8:
            self.ports.outb(SLAVE + 1, self.imr >> 8)
        else:
            self.ports.outb(MASTER + 1, self.imr & 0xFF)

    def mask(self, n: int) -> None:
        if not self.imr & (1 << n):
            self.imr |= 1 << n
            self._write_chip(n)

    def unmask(self, n: int) -> None:
        if self.imr & (1 << n):
            self.imr &= ~(1 << n)
            self._write_chip(n)

    # -- the hardware side --------------------------------------------------------

    def service(self) -> None:
        """Acknowledge every interrupt the PIC signals and turn it into IPC."""
        pic = self.k.machine.pic
        while pic.intr:
            n = pic.inta() - VECTOR_BASE
            if not 0 <= n < 16:
                continue
            if n in (7, 15) and not self._in_service(n):
                if n == 15:                      # spurious on the slave: EOI the cascade
                    self.ports.outb(MASTER, 0x60 | CASCADE)
                continue
            self.mask(n)
            if n >= 8:
                self.ports.outb(SLAVE, 0x60 | (n - 8))      # OCW2 specific EOI
                self.ports.outb(MASTER, 0x60 | CASCADE)
            else:
                self.ports.outb(MASTER, 0x60 | n)
            if self.k.tracer:
                self.k.tracer.note("irq", line=n, what="raised")
            self.fire(n)

    def _in_service(self, n: int) -> bool:
        chip = SLAVE if n >= 8 else MASTER
        self.ports.outb(chip, 0x0B)                  # OCW3: read ISR
        isr = self.ports.inb(chip)
        self.ports.outb(chip, 0x0A)                  # back to IRR
        return bool(isr & (1 << (n & 7)))

    def fire(self, n: int) -> None:
        """Line n fired: deliver to its owner if it waits for it, else count it."""
        t = self.owner[n]
        if t is None:
            return
        if t.state is ThreadState.RECEIVING and not t.pf and (
                t.rcv_mode == OPEN or t.rcv_from == n + 1):
            self.delivered[n] += 1
            if self.k.tracer:
                self.k.tracer.note("irq", line=n, what="delivered", tid=t.tid)
            receive_now(self.k, t, n + 1, ())
        else:
            self.pending[n] += 1

    # -- the thread side ------------------------------------------------------------

    def receive(self, t: Thread, n: int) -> None:
        """A closed receive from irq_id(n): attach, take a pending one, or wait."""
        k = self.k
        owner = self.owner[n]
        if owner is None and self.reserved[n] not in (None, t.task):
            owner = self.keeper[n]                 # kept for another task: as if owned
        if owner is None and t.rcv_timeout == 0 and n != CASCADE:
            if t.irq is not None:
                self.detach(t)
            self.owner[n], t.irq, self.pending[n] = t, n, 0
            self.unmask(n)
            k.ipc_error(t, IpcCode.TIMEOUT)      # V2: "timeout" = attached
            return
        if owner is not t:
            k.ipc_error(t, IpcCode.NOT_EXISTENT)
            return
        if self.pending[n]:
            self.pending[n] -= 1
            self.delivered[n] += 1
            if k.tracer:
                k.tracer.note("irq", line=n, what="delivered", tid=t.tid)
            t.state = ThreadState.RUNNING
            k.deliver(t.ident, 0, n + 1, ())
            return
        if k.tracer:                             # the driver is done with the last one
            k.tracer.note("irq", line=n, what="acknowledged", tid=t.tid)
        self.unmask(n)
        block_receive(k, t)

    def detach(self, t: Thread) -> None:
        """Release the line `t` owns (receive from nil with timeout 0, or death): back
        to the thread that handed it down, if any, else free."""
        n = t.irq
        if n is not None and self.owner[n] is t:
            self.owner[n] = None
            self.pending[n] = 0
            self.mask(n)
            self._give_back(n)
        t.irq = None

    def hand(self, t: Thread, n: int, words, items, frames) -> bool:
        """`t`'s send to irq_id(n): [id low, id high] reserves the line `t` owns for that
        id's task, `t` its keeper; False (NOT_EXISTENT) if `t` does not own it or no such task."""
        to = self.k.thread_of(words[0] | words[1] << 32) if len(words) == 2 else None
        if self.owner[n] is not t or to is None or to.task is t.task or items or frames:
            return False
        self.owner[n], t.irq, self.pending[n] = None, None, 0
        self.keeper[n], self.reserved[n] = t, to.task
        self.mask(n)
        return True

    def ended(self, task) -> None:
        """`task` ended: lines reserved for it and not attached go back to their keepers."""
        for n in range(16):
            if self.reserved[n] is task and self.owner[n] is None:
                self._give_back(n)

    def _give_back(self, n: int) -> None:
        keeper, self.keeper[n], self.reserved[n] = self.keeper[n], None, None
        if keeper is not None and keeper.irq is None and \
                self.k.thread_of(keeper.tid) is keeper:
            self.owner[n], keeper.irq = keeper, n       # masked until its next receive

    def describe(self) -> list[dict]:
        return [{"irq": n, "owner": self.owner[n].tid if self.owner[n] else None,
                 "keeper": self.keeper[n].tid if self.keeper[n] else None,
                 "pending": self.pending[n], "delivered": self.delivered[n],
                 "masked": bool(self.imr & (1 << n))} for n in range(16)]
