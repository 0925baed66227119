"""hw.rtc: the MC146818 CMOS clock: time from the host in UTC, registers A-D, IRQ8, RAM."""
import calendar

import pytest

from hw.clock import VirtualClock
from hw.device import BadAccess, IrqLine
from hw.i8259 import PICPair
from hw.ports import PortBus
from hw.rtc import RTC

# Thursday 29 February 2024, 13:45:30.25 UTC
T0 = calendar.timegm((2024, 2, 29, 13, 45, 30)) + 0.25


class FakeMemory:
    size = 16 << 20


class FakeMachine:
    def __init__(self, clock, memory=None):
        self.clock = clock
        if memory is not None:
            self.memory = memory


class Rig:
    """PortBus + PIC pair + RTC, IRQ8 wired to the PIC; the host wall clock is `self.now`."""

    def __init__(self, memory=None):
        self.clock = VirtualClock()
        self.now = T0
        self.bus = PortBus()
        self.pic = PICPair()
        self.rtc = RTC(wall=lambda: self.now)
        self.edges = []
        for d in (self.pic, self.rtc):
            for base, count in d.port_ranges:
                self.bus.register(d, base, count)
        machine = FakeMachine(self.clock, memory)
        self.pic.plugged(machine, {})
        self.line = IrqLine(8, self._sink)
        self.rtc.plugged(machine, {8: self.line})

    def _sink(self, irq, level):
        if level:
            self.edges.append(self.clock.now())
        self.pic.set_irq(irq, level)

    def read(self, reg):
        self.bus.outb(0x70, reg)
        return self.bus.inb(0x71)

    def write(self, reg, value):
        self.bus.outb(0x70, reg)
        self.bus.outb(0x71, value)


@pytest.fixture
def rig():
    return Rig()


def clock_regs(r):
    return [r.read(reg) for reg in (0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32)]


# -- time and date -----------------------------------------------------------------------

def test_reset_registers_and_bcd_24h_time_from_the_host_in_utc(rig):
    assert rig.read(0x0A) == 0x26 and rig.read(0x0B) == 0x02 and rig.read(0x0D) == 0x80
    assert clock_regs(rig) == [0x30, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20]


def test_binary_mode_per_register_b(rig):
    rig.write(0x0B, 0x06)
    assert clock_regs(rig) == [30, 45, 13, 5, 29, 2, 24, 20]


@pytest.mark.parametrize("hour,bcd,binary", [(13, 0x81, 0x81), (0, 0x12, 12),
                                             (12, 0x92, 0x8C), (11, 0x11, 11)])
def test_12_hour_mode_sets_bit7_for_pm(rig, hour, bcd, binary):
    rig.now = calendar.timegm((2024, 2, 29, hour, 0, 0))
    rig.write(0x0B, 0x00)
    assert rig.read(0x04) == bcd
    rig.write(0x0B, 0x04)
    assert rig.read(0x04) == binary


def test_time_is_read_at_read_time(rig):
    rig.now += 1.0
    assert rig.read(0x00) == 0x31
    rig.now = calendar.timegm((2099, 12, 31, 23, 59, 59)) + 1   # Friday 1 Jan 2100
    assert clock_regs(rig) == [0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x21]


def test_uip_is_set_only_in_the_last_244us_of_a_second(rig):
    assert not rig.read(0x0A) & 0x80
    rig.now = calendar.timegm((2024, 2, 29, 0, 0, 0)) - 100e-6
    assert rig.read(0x0A) == 0x80 | 0x26


def test_set_bit_freezes_time_and_applies_the_new_date_when_cleared(rig):
    rig.write(0x0B, 0x82)                    # SET, BCD, 24 h
    for reg, v in [(0x00, 0x00), (0x02, 0x30), (0x04, 0x08),
                   (0x07, 0x15), (0x08, 0x06), (0x09, 0x99), (0x32, 0x19)]:
        rig.write(reg, v)
    rig.now += 5
    assert clock_regs(rig) == [0x00, 0x30, 0x08, 0x03, 0x15, 0x06, 0x99, 0x19]  # frozen
    assert not rig.read(0x0A) & 0x80
    rig.write(0x0B, 0x02)
    assert rig.read(0x00) == 0x00
    rig.now += 61
    assert clock_regs(rig) == [0x01, 0x31, 0x08, 0x03, 0x15, 0x06, 0x99, 0x19]


def test_a_write_without_set_takes_effect_at_once(rig):
    rig.write(0x04, 0x02)                    # 02:45:30
    assert rig.read(0x04) == 0x02 and rig.read(0x02) == 0x45
    rig.now += 3600
    assert rig.read(0x04) == 0x03


def test_bad_time_writes_are_refused_clearly(rig):
    with pytest.raises(BadAccess, match="BCD"):
        rig.write(0x00, 0x5A)
    with pytest.raises(BadAccess, match="outside"):
        rig.write(0x08, 0x13)
    rig.write(0x0B, 0x82)
    rig.write(0x08, 0x00)                    # under SET: collected, checked at the end
    with pytest.raises(BadAccess, match="outside"):
        rig.write(0x0B, 0x02)
    assert rig.read(0x0B) & 0x80             # SET stays on until the date is valid
    rig.write(0x08, 0x03)
    rig.write(0x0B, 0x02)
    assert rig.read(0x08) == 0x03


