"""drivers.timer without a node: the PIT programming, the clock source (CRT over
channels 1 and 2, checked by channel 0) against the 8254 model on a virtual clock, and
the sleepers' heap."""
import random

from drivers.protocol import E_INVAL, NOW, OK, SLEEP
from drivers.timer import DIVISOR, FREQ, RECHECK, Clock, Pit, TimerService
from hw.clock import VirtualClock
from hw.i8254 import PIT
from hw.ports import PortBus


class FakeMachine:
    def __init__(self, clock):
        self.clock = clock


class PortRt:
    """The part of `rt` the timer uses, straight onto a port bus; each access takes an
    odd fraction of a PIT clock, so the channels load at different fractional times."""

    def __init__(self, bus, clock):
        self.bus, self.clock = bus, clock

    def inb(self, port):
        self.clock.advance(3.7e-7)
        return self.bus.inb(port)

    def outb(self, port, value):
        self.clock.advance(5.3e-7)
        self.bus.outb(port, value)


def rig(start=12.345678):
    clock = VirtualClock()
    clock.advance(start)                      # load times with awkward fractions
    bus, pit = PortBus(), PIT()
    bus.register(pit, 0x40, 4)
    pit.plugged(FakeMachine(clock), {})
    p = Pit(PortRt(bus, clock))
    p.program()
    return clock, p


def test_program_sets_mode_2_at_100_hz():
    clock, p = rig()
    e0, e1, e2 = p.phases()
    assert e0 < DIVISOR and e1 < 0xFFFF and e2 < 0x10000


def test_clock_follows_the_pit_across_gaps_of_any_size():
    clock, p = rig()
    c = Clock(p.phases)
    t0 = clock.now()                            # each reading takes the same time
    rnd = random.Random(7)
    gaps = [rnd.choice([0.0004, 0.003, 0.0099, 0.05, 0.0549, 0.06, 0.7, 3.3])
            for _ in range(300)] + [55.0, 0.01, 3000.0, 0.02]
    for gap in gaps:
        clock.advance(gap)
        got, want = c.read(), (clock.now() - t0) * FREQ
        assert abs(got - want) <= 3, (gap, got, want)


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


def test_lost_ticks_are_found_by_the_clock():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    svc.handle((SLEEP, 100), 1)
    clock.advance(0.095)                        # nine edges merged into one interrupt
    woke, n = [], 0
    while not woke:
        clock.advance(DIVISOR / FREQ)
        woke, n = svc.tick(), n + 1
    assert woke == [1] and n <= RECHECK         # at most RECHECK ticks late
    assert not svc.listening                    # the last sleeper woke: the tick may stop
    r = svc.handle((NOW,), 2)
    assert r.words[0] == OK and r.words[2] == svc.clock.clocks // DIVISOR >= 10
    assert r.words[1] >= 100 and r.words[3] >= 8    # ticks the clock says were lost
    assert svc.ticks == n


def test_the_tick_runs_only_while_someone_sleeps():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    assert not svc.listening
    assert svc.handle((NOW,), 1).words[0] == OK and not svc.listening
    svc.handle((SLEEP, 30), 1)
    assert svc.listening
    woke = []
    while not woke:
        clock.advance(DIVISOR / FREQ)
        woke = svc.tick()
    assert woke == [1] and not svc.listening
    clock.advance(1.0)                          # a second with no tick: nothing was lost
    assert svc.handle((NOW,), 1).words[3] == 0
