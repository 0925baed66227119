"""hw.uart16550: register map, FIFOs, interrupt priorities, OUT2 gating, loopback, far end."""
import os
import select
import socket

import pytest

from hw.clock import VirtualClock
from hw.device import IrqLine
from hw.ports import PortBus
from hw.uart16550 import FIFO_DEPTH, UART16550

BASE, IRQ = 0x3F8, 4
RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = (BASE + i for i in (0, 1, 2, 3, 4, 5, 6, 7))
FCR = IIR


class Harness:
    """A stand-in machine: a port bus, a virtual clock, and IRQ lines that log levels."""

    def __init__(self):
        self.clock = VirtualClock()
        self.ports = PortBus()
        self.levels: list[tuple[int, bool]] = []

    def plug(self, dev):
        for base, count in dev.port_ranges:
            self.ports.register(dev, base, count)
        dev.plugged(self, {irq: IrqLine(irq, self._sink) for irq in dev.irqs})
        return dev

    def _sink(self, irq, level):
        self.levels.append((irq, level))

    def level(self, irq=IRQ):
        """The line's current level, as the PIC sees it."""
        seen = [lv for i, lv in self.levels if i == irq]
        return seen[-1] if seen else False


@pytest.fixture
def h():
    return Harness()


@pytest.fixture
def uart(h):
    u = h.plug(UART16550("com1", BASE, IRQ))
    yield u
    u.close()


def irq_on(h):
    """Interrupts through to the bus: OUT2 set (Linux writes 0x0B)."""
    h.ports.outb(MCR, 0x0B)


# -- register map --------------------------------------------------------------------------

def test_reset_values(h, uart):
    b = h.ports
    assert uart.port_ranges == ((BASE, 8),) and uart.irqs == (IRQ,)
    assert b.inb(IER) == 0 and b.inb(IIR) == 0x01 and b.inb(LCR) == 0 and b.inb(MCR) == 0
    assert b.inb(LSR) == 0x60                      # THRE | TEMT, no data
    assert b.inb(MSR) & 0xF0 == 0xB0               # far end: DCD, DSR, CTS up
    assert not h.levels


def test_scratch_lcr_mcr_read_back(h, uart):
    b = h.ports
    b.outb(SCR, 0x5A)
    b.outb(LCR, 0x1B)
    b.outb(MCR, 0xFF)
    assert (b.inb(SCR), b.inb(LCR), b.inb(MCR)) == (0x5A, 0x1B, 0x1F)   # MCR bits 7..5 are 0
    b.outb(IER, 0xFF)
    assert b.inb(IER) == 0x0F


def test_dlab_exposes_the_divisor_latch(h, uart):
    b = h.ports
    b.outb(LCR, 0x80)
    b.outb(RBR, 0x03)                   # 38400 baud
    b.outb(IER, 0x00)
    assert (b.inb(RBR), b.inb(IER)) == (0x03, 0x00)
    b.outb(LCR, 0x03)                   # 8N1, DLAB off: ports 0/1 are RBR/THR and IER again
    assert uart.divisor == 3 and b.inb(IER) == 0
    b.outb(RBR, ord("x"))
    assert uart.host_take() == b"x"
    assert uart.char_time() == pytest.approx(10 * 3 / 115200)


def test_xv6_setup_sequence_then_polled_io(h, uart):
    b = h.ports
    for port, v in ((FCR, 0), (LCR, 0x80), (RBR, 12), (IER, 0), (LCR, 0x03), (MCR, 0), (IER, 1)):
        b.outb(port, v)
    assert b.inb(LSR) != 0xFF
    b.inb(IIR)
    b.inb(RBR)
    for c in b"hi\n":
        assert b.inb(LSR) & 0x20
        b.outb(RBR, c)
    assert uart.host_take() == b"hi\n" and uart.host_take() == b""
    uart.host_feed(b"k")
    assert b.inb(LSR) & 1 and b.inb(RBR) == ord("k") and not b.inb(LSR) & 1
    assert not h.levels                 # xv6 leaves MCR.OUT2 clear: the PC board gates the IRQ


