"""The 16550A UART (COM1 0x3F8 IRQ4, COM2 0x2F8 IRQ3): registers, FIFOs, interrupts.

A driver sees the whole register map: RBR/THR, IER, IIR/FCR, LCR with the divisor latch,
MCR with loopback, LSR, MSR and the scratch register, 16-byte FIFOs with trigger levels
and the character timeout, and the IIR priority scheme of the PC16550D datasheet (rules
as in QEMU's `serial_update_irq`). On a PC the chip's interrupt output reaches the ISA
bus only while MCR.OUT2 is set, so the IRQ line here is gated the same way.

Transmit is instant: a byte written to THR leaves at once, so LSR.THRE and TEMT always
read 1 and every THR write ends in a fresh THR-empty interrupt (an edge per byte when
IER.THRI is set). Receive time is real: in FIFO mode the character timeout fires after
four character times of the programmed line speed on `machine.clock`.

The far end of the cable: `host_break` and `host_modem` drive the line's break and modem
signals here; the bytes' way to and from the host (`host_feed`, `host_take`, `on_tx`, the
flow-controlled backlog, a pty or socket behind the port, `poll_sources()`) lives in
`hw.uart_endpoint`, mixed in, its constants re-exported here.
"""
from __future__ import annotations

import socket
from collections import deque
from typing import Callable

from .device import Device
from .uart_endpoint import BACKLOG_MAX, OUT_MAX, TX_KEEP, HostEndpoint

__all__ = ["UART16550", "FIFO_DEPTH", "BAUD_BASE", "BACKLOG_MAX", "OUT_MAX", "TX_KEEP"]

# Register offsets from the base port (PC16550D datasheet, table II).
RBR = THR = DLL = 0
IER = DLM = 1
IIR = FCR = 2
LCR, MCR, LSR, MSR, SCR = 3, 4, 5, 6, 7
IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 0x01, 0x02, 0x04, 0x08
IIR_NONE, IIR_MSI, IIR_THRE, IIR_RDA, IIR_RLS, IIR_CTI = 0x01, 0x00, 0x02, 0x04, 0x06, 0x0C
IIR_FIFO = 0xC0
FCR_ENABLE, FCR_CLEAR_RX, FCR_CLEAR_TX = 0x01, 0x02, 0x04
FCR_KEEP = 0xC9                  # enable, DMA mode, trigger; the clear bits self-clear
TRIGGER = (1, 4, 8, 14)          # FCR bits 7..6
LCR_DLAB = 0x80
MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 0x01, 0x02, 0x04, 0x08, 0x10
LSR_DR, LSR_OE, LSR_BI, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x10, 0x20, 0x40   # PE, FE unused
MSR_DCTS, MSR_DDSR, MSR_TERI, MSR_DDCD = 0x01, 0x02, 0x04, 0x08
MSR_CTS, MSR_DSR, MSR_RI, MSR_DCD = 0x10, 0x20, 0x40, 0x80

FIFO_DEPTH = 16
BAUD_BASE = 115200               # 1.8432 MHz crystal / 16: baud = BAUD_BASE / divisor


