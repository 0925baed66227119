"""The PC/AT's two 8259A interrupt controllers: master at 0x20/0x21, slave at 0xA0/0xA1.

Why: every device interrupt reaches the kernel through this pair, and real kernels (Linux
`init_8259A`, xv6 `picinit`) program it with exact byte sequences, so the model follows
the Intel 8259A datasheet and QEMU's `hw/intc/i8259.c` register by register.

What is modelled, per chip: IRR, ISR, IMR, the ICW1-ICW4 sequence (single or cascade,
with or without ICW4, edge or level mode), the vector base from ICW2, OCW1 (IMR), OCW2
(EOI, specific EOI, the rotate commands and set-priority), OCW3 (IRR/ISR read select,
poll, special mask), auto-EOI, special fully nested mode, and the priority resolver
(fixed, IR0 highest, unless rotated). The slave's INT output drives master input IR2.

The CPU side: `intr` is the master's INT pin, `inta()` is the interrupt-acknowledge
cycle and returns the vector, `on_intr` is called on each low-to-high change of INT.

Decisions worth knowing:
- Inputs are edge-triggered (ISA): a rising edge latches IRR; lowering the line does not
  withdraw a latched request, because devices signal with `IrqLine.pulse()` (QEMU does
  the same). A request *vanishes* before INTA when software masks it after INT rose, or
  when a test calls `withdraw(irq)` (a glitch). INTA with no deliverable request returns
  the chip's IR7 vector and sets no ISR bit (spurious IRQ7).
- Spurious IRQ15: the master latched IR2 from the slave's INT, then the slave's request
  vanished. The master still acknowledges IR2 (sets ISR bit 2 unless in AEOI) and the
  slave answers with its base+7 without setting its ISR, so the handler must send EOI to
  the master only. This is QEMU's behaviour and the 8259A's cascade protocol.
- An INTA that goes through the slave ends the slave's INT pulse: if the slave still has
  a deliverable request afterwards, master IR2 latches again (otherwise an edge-triggered
  master would lose it, e.g. with the slave in AEOI mode and two requests pending).
- ISA "IRQ 2" does not exist on an AT (the pin is routed to IRQ 9); `set_irq(2, ...)` is
  refused. The 8080/85 CALL sequence (ICW4 uPM=0) and buffered mode are not modelled:
  vectors are always ICW2-based.
"""
from __future__ import annotations

from typing import Callable

from .device import BadAccess, Device

__all__ = ["PICPair", "PIC8259", "CASCADE_IR"]

CASCADE_IR = 2          # master input the slave's INT is wired to (PC/AT)