def test_wide_access_splits_into_byte_cycles(h, uart):
    h.ports.outb(LCR, 0x80)
    h.ports.outw(RBR, 0x0102)           # DLL then DLM
    assert uart.divisor == 0x0102 and h.ports.inw(RBR) == 0x0102


# -- FIFOs -------------------------------------------------------------------------------

def test_fifo_mode_holds_sixteen_then_overruns(h, uart):
    b = h.ports
    b.outb(FCR, 0x07)
    assert b.inb(IIR) & 0xC0 == 0xC0
    uart.host_feed(bytes(range(20)))
    assert b.inb(LSR) & 0x03 == 0x03    # DR and OE
    assert b.inb(LSR) & 0x02 == 0       # reading LSR cleared OE
    assert [b.inb(RBR) for _ in range(FIFO_DEPTH)] == list(range(16))
    assert not b.inb(LSR) & 1


def test_non_fifo_overrun_overwrites_rbr(h, uart):
    uart.host_feed(b"ab")
    assert h.ports.inb(LSR) & 0x03 == 0x03
    assert h.ports.inb(RBR) == ord("b") and not h.ports.inb(LSR) & 1


def test_fifo_reset_bits_and_disabling_clear_it(h, uart):
    b = h.ports
    b.outb(FCR, 0x01)
    uart.host_feed(b"abc")
    b.outb(FCR, 0x03)                   # clear RX
    assert not b.inb(LSR) & 1
    uart.host_feed(b"abc")
    b.outb(FCR, 0x00)                   # FIFO off empties both FIFOs
    assert not b.inb(LSR) & 1 and b.inb(IIR) & 0xC0 == 0


@pytest.mark.parametrize("fcr,trigger", [(0x01, 1), (0x41, 4), (0x81, 8), (0xC1, 14)])
def test_rx_trigger_levels(h, uart, fcr, trigger):
    b = h.ports
    irq_on(h)
    b.outb(FCR, fcr)
    b.outb(IER, 0x01)
    if trigger > 1:
        uart.host_feed(bytes(trigger - 1))
        assert b.inb(IIR) == 0xC1 and not h.level()
    uart.host_feed(b"x")
    assert b.inb(IIR) == 0xC4 and h.level()


def test_character_timeout_after_four_char_times(h, uart):
    b = h.ports
    irq_on(h)
    b.outb(FCR, 0xC1)                   # trigger 14
    b.outb(IER, 0x01)
    uart.host_feed(b"ab")
    assert b.inb(IIR) == 0xC1
    t = uart.char_time()
    h.clock.advance(3.9 * t)
    assert b.inb(IIR) == 0xC1 and not h.level()
    h.clock.advance(0.2 * t)
    assert b.inb(IIR) == 0xCC and h.level()
    assert b.inb(RBR) == ord("a")       # a read clears the timeout and re-arms it
    assert b.inb(IIR) == 0xC1 and not h.level()
    h.clock.advance(4 * t)
    assert b.inb(IIR) == 0xCC
    b.inb(RBR)
    h.clock.advance(10 * t)
    assert b.inb(IIR) == 0xC1           # empty FIFO: no timeout


# -- interrupts --------------------------------------------------------------------------

def test_thre_interrupt_raise_and_clear(h, uart):
    b = h.ports
    irq_on(h)
    b.outb(IER, 0x02)                   # THR is empty: interrupts at once
    assert h.level() and b.inb(IIR) == 0x02
    assert not h.level() and b.inb(IIR) == 0x01      # reading IIR acknowledged it
    h.levels.clear()
    b.outb(RBR, ord("a"))               # the byte leaves at once: a fresh THRE edge
    assert h.levels == [(IRQ, True)]
    h.levels.clear()
    b.outb(RBR, ord("b"))
    assert h.levels == [(IRQ, False), (IRQ, True)]   # writing THR cleared it, then re-raised
    assert b.inb(IIR) == 0x02
    b.outb(IER, 0x00)
    assert not h.level() and b.inb(IIR) == 0x01


