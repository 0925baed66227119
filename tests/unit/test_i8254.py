"""hw.i8254: the PIT's command byte, counts derived from the clock, and IRQ0 on time."""
import pytest

from hw.clock import Clock, VirtualClock
from hw.device import BadAccess, IrqLine
from hw.i8254 import FREQ, PIT
from hw.i8259 import PICPair
from hw.ports import PortBus


class FakeMachine:
    def __init__(self, clock):
        self.clock = clock


class Rig:
    """PortBus + PIT whose IRQ0 goes to a recorder, and optionally to a PIC pair."""

    def __init__(self, clock=None, pic=False):
        self.clock = clock or VirtualClock()
        self.bus = PortBus()
        self.edges = []                      # clock times of IRQ0 rising edges
        self.pit = PIT()
        self.pic = PICPair() if pic else None
        for d in [self.pit] + ([self.pic] if pic else []):
            for base, count in d.port_ranges:
                self.bus.register(d, base, count)
        self.line = IrqLine(0, self._sink, self.pic)
        self.pit.plugged(FakeMachine(self.clock), {0: self.line})

    def _sink(self, irq, level):
        if level:
            self.edges.append(self.clock.now())
        if self.pic is not None:
            self.pic.set_irq(irq, level)

    def program(self, command, divisor):
        self.bus.outb(0x43, command)
        self.bus.outb(0x40 + (command >> 6), divisor & 0xFF)
        self.bus.outb(0x40 + (command >> 6), divisor >> 8 & 0xFF)

    def latch_read(self, channel=0):
        self.bus.outb(0x43, channel << 6)
        return self.bus.inb(0x40 + channel) | self.bus.inb(0x40 + channel) << 8


def at_tick(d):
    """A clock time safely inside input-clock tick `d` (away from float rounding)."""
    return (d + 0.5) / FREQ


def test_nothing_is_scheduled_until_channel_0_is_programmed():
    r = Rig()
    assert r.clock.next_deadline() is None
    r.program(0xB4, 1000)                    # channel 2 (speaker) drives no IRQ
    assert r.clock.next_deadline() is None
    r.clock.advance(1.0)
    assert r.edges == []


@pytest.mark.parametrize("command", [0x34, 0x36])   # mode 2 rate generator, mode 3 square
def test_100hz_divisor_gives_exact_deterministic_edges(command):
    r = Rig()
    r.program(command, 11932)
    r.clock.advance(1.0)
    # 1193182 / 11932 = 99.998 Hz: edges at k * 11932 / FREQ, k = 1..99 within 1 s
    assert len(r.edges) == 99
    assert r.edges == [k * 11932 / FREQ for k in range(1, 100)]
    r.clock.advance(9.0)
    assert len(r.edges) == 10 * FREQ // 11932 == 999
    assert r.edges[-1] == pytest.approx(999 * 11932 / FREQ, abs=1e-12)   # no drift


def test_timer_irq_reaches_the_pic_as_vector_0x20():
    r = Rig(pic=True)
    for port, v in [(0x20, 0x11), (0x21, 0x20), (0x21, 4), (0x21, 1),
                    (0xA0, 0x11), (0xA1, 0x28), (0xA1, 2), (0xA1, 1), (0x21, 0xFE)]:
        r.bus.outb(port, v)
    r.program(0x34, 1193)                    # ~1000 Hz
    r.clock.advance(0.0005)
    assert not r.pic.intr
    r.clock.advance(0.0006)
    assert r.pic.intr and r.pic.inta() == 0x20
    r.bus.outb(0x20, 0x20)
    r.clock.advance(0.001)
    assert r.pic.inta() == 0x20