class PIC8259:
    """One 8259A chip: registers, the ICW state machine and the priority resolver."""

    def __init__(self, master: bool):
        self.is_master = master
        self.levels = 0                      # current input line levels (edge detection)
        # ICW3 is not cleared by ICW1; power on with the PC/AT wiring.
        self.icw3 = 1 << CASCADE_IR if master else CASCADE_IR
        self.init_reset()

    def init_reset(self) -> None:
        """State after ICW1 (and at power-on): datasheet "Initialization Command Words"."""
        self.irr = 0
        self.isr = 0
        self.imr = 0
        self.base = 0
        self.priority_add = 0                # rotation: IR(priority_add) has top priority
        self.read_isr = False                # OCW3 RR/RIS: read IRR after ICW1
        self.poll = False
        self.special_mask = False
        self.auto_eoi = False
        self.rotate_on_aeoi = False
        self.sfnm = False
        self.level_mode = False
        self.single = False
        self.need_icw4 = False
        self.init_step = 0                   # next ICW expected (2, 3, 4) or 0 = ready

    # -- inputs and the priority resolver ---------------------------------------------

    def set_input(self, ir: int, level: bool) -> None:
        """An input line changed; edge mode latches IRR on 0->1 only."""
        bit = 1 << ir
        if self.level_mode:
            self.irr = self.irr | bit if level else self.irr & ~bit
        elif level and not self.levels & bit:
            self.irr |= bit
        self.levels = self.levels | bit if level else self.levels & ~bit

    def _priority(self, mask: int) -> int:
        """0 = the highest-priority set bit of `mask` (after rotation); 8 = none."""
        if not mask:
            return 8
        p = 0
        while not mask & (1 << ((p + self.priority_add) & 7)):
            p += 1
        return p

    def pending(self) -> int:
        """The IR the chip would deliver now (its INT output is high), or -1."""
        p = self._priority(self.irr & ~self.imr)
        if p == 8:
            return -1
        in_service = self.isr
        if self.special_mask:                # masked levels in service do not block
            in_service &= ~self.imr
        if self.sfnm and self.is_master:     # further slave requests may nest
            in_service &= ~(1 << CASCADE_IR)
        if p < self._priority(in_service):
            return (p + self.priority_add) & 7
        return -1

    def ack(self, ir: int) -> None:
        """The INTA (or poll) side effects for IR `ir`: IRR -> ISR (or auto-EOI)."""
        bit = 1 << ir
        if self.auto_eoi:
            if self.rotate_on_aeoi:
                self.priority_add = (ir + 1) & 7
        else:
            self.isr |= bit
        if not self.level_mode:
            self.irr &= ~bit

    # -- command words ----------------------------------------------------------------

    def write_cmd(self, value: int) -> None:
        """A write to base+0: ICW1, OCW3 or OCW2 by bits 4 and 3."""
        if value & 0x10:                     # ICW1: 0 0 0 1 LTIM ADI SNGL IC4
            self.init_reset()
            self.level_mode = bool(value & 0x08)
            self.single = bool(value & 0x02)
            self.need_icw4 = bool(value & 0x01)
            self.init_step = 2
        elif value & 0x08:                   # OCW3: 0 ESMM SMM 0 1 P RR RIS
            if value & 0x04:
                self.poll = True
            if value & 0x02:
                self.read_isr = bool(value & 0x01)
            if value & 0x40:
                self.special_mask = bool(value & 0x20)
        else:
            self._ocw2(value >> 5, value & 7)

    def _ocw2(self, cmd: int, level: int) -> None:
        # OCW2 bits 7:5 = R SL EOI (datasheet table; QEMU pic_ioport_write cases 0-7).
        if cmd in (0, 4):                    # clear / set rotate in auto-EOI mode
            self.rotate_on_aeoi = cmd == 4
        elif cmd in (1, 5):                  # non-specific EOI (5: and rotate)
            p = self._priority(self.isr)
            if p != 8:
                ir = (p + self.priority_add) & 7
                self.isr &= ~(1 << ir)
                if cmd == 5:
                    self.priority_add = (ir + 1) & 7
        elif cmd in (3, 7):                  # specific EOI (7: and rotate)
            self.isr &= ~(1 << level)
            if cmd == 7:
                self.priority_add = (level + 1) & 7
        elif cmd == 6:                       # set priority: `level` becomes lowest
            self.priority_add = (level + 1) & 7
        # cmd 2 is a no-op

    def write_data(self, value: int) -> None:
        """A write to base+1: the next ICW during initialisation, else OCW1 (IMR)."""
        step = self.init_step
        if step == 0:
            self.imr = value
        elif step == 2:                      # ICW2: T7..T3; low 3 bits come from the IR
            self.base = value & 0xF8
            self.init_step = 3 if not self.single else 4 if self.need_icw4 else 0
        elif step == 3:                      # ICW3: slave mask (master) or id (slave)
            self.icw3 = value
            self.init_step = 4 if self.need_icw4 else 0
        else:                                # ICW4: 0 0 0 SFNM BUF M/S AEOI uPM
            self.sfnm = bool(value & 0x10)
            self.auto_eoi = bool(value & 0x02)
            self.init_step = 0

    def read(self, a0: int) -> int:
        """A read of base+0 (IRR or ISR per OCW3) or base+1 (IMR); poll is handled above."""
        if a0:
            return self.imr
        return self.isr if self.read_isr else self.irr


