"""drivers.timer without a node: the PIT programming, the clock source (CRT over
channels 1 and 2, checked by channel 0) against the 8254 model on a virtual clock, and
the sleepers' heap."""
import random

from drivers.protocol import E_INVAL, NOW, OK, SLEEP
from drivers.timer import DIVISOR, FREQ, Clock, Pit, TimerService
from hw.clock import VirtualClock
from hw.i8254 import PIT
from hw.ports import PortBus


class FakeMachine:
    def __init__(self, clock):
        self.clock = clock


class PortRt:
    """The part of `rt` the timer uses, straight onto a port bus."""

    def __init__(self, bus):
        self.inb, self.outb = bus.inb, bus.outb


def rig(start=12.345678):
    clock = VirtualClock()
    clock.advance(start)                      # load times with awkward fractions
    bus, pit = PortBus(), PIT()
    bus.register(pit, 0x40, 4)
    pit.plugged(FakeMachine(clock), {})
    p = Pit(PortRt(bus))
    p.program()
    return clock, p


def test_program_sets_mode_2_at_100_hz():
    clock, p = rig()
    assert p.rt.inb is not None
    e0, e1, e2 = p.phases()
    assert e0 < DIVISOR and e1 < 0xFFFF and e2 < 0x10000


def test_clock_follows_the_pit_across_gaps_of_any_size():
    clock, p = rig()
    c = Clock(p.phases)
    rnd = random.Random(7)
    total = 0.0
    for _ in range(400):
        gap = rnd.choice([0.0004, 0.003, 0.0099, 0.05, 0.0549, 0.06, 0.7, 3.3, 55.0, 1000.0])
        clock.advance(gap)
        total += gap
        got = c.read()
        assert abs(got - total * FREQ) <= 3, (gap, got, total * FREQ)


def test_sleepers_wake_in_deadline_order_and_bad_requests_are_einval():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    for ms, who in ((300, 3), (100, 1), (200, 2), (100, 4)):
        assert svc.handle((SLEEP, ms), who) is None
    woke = []
    for _ in range(40):
        clock.advance(DIVISOR / FREQ)
        woke += [(who, round(svc.clock.clocks * 1000 / FREQ)) for who in svc.tick()]
    assert [w for w, _ in woke] == [1, 4, 2, 3]
    assert all(at >= ms for (_, at), ms in zip(woke, (100, 100, 200, 300)))
    assert all(at <= ms + 11 for (_, at), ms in zip(woke, (100, 100, 200, 300)))
    for words in [(), (NOW, 1), (SLEEP,), (SLEEP, 0x80000000), (0x1234,)]:
        assert svc.handle(words, 9).words == (E_INVAL,)
    assert svc.handle((SLEEP, 0), 9).words == (OK,)


def test_lost_ticks_delay_no_sleeper():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    svc.handle((SLEEP, 100), 1)
    clock.advance(0.095)                        # nine edges merged into one interrupt
    assert svc.tick() == []
    clock.advance(0.01)
    assert svc.tick() == [1]
    r = svc.handle((NOW,), 2)
    assert r.words[0] == OK and 104 <= r.words[1] <= 106 and r.words[2] == 2
    assert r.words[3] >= 8                      # ticks the clock says were lost