def test_a_masked_latched_irq0_sleeps_until_it_is_unmasked():
    r = Rig(pic=True)
    for port, v in [(0x20, 0x11), (0x21, 0x20), (0x21, 4), (0x21, 1),
                    (0xA0, 0x11), (0xA1, 0x28), (0xA1, 2), (0xA1, 1), (0x21, 0xFF)]:
        r.bus.outb(port, v)                  # IRQ0 masked
    r.program(0x34, 11932)                   # 100 Hz
    r.clock.advance(0.015)
    assert len(r.edges) == 1 and r.pic.irr & 1 and not r.pic.intr
    assert r.clock.next_deadline() is None   # the latch holds: nothing to schedule
    r.clock.advance(1.0)                     # now 1.015 s: edges 2..101 merge into IRR0
    assert len(r.edges) == 1 and r.pic.irr & 1
    r.bus.outb(0x21, 0xFE)                   # unmask: the latched request is delivered
    assert r.pic.intr and r.pic.inta() == 0x20
    r.bus.outb(0x20, 0x20)
    assert r.pit.missed == 100
    assert r.clock.next_deadline() == pytest.approx(102 * 11932 / FREQ)
    r.clock.advance(0.01)
    assert r.edges[1] == pytest.approx(102 * 11932 / FREQ) and r.pic.intr


def test_mode2_count_counts_down_from_the_divisor():
    r = Rig()
    r.program(0x34, 1000)
    assert r.latch_read() == 1000
    r.clock.advance(at_tick(1))
    assert r.latch_read() == 999
    r.clock.advance(at_tick(250) - r.clock.now())
    assert r.latch_read() == 750
    r.clock.advance(at_tick(1999) - r.clock.now())
    assert r.latch_read() == 1                # reloads after 1
    r.clock.advance(at_tick(2000) - r.clock.now())
    assert r.latch_read() == 1000


def test_mode3_count_decrements_by_two_twice_per_period():
    r = Rig()
    r.program(0x36, 1000)
    r.clock.advance(at_tick(100))
    assert r.latch_read() == 800
    r.clock.advance(at_tick(600) - r.clock.now())
    assert r.latch_read() == 800              # second half-period: reloaded at 500


def test_latch_freezes_the_value_until_both_bytes_are_read():
    r = Rig()
    r.program(0x34, 5000)
    r.clock.advance(at_tick(10))
    r.bus.outb(0x43, 0x00)
    r.clock.advance(at_tick(3000) - r.clock.now())
    r.bus.outb(0x43, 0x00)                   # a second latch is ignored until read
    assert r.bus.inb(0x40) | r.bus.inb(0x40) << 8 == 4990
    assert r.latch_read() == 2000


def test_unlatched_lohi_reads_alternate_lsb_then_msb():
    r = Rig()
    r.program(0x34, 0x1234)
    assert r.bus.inb(0x40) == 0x34
    assert r.bus.inb(0x40) == 0x12


def test_lsb_only_and_msb_only_access_modes():
    r = Rig()
    r.bus.outb(0x43, 0x14)                   # ch0, LSB only, mode 2
    r.bus.outb(0x40, 200)                    # one byte loads the count: 200
    assert r.bus.inb(0x40) == 200 and r.bus.inb(0x40) == 200
    r.clock.advance(at_tick(50))
    r.bus.outb(0x43, 0x00)
    assert r.bus.inb(0x40) == 150            # a latch of an LSB-only counter is one byte
    assert r.bus.inb(0x40) == 150            # and unlatched: the live count, same tick
    r.bus.outb(0x43, 0x24)                   # ch0, MSB only, mode 2
    t0 = r.clock.now()
    r.bus.outb(0x40, 0x10)                   # count 0x1000
    assert r.bus.inb(0x40) == 0x10
    r.edges.clear()
    r.clock.advance(0.1)
    assert r.edges == [t0 + k * 0x1000 / FREQ for k in range(1, int(0.1 * FREQ / 0x1000) + 1)]


def test_reload_zero_means_65536():
    r = Rig()
    r.program(0x34, 0)
    assert r.latch_read() == 0               # 65536 reads back as 0 in 16 bits
    r.clock.advance(at_tick(1))
    assert r.latch_read() == 65535
    r.clock.advance(1.0 - r.clock.now())
    assert len(r.edges) == FREQ // 65536 == 18