def test_iir_priority_order(h, uart):
    b = h.ports
    irq_on(h)
    b.outb(IER, 0x0F)
    uart.host_modem(cts=False)          # modem status change
    assert b.inb(IIR) == 0x02           # THRE beats MSI
    assert b.inb(IIR) == 0x00           # ... then modem status (IIR read cleared THRE)
    uart.host_feed(b"a")
    assert b.inb(IIR) == 0x04           # received data beats MSI
    uart.host_feed(b"b")                # overrun: receiver line status, highest
    assert b.inb(IIR) == 0x06
    b.inb(LSR)
    assert b.inb(IIR) == 0x04
    b.inb(RBR)
    assert b.inb(IIR) == 0x00
    assert b.inb(MSR) & 0x11 == 0x01    # delta CTS, CTS now low
    assert b.inb(IIR) == 0x01 and not h.level()


def test_break_sets_bi_and_a_nul(h, uart):
    irq_on(h)
    h.ports.outb(IER, 0x04)
    uart.host_break()
    assert h.ports.inb(IIR) == 0x06 and h.ports.inb(LSR) & 0x11 == 0x11
    assert h.ports.inb(RBR) == 0 and h.ports.inb(IIR) == 0x01


def test_out2_gates_the_irq_line(h, uart):
    b = h.ports
    b.outb(IER, 0x01)
    uart.host_feed(b"a")
    assert b.inb(IIR) == 0x04 and not h.levels      # pending, but OUT2 is clear
    b.outb(MCR, 0x08)
    assert h.level()
    b.outb(MCR, 0x03)
    assert not h.level()


def test_out2_gating_can_be_turned_off():
    h = Harness()
    u = h.plug(UART16550("com2", 0x2F8, 3, out2_gates_irq=False))
    h.ports.outb(0x2F9, 0x01)
    u.host_feed(b"a")
    assert h.level(3)


def test_unplug_lowers_the_line_and_drops_the_timer(h, uart):
    irq_on(h)
    h.ports.outb(FCR, 0xC1)
    h.ports.outb(IER, 0x03)
    uart.host_feed(b"a")
    assert h.level()
    uart.unplugged()
    assert not h.level() and h.clock.next_deadline() is None


# -- loopback ----------------------------------------------------------------------------

def test_loopback_echoes_and_mirrors_modem_lines(h, uart):
    b = h.ports
    b.outb(MCR, 0x10)                   # Linux's probe: LOOP with everything off
    assert b.inb(MSR) & 0xF0 == 0x00
    b.outb(MCR, 0x1A)                   # LOOP | OUT2 | RTS
    assert b.inb(MSR) & 0xF0 == 0x90    # CTS and DCD
    b.outb(MCR, 0x15)                   # LOOP | OUT1 | DTR
    assert b.inb(MSR) == 0x6B           # DSR, RI; deltas for CTS, DSR, DCD (RI rose: no TERI)
    b.outb(MCR, 0x11)
    assert b.inb(MSR) & 0x4F == 0x04    # RI's trailing edge
    b.outb(RBR, 0x55)
    assert uart.host_take() == b"" and b.inb(RBR) == 0x55
    uart.host_feed(b"zz")               # the receiver is disconnected from the line
    assert not b.inb(LSR) & 1
    b.outb(MCR, 0x0B)
    assert b.inb(MSR) & 0xF0 == 0xB0


def test_loopback_interrupts_stay_off_the_bus(h, uart):
    h.ports.outb(MCR, 0x18)
    h.ports.outb(IER, 0x01)
    h.ports.outb(RBR, 1)
    assert h.ports.inb(IIR) == 0x04 and not h.levels