# -- registers C/D and the periodic interrupt --------------------------------------------------

def test_periodic_interrupt_at_1024hz_needs_register_c_read_each_time(rig):
    rig.write(0x0B, 0x42)                    # PIE
    rig.clock.advance(1.0)
    assert rig.edges == [1 / 1024]           # IRQ8 stays high until C is read
    assert rig.read(0x0C) == 0xC0            # IRQF | PF
    assert not rig.line.level
    assert rig.read(0x0C) == 0x00
    rig.edges.clear()
    for _ in range(1024):
        rig.clock.advance(1 / 1024)
        rig.read(0x0C)
    assert len(rig.edges) == 1024
    assert rig.edges[1] - rig.edges[0] == 1 / 1024


def test_periodic_interrupt_reaches_the_slave_pic_as_irq8(rig):
    for port, v in [(0x20, 0x11), (0x21, 0x20), (0x21, 4), (0x21, 1), (0xA0, 0x11),
                    (0xA1, 0x28), (0xA1, 2), (0xA1, 1), (0x21, 0xFB), (0xA1, 0xFE)]:
        rig.bus.outb(port, v)
    rig.write(0x0B, 0x42)
    rig.clock.advance(0.001)
    assert rig.pic.intr and rig.pic.inta() == 0x28
    rig.read(0x0C)
    rig.bus.outb(0xA0, 0x20)
    rig.bus.outb(0x20, 0x20)
    rig.clock.advance(0.001)
    assert rig.pic.inta() == 0x28


@pytest.mark.parametrize("rate,hz", [(0x0F, 2), (0x0A, 64), (0x03, 8192), (0x01, 256)])
def test_rate_select_in_register_a(rig, rate, hz):
    rig.write(0x0A, 0x20 | rate)
    rig.write(0x0B, 0x42)
    for _ in range(hz):
        rig.clock.advance(1 / hz)
        rig.read(0x0C)
    assert len(rig.edges) == hz


def test_rate_0_or_divider_reset_stops_the_periodic_interrupt(rig):
    rig.write(0x0A, 0x20)
    rig.write(0x0B, 0x42)
    assert rig.clock.next_deadline() is None
    rig.write(0x0A, 0x76)                    # DV = 111: divider held in reset
    rig.clock.advance(1.0)
    assert rig.edges == [] and rig.read(0x0C) == 0


def test_pf_is_set_without_pie_but_no_irq_and_no_timer(rig):
    assert rig.clock.next_deadline() is None
    rig.clock.advance(0.01)
    assert rig.read(0x0C) == 0x40            # PF, no IRQF
    assert rig.read(0x0C) == 0x00
    assert rig.edges == []


def test_clearing_pie_drops_a_pending_irq8(rig):
    rig.write(0x0B, 0x42)
    rig.clock.advance(0.002)
    assert rig.line.level
    rig.write(0x0B, 0x02)
    assert not rig.line.level and rig.clock.next_deadline() is None


def test_registers_c_and_d_ignore_writes_and_a_keeps_uip_read_only(rig):
    rig.write(0x0D, 0x00)
    rig.write(0x0C, 0xFF)
    assert rig.read(0x0D) == 0x80 and rig.read(0x0C) == 0x00
    rig.write(0x0A, 0xA6)
    assert rig.read(0x0A) == 0x26


def test_unplugged_cancels_the_periodic_timer(rig):
    rig.write(0x0B, 0x42)
    assert rig.clock.next_deadline() is not None
    rig.rtc.unplugged()
    assert rig.clock.next_deadline() is None and not rig.line.level


# -- CMOS RAM ----------------------------------------------------------------------------

def test_fifty_bytes_of_ram_read_back_and_the_index_ignores_nmi_and_aliases(rig):
    regs = [r for r in range(0x0E, 0x40) if r != 0x32]
    assert len(regs) + 1 == 50               # plus the century byte, which is the clock
    for r in regs:
        rig.write(r, (r * 7 + 3) & 0xFF)
    for r in regs:
        assert rig.read(r) == (r * 7 + 3) & 0xFF
    assert rig.read(0x80 | 0x10) == (0x10 * 7 + 3) & 0xFF   # bit 7 = NMI disable
    assert rig.rtc.nmi_disabled
    assert rig.read(0x50) == rig.read(0x10)  # 64-byte chip: 0x40-0x7F alias
    rig.write(0x01, 0x59)                    # alarm seconds: plain storage
    assert rig.read(0x01) == 0x59
    assert rig.bus.inb(0x70) == 0xFF


def test_memory_size_bytes_and_checksum_are_filled_at_plug_time():
    r = Rig(memory=FakeMemory())
    assert r.read(0x15) | r.read(0x16) << 8 == 640
    assert r.read(0x17) | r.read(0x18) << 8 == 15 * 1024
    assert r.read(0x30) | r.read(0x31) << 8 == 15 * 1024
    total = sum(r.read(i) for i in range(0x10, 0x2E))
    assert r.read(0x2E) << 8 | r.read(0x2F) == total


def test_ports_are_8_bit(rig):
    with pytest.raises(BadAccess, match="8-bit"):
        rig.bus.outw(0x70, 0x000A)
