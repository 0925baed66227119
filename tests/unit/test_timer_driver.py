"""drivers.timer without a node: the PIT programming, the clock source (CRT over
channels 1 and 2, checked by channel 0) against the 8254 model on a virtual clock, and
the sleepers' heap, and the requests through the driver's Dispatch."""
import errno
import random
import threading

from drivers.timer import DIVISOR, FREQ, RECHECK, Clock, Pit, TimerServer, TimerService
from hw.clock import VirtualClock
from hw.i8254 import PIT
from hw.ports import PortBus
from microkernel.abi import Msg, ThreadId
from protocols.net import Op as NetOp
from protocols.server import Dispatch
from protocols.timer import TIMER, Op

ME = ThreadId.make(40, 0, 1, 1, chief=4)


class FakeMachine:
    def __init__(self, clock):
        self.clock = clock


class PortRt:
    """The part of `rt` the timer uses, straight onto a port bus; each access takes an
    odd fraction of a PIT clock, so the channels load at different fractional times."""

    def __init__(self, bus, clock):
        self.bus, self.clock, self.sent = bus, clock, []

    def inb(self, port):
        self.clock.advance(3.7e-7)
        return self.bus.inb(port)

    def outb(self, port, value):
        self.clock.advance(5.3e-7)
        self.bus.outb(port, value)

    def myself(self): return ME
    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self): return ThreadId.make(4, 0, 1, 1)
    def send(self, dest, msg, timeout=0): self.sent.append((dest, msg))


class FakeTicker:
    """The ticker's side of lthread 0's handlers, without the thread."""

    def __init__(self):
        self.lock, self.woken, self.due = threading.Lock(), 0, []

    def wake_if_needed(self, rt):
        self.woken += 1

    def take_due(self):
        due, self.due = self.due, []
        return due


def rig(start=12.345678):
    clock = VirtualClock()
    clock.advance(start)                      # load times with awkward fractions
    bus, pit = PortBus(), PIT()
    bus.register(pit, 0x40, 4)
    pit.plugged(FakeMachine(clock), {})
    p = Pit(PortRt(bus, clock))
    p.program()
    return clock, p


def client(n):
    return ThreadId.make(100 + n, 0, 1, 1)


def request(server, *words, sender=client(9)):
    return Dispatch(TIMER, server, server.rt)(Msg(words=words, sender=sender))


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


def test_sleepers_wake_in_deadline_order():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    for ms, who in ((300, 3), (100, 1), (200, 2), (100, 4)):
        assert svc.sleep(ms, who)
    woke = []
    for _ in range(40):
        clock.advance(DIVISOR / FREQ)
        woke += [(who, round(svc.clock.clocks * 1000 / FREQ)) for who in svc.tick()]
    assert [w for w, _ in woke] == [1, 4, 2, 3]
    assert all(at >= ms for (_, at), ms in zip(woke, (100, 100, 200, 300)))
    assert all(at <= ms + 11 for (_, at), ms in zip(woke, (100, 100, 200, 300)))


def test_requests_through_the_table_and_bad_ones_refused():
    clock, p = rig()
    svc, ticker = TimerService(Clock(p.phases)), FakeTicker()
    server = TimerServer(p.rt, svc, ticker)
    for words in [(Op.NOW, 1), (Op.SLEEP,), (Op.SLEEP, 1, 2), (Op.SLEEP, 0x80000000)]:
        assert request(server, *words).words == (errno.EINVAL,)
    for words in [(), (0x1234,), (NetOp.SEND,)]:
        assert request(server, *words).words == (errno.ENOSYS,)
    assert request(server, Op.DUE).words == (errno.EPERM,)       # only the ticker may
    assert request(server, Op.SLEEP, 0).words == (0,) and not svc.sleepers
    assert request(server, Op.SLEEP, 30, sender=client(1)) is None and ticker.woken == 1
    ticker.due = [client(1)]
    assert request(server, Op.DUE, sender=ME.lthread_id(1)) is None
    assert p.rt.sent == [(client(1), TIMER.reply(Op.SLEEP))]
    now = TIMER.decode_reply(Op.NOW, request(server, Op.NOW))
    assert now.ms >= 0 and now.ticks == svc.clock.clocks // DIVISOR and now.lost == 0


def test_lost_ticks_are_found_by_the_clock():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    svc.sleep(100, 1)
    clock.advance(0.095)                        # nine edges merged into one interrupt
    woke, n = [], 0
    while not woke:
        clock.advance(DIVISOR / FREQ)
        woke, n = svc.tick(), n + 1
    assert woke == [1] and n <= RECHECK         # at most RECHECK ticks late
    assert not svc.listening                    # the last sleeper woke: the tick may stop
    ms, ticks, lost = svc.stamp()
    assert ticks == svc.clock.clocks // DIVISOR >= 10
    assert ms >= 100 and lost >= 8              # ticks the clock says were lost
    assert svc.ticks == n


def test_the_tick_runs_only_while_someone_sleeps():
    clock, p = rig()
    svc = TimerService(Clock(p.phases))
    assert not svc.listening
    svc.stamp()
    assert not svc.listening
    svc.sleep(30, 1)
    assert svc.listening
    woke = []
    while not woke:
        clock.advance(DIVISOR / FREQ)
        woke = svc.tick()
    assert woke == [1] and not svc.listening
    clock.advance(1.0)                          # a second with no tick: nothing was lost
    assert svc.stamp()[2] == 0