class PICPair(Device):
    """The master/slave 8259A pair of a PC/AT, slave cascaded on master IR2."""

    name = "pic"
    port_ranges = ((0x20, 2), (0xA0, 2))
    irqs = ()

    def __init__(self) -> None:
        super().__init__()
        self.master = PIC8259(master=True)
        self.slave = PIC8259(master=False)
        self.on_intr: Callable[[], None] | None = None
        self.spurious = 0                    # spurious acknowledges so far (IR7/IR15)
        self._intr = False
        self._on_unmask: dict[int, Callable[[], None]] = {}

    # -- device side ------------------------------------------------------------------

    def set_irq(self, irq: int, level: bool) -> None:
        """Input line `irq` (0-15, not 2) is now at `level`; the IrqLine sink."""
        self._chip_of(irq).set_input(irq & 7, bool(level))
        self._update()

    def withdraw(self, irq: int) -> None:
        """Drop a latched request of `irq`, as a glitch would: the next INTA may be spurious."""
        self._chip_of(irq).irr &= ~(1 << (irq & 7))
        self._update()

    def _chip_of(self, irq: int) -> PIC8259:
        if not isinstance(irq, int) or not 0 <= irq < 16:
            raise BadAccess(f"IRQ {irq!r} outside 0..15")
        if irq == CASCADE_IR:
            raise BadAccess("IRQ 2 is the cascade input; an ISA card's IRQ 2 is IRQ 9 on an AT")
        return self.master if irq < 8 else self.slave

    def held(self, irq: int) -> bool:
        """Input `irq` has a request latched in IRR and masked in IMR (edge mode): a new
        edge would change nothing, since IRR latches edges whatever the IMR says."""
        chip, bit = self._chip_of(irq), 1 << (irq & 7)
        return bool(chip.irr & chip.imr & bit) and not chip.level_mode

    def when_unmasked(self, irq: int, callback: Callable[[], None]) -> None:
        """Call `callback()` once, when a write clears `irq`'s IMR bit (OCW1 or ICW1)."""
        self._chip_of(irq)
        self._on_unmask[irq] = callback

    # -- CPU side ---------------------------------------------------------------------

    @property
    def intr(self) -> bool:
        """The master's INT output: an interrupt is waiting for `inta()`."""
        m = self.master
        return bool(m.irr & ~m.imr) and m.pending() >= 0   # the kernel asks once a message

    def inta(self) -> int:
        """The interrupt-acknowledge cycle: returns the vector; IRR moves to ISR."""
        m, s = self.master, self.slave
        ir = m.pending()
        if ir < 0:                           # the request vanished: spurious IR7
            self.spurious += 1
            vector = m.base | 7
        elif ir == CASCADE_IR and self._cascaded():
            sir = s.pending()
            if sir < 0:                      # spurious IRQ15; master IR2 still goes in service
                self.spurious += 1
                vector = s.base | 7
            else:
                s.ack(sir)
                vector = s.base + sir
            m.ack(CASCADE_IR)
            m.set_input(CASCADE_IR, False)   # INTA ends the slave's INT pulse (module doc)
        else:
            m.ack(ir)
            vector = m.base + ir
        self._update()
        return vector

    def irq_of_vector(self, vector: int) -> int | None:
        """The IRQ (0-15) whose vector is `vector` under the current ICW2 bases, or None."""
        if self.master.base <= vector < self.master.base + 8:
            return vector - self.master.base
        if self.slave.base <= vector < self.slave.base + 8:
            return 8 + vector - self.slave.base
        return None

    @property
    def irr(self) -> int: return self.master.irr | self.slave.irr << 8
    @property
    def isr(self) -> int: return self.master.isr | self.slave.isr << 8
    @property
    def imr(self) -> int: return self.master.imr | self.slave.imr << 8

    def _cascaded(self) -> bool:
        return not self.master.single and bool(self.master.icw3 & (1 << CASCADE_IR))

    def _update(self) -> None:
        """Propagate the slave's INT to master IR2, recompute INT, wake the owner."""
        self.master.set_input(CASCADE_IR, self.slave.pending() >= 0)
        intr = self.master.pending() >= 0
        rising = intr and not self._intr
        self._intr = intr
        if rising and self.on_intr is not None:
            self.on_intr()

    # -- port I/O ---------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        chip = self._decode(port, size)
        if chip.poll:                        # poll command: this read is an INTA
            chip.poll = False
            ir = chip.pending()
            if ir < 0:
                return 0
            chip.ack(ir)
            if chip is self.master and ir == CASCADE_IR:
                chip.set_input(CASCADE_IR, False)
            self._update()
            return 0x80 | ir
        return chip.read(port & 1)

    def io_write(self, port: int, size: int, value: int) -> None:
        chip = self._decode(port, size)
        masked = self.imr
        if port & 1:
            chip.write_data(value & 0xFF)
        else:
            chip.write_cmd(value & 0xFF)
        self._update()
        unmasked = masked & ~self.imr
        if unmasked and self._on_unmask:
            for irq in [i for i in self._on_unmask if unmasked & (1 << i)]:
                self._on_unmask.pop(irq)()

    def _decode(self, port: int, size: int) -> PIC8259:
        if size != 1:
            raise BadAccess(f"8259A port {port:#x} is 8-bit (got a {size}-byte access)")
        return self.master if port < 0xA0 else self.slave

    def describe(self) -> dict:
        d = super().describe()
        d.update(vector_base=[self.master.base, self.slave.base],
                 irr=self.irr, isr=self.isr, imr=self.imr, intr=self.intr)
        return d