# -- the far end --------------------------------------------------------------------------

def test_on_tx_listener_and_flow_controlled_feed(h, uart):
    heard = []
    uart.on_tx = heard.append
    h.ports.outb(RBR, ord("q"))
    assert heard == [b"q"]
    h.ports.outb(FCR, 0x01)
    uart.host_feed(bytes(range(40)), flow_control=True)
    assert not h.ports.inb(LSR) & 0x02
    assert bytes(h.ports.inb(RBR) for _ in range(40)) == bytes(range(40))
    assert not h.ports.inb(LSR) & 1


def pump(uart, timeout=2.0):
    """The owner's loop, once: wait for the host fd and run its callback."""
    (fd, cb), = uart.poll_sources()
    r, _, _ = select.select([fd], [], [], timeout)
    assert r, "host endpoint never became readable"
    cb()


def read_exactly(fd, n, timeout=2.0):
    out = b""
    while len(out) < n:
        r, _, _ = select.select([fd], [], [], timeout)
        assert r, f"got {out!r}, wanted {n} bytes"
        out += os.read(fd, n - len(out))
    return out


def test_real_pty_both_directions(h, uart):
    path = uart.attach_pty()
    assert path.startswith("/dev/") and uart.describe()["pty"] == path
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        h.ports.outb(FCR, 0x01)
        os.write(fd, b"ls\r")
        got = b""
        while len(got) < 3:
            pump(uart)
            while h.ports.inb(LSR) & 1:
                got += bytes((h.ports.inb(RBR),))
        assert got == b"ls\r"           # raw mode: no CR translation, no echo
        for c in b"ok\n":
            h.ports.outb(RBR, c)
        assert read_exactly(fd, 3) == b"ok\n"
    finally:
        os.close(fd)
    uart.detach_host()
    assert uart.poll_sources() == [] and uart.pty_path is None


def test_a_paste_larger_than_the_backlog_waits_in_the_host(h, uart):
    """Nothing lost: with the backlog full the UART leaves poll_sources() and stops
    reading the pty, so the writer waits; as the driver reads, it comes back."""
    import threading
    from hw.uart16550 import BACKLOG_MAX
    changes = []
    h.on_sources_changed = lambda: changes.append(bool(uart.poll_sources()))
    path = uart.attach_pty()
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    data = bytes(i * 7 % 251 for i in range(3 * BACKLOG_MAX))
    writer = threading.Thread(target=lambda: os.write(fd, data) and None, daemon=True)
    try:
        h.ports.outb(FCR, 0x01)
        writer.start()
        while uart.poll_sources():              # nobody reads RBR: the backlog fills
            pump(uart)
        assert changes == [False] and uart.rx_dropped == 0
        assert writer.is_alive()                # the rest waits in the host's pty
        got = bytearray()
        while len(got) < len(data):
            while h.ports.inb(LSR) & 1:
                got.append(h.ports.inb(RBR))
            for src, cb in uart.poll_sources():
                if select.select([src], [], [], 0.01)[0]:
                    cb()
        assert got == data and uart.rx_dropped == 0
        assert changes[:2] == [False, True] and not writer.join(5) and not writer.is_alive()
    finally:
        os.close(fd)


def test_socket_far_end_and_hangup(h, uart):
    ours, theirs = socket.socketpair()
    uart.attach_socket(ours)
    try:
        h.ports.outb(RBR, ord("A"))
        assert theirs.recv(16) == b"A"
        theirs.sendall(b"xyz")
        h.ports.outb(FCR, 0x01)
        pump(uart)
        assert bytes(h.ports.inb(RBR) for _ in range(3)) == b"xyz"
        theirs.close()
        pump(uart)                      # EOF: the UART lets go of the socket
        assert uart.poll_sources() == [] and ours.fileno() == -1
    finally:
        theirs.close()