def test_mode0_one_shot_fires_once_and_counts_on_past_zero():
    r = Rig()
    r.program(0x30, 100)
    r.bus.outb(0x43, 0xE2)                   # read-back status of ch0
    assert r.bus.inb(0x40) & 0x80 == 0       # OUT low until terminal count
    r.clock.advance(1.0)
    assert r.edges == [100 / FREQ]
    assert r.pit.output(0) and r.clock.next_deadline() is None
    r2 = Rig()
    r2.program(0x30, 100)
    r2.clock.advance(at_tick(150))
    assert r2.latch_read() == (100 - 150) & 0xFFFF


def test_readback_status_reports_mode_access_and_null_count():
    r = Rig()
    r.bus.outb(0x43, 0x36)                   # ch0, lo/hi, mode 3
    r.bus.outb(0x43, 0xE2)
    assert r.bus.inb(0x40) == 0x40 | 0x80 | 0x30 | 3 << 1   # null count, OUT high
    r.bus.outb(0x40, 0x00)
    r.bus.outb(0x40, 0x10)
    r.bus.outb(0x43, 0xC2)                   # status and count
    assert r.bus.inb(0x40) == 0x80 | 0x30 | 3 << 1
    assert r.bus.inb(0x40) | r.bus.inb(0x40) << 8 == 0x1000


def test_bcd_counts_in_decimal_and_rejects_bad_digits():
    r = Rig()
    r.program(0x35, 0x1000)                  # BCD 1000
    r.clock.advance(at_tick(1))
    assert r.latch_read() == 0x0999
    r.clock.advance(1.0 - r.clock.now())
    assert len(r.edges) == FREQ // 1000
    r.bus.outb(0x43, 0x35)
    r.bus.outb(0x40, 0xA0)
    with pytest.raises(BadAccess, match="BCD"):
        r.bus.outb(0x40, 0x00)


def test_reprogramming_replaces_the_old_rate():
    r = Rig()
    r.program(0x34, 11932)
    r.clock.advance(0.5)
    r.program(0x34, 1193)
    t0 = r.clock.now()
    r.edges.clear()
    r.clock.advance(0.1)
    assert r.edges == [t0 + k * 1193 / FREQ for k in range(1, 101)]


def test_control_word_stops_channel_0_until_the_count_is_written():
    r = Rig()
    r.program(0x34, 1193)
    r.bus.outb(0x43, 0x34)
    r.clock.advance(1.0)
    assert r.edges == [] and r.clock.next_deadline() is None


def test_unplugged_cancels_timers():
    r = Rig()
    r.program(0x34, 1193)
    r.pit.unplugged()
    assert r.clock.next_deadline() is None
    r.clock.advance(1.0)
    assert r.edges == []


class ManualClock(Clock):
    """A clock that jumps: the owner's loop was away for a long time."""

    def __init__(self):
        super().__init__()
        self.t = 0.0

    def now(self):
        return self.t


def test_a_loop_far_behind_gets_one_coalesced_edge_not_a_burst():
    clock = ManualClock()
    r = Rig(clock)
    r.program(0x34, 11932)
    clock.t = 10.0                           # ten seconds late: ~1000 periods missed
    assert clock.run_due() == 1
    assert len(r.edges) == 1 and r.pit.missed == 998
    nxt = clock.next_deadline()
    assert nxt == 1000 * 11932 / FREQ and nxt > clock.t   # still on the original grid


def test_bad_accesses_are_refused_clearly():
    r = Rig()
    r.bus.outb(0x43, 0x34)
    r.bus.outb(0x40, 1)
    with pytest.raises(BadAccess, match="illegal"):
        r.bus.outb(0x40, 0)                  # count 1 in mode 2
    with pytest.raises(BadAccess, match="8-bit"):
        r.bus.outw(0x40, 0x1234)
    assert r.bus.inb(0x43) == 0xFF           # the command register is write-only