class UART16550(HostEndpoint, Device):
    """A 16550A on the ISA bus; `out2_gates_irq=False` gives QEMU's ungated IRQ."""

    def __init__(self, name: str, base: int, irq: int, out2_gates_irq: bool = True):
        super().__init__()
        self.name, self.base, self.irq = name, base, irq
        self.port_ranges, self.irqs = ((base, 8),), (irq,)
        self.out2_gates_irq = out2_gates_irq
        self.on_tx: Callable[[bytes], None] | None = None
        self.pty_path: str | None = None
        self.rx_dropped = self.tx_dropped = 0   # host bytes lost: backlog full / far end stuck
        self._rx: deque[int] = deque()
        self._backlog, self._tx_log, self._out = bytearray(), bytearray(), bytearray()
        self._fd: int | None = None                 # the far end: pty master or socket
        self._slave_fd: int | None = None           # our hold on the pty slave
        self._sock: socket.socket | None = None
        self._paused = False                        # backlog full: the far end is not read
        self.reset()

    def reset(self) -> None:
        """Master reset (PC16550D table IV); the far end keeps CTS, DSR and DCD up."""
        self.cancel_timer()
        self.ier = self.lcr = self.mcr = self.fcr = self.scr = 0
        self.divisor = 12                                    # 9600 baud
        self._lsr_err = self._last_rbr = 0
        self.msr = self._ext_lines = MSR_CTS | MSR_DSR | MSR_DCD
        self._rx.clear()
        self._thr_ipending = self._timeout_ipending = False
        self._update_irq()

    # -- lifecycle ----------------------------------------------------------------------

    def unplugged(self) -> None:
        """Drop the timeout timer; an attached host endpoint stays until `close()`."""
        self.cancel_timer()
        super().unplugged()

    def close(self) -> None:
        self.cancel_timer()
        self.detach_host()

    def describe(self) -> dict:
        return {**super().describe(), "pty": self.pty_path, "socket": self._sock is not None,
                "backlog": len(self._backlog), "reading": self._fd is not None and not self._paused,
                "rx_dropped": self.rx_dropped, "tx_dropped": self.tx_dropped}

    # -- port I/O -----------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        """A wider access is split into byte cycles on consecutive ports (8-bit ISA card)."""
        value = 0
        for i in range(size):
            off = port + i - self.base
            value |= (self._read(off) if 0 <= off < 8 else 0xFF) << (8 * i)
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        for i in range(size):
            if 0 <= (off := port + i - self.base) < 8:
                self._write(off, value >> (8 * i) & 0xFF)

    def _read(self, off: int) -> int:
        dlab = self.lcr & LCR_DLAB
        if off == RBR:
            return self.divisor & 0xFF if dlab else self._read_rbr()
        if off == IER:
            return self.divisor >> 8 if dlab else self.ier
        if off == IIR:
            iir = self._iir()
            if iir == IIR_THRE:             # reading IIR acknowledges a THR-empty interrupt
                self._thr_ipending = False
                self._update_irq()
            return iir | (IIR_FIFO if self.fcr & FCR_ENABLE else 0)
        if off == LSR:
            value = self.lsr
            self._lsr_err = 0               # reading LSR clears OE, PE, FE and BI
            self._update_irq()
            return value
        if off == MSR:
            value = self.msr
            self.msr &= 0xF0                # and reading MSR clears the delta bits
            self._update_irq()
            return value
        return {LCR: self.lcr, MCR: self.mcr}.get(off, self.scr)

    def _write(self, off: int, v: int) -> None:
        if self.lcr & LCR_DLAB and off in (DLL, DLM):
            keep = 0xFF00 if off == DLL else 0x00FF
            self.divisor = self.divisor & keep | v << (8 * off)
        elif off == THR:
            self._transmit(v)
        elif off == IER:
            changed = (self.ier ^ v) & 0x0F
            self.ier = v & 0x0F
            if changed & IER_THRI:          # enabling THRI with THR empty interrupts at once
                self._thr_ipending = bool(self.ier & IER_THRI)
            self._update_irq()
        elif off == FCR:
            self._write_fcr(v)
        elif off == LCR:
            self.lcr = v
        elif off == MCR:
            self.mcr = v & 0x1F
            self._set_modem_lines(self._loop_lines() if self.loopback else self._ext_lines)
            self._refill()
            self._update_irq()
        elif off == SCR:
            self.scr = v
        # LSR and MSR writes are factory-test only: ignored

    def _write_fcr(self, v: int) -> None:
        # FCR bit 1 clears the RX FIFO, and so does toggling FIFO mode (TX is always empty)
        if v & FCR_CLEAR_RX or (v ^ self.fcr) & FCR_ENABLE:
            self._rx.clear()
            self._timeout_ipending = False
            self.cancel_timer()
        # FCR0 must be set for the other bits to be programmed (datasheet, FCR)
        self.fcr = v & FCR_KEEP if v & FCR_ENABLE else 0
        self._refill()
        self._update_irq()

    # -- derived state ------------------------------------------------------------------

    @property
    def loopback(self) -> bool:
        return bool(self.mcr & MCR_LOOP)

    @property
    def lsr(self) -> int:
        """Line status: THRE and TEMT always set, as transmit is instant."""
        return self._lsr_err | (LSR_DR if self._rx else 0) | LSR_THRE | LSR_TEMT

    def _depth(self) -> int:
        return FIFO_DEPTH if self.fcr & FCR_ENABLE else 1

    def _iir(self) -> int:
        """The highest-priority pending source (PC16550D table IV, QEMU's order)."""
        ier = self.ier
        if ier & IER_RLSI and self._lsr_err:
            return IIR_RLS
        if ier & IER_RDI and self._timeout_ipending:
            return IIR_CTI
        if ier & IER_RDI and self._rx and (
                not self.fcr & FCR_ENABLE or len(self._rx) >= TRIGGER[self.fcr >> 6]):
            return IIR_RDA
        if ier & IER_THRI and self._thr_ipending:
            return IIR_THRE
        if ier & IER_MSI and self.msr & 0x0F:
            return IIR_MSI
        return IIR_NONE

    def _update_irq(self) -> None:
        line = self.irq_lines.get(self.irq)
        if line is None:
            return
        # OUT2 drives the PC's IRQ buffer enable; loopback forces OUT2 inactive (datasheet)
        gated = self.out2_gates_irq and (not self.mcr & MCR_OUT2 or self.loopback)
        line.set(self._iir() != IIR_NONE and not gated)

    def char_time(self) -> float:
        """Seconds one character takes on the wire at the programmed speed and format."""
        data = 5 + (self.lcr & 3)
        stop = 1 if not self.lcr & 4 else (1.5 if data == 5 else 2)
        bits = 1 + data + (1 if self.lcr & 0x08 else 0) + stop
        return bits * max(self.divisor, 1) / BAUD_BASE

    # -- the data paths -----------------------------------------------------------------

    def _transmit(self, v: int) -> None:
        self._thr_ipending = False
        self._update_irq()                  # a THRE-only IRQ drops here ...
        if self.loopback:
            self._receive(v)                # ... the shift register feeds the receiver
        else:
            self._emit(bytes((v,)))
        self._thr_ipending = True           # ... and THR is empty again: a new edge
        self._update_irq()

    def _read_rbr(self) -> int:
        if self._rx:
            self._last_rbr = self._rx.popleft()
        self._timeout_ipending = False
        self._refill()
        self._arm_timeout()                 # restarts the timeout while data remains
        self._update_irq()
        return self._last_rbr

    def _receive(self, byte: int) -> None:
        """One character from the wire into the receiver (caller updates the IRQ)."""
        if len(self._rx) >= self._depth():
            self._lsr_err |= LSR_OE
            if not self.fcr & FCR_ENABLE:   # 16450 mode: the new character overwrites RBR
                self._rx[-1] = byte
        else:
            self._rx.append(byte)
        self._arm_timeout()

    def _arm_timeout(self) -> None:
        """FIFO mode character timeout: 4 character times with no read and no new data."""
        self.cancel_timer()
        if self.machine is not None and self._rx and self.fcr & FCR_ENABLE:
            self._timer = self.machine.clock.call_later(4 * self.char_time(), self._on_timeout)

    def _on_timeout(self) -> None:
        self._timer = None
        if self._rx and self.fcr & FCR_ENABLE:
            self._timeout_ipending = True
            self._update_irq()

    def _loop_lines(self) -> int:
        """Loopback wiring: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD."""
        m = self.mcr
        return (m & MCR_DTR) << 5 | (m & MCR_RTS) << 3 | (m & (MCR_OUT1 | MCR_OUT2)) << 4

    def _set_modem_lines(self, lines: int) -> None:
        """New CTS/DSR/RI/DCD levels; each change sets its delta bit (RI: falling only)."""
        changed = (self.msr ^ lines) & 0xF0
        delta = changed >> 4 & (MSR_DCTS | MSR_DDSR | MSR_DDCD)   # bit n+4 -> delta bit n
        if changed & MSR_RI and not lines & MSR_RI:
            delta |= MSR_TERI
        self.msr = lines | (self.msr & 0x0F) | delta

    # -- the line's signals from the far end --------------------------------------------

    def host_break(self) -> None:
        """A break on the line: a NUL character with LSR.BI (reported at once)."""
        if not self.loopback:
            self._receive(0)
            self._lsr_err |= LSR_BI
            self._update_irq()

    def host_modem(self, cts: bool | None = None, dsr: bool | None = None,
                   ri: bool | None = None, dcd: bool | None = None) -> None:
        """Change the far end's modem lines; the MSR sees them unless in loopback."""
        for bit, on in ((MSR_CTS, cts), (MSR_DSR, dsr), (MSR_RI, ri), (MSR_DCD, dcd)):
            if on is not None:
                self._ext_lines = self._ext_lines | bit if on else self._ext_lines & ~bit
        if not self.loopback:
            self._set_modem_lines(self._ext_lines)
            self._update_irq()
