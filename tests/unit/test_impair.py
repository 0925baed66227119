"""Seeded impairment (cluster/impair.py): a lane's losses, copies, swaps and delays are a
function of the seed and the frames alone, and follow netem's meaning."""
import pytest

from cluster.impair import HOLD, Impairment, Lane, parse_delay


class Rig:
    """A lane with a fake clock: `emitted` in order, timers run by `advance`."""

    def __init__(self, direction: str = "in"):
        self.now, self.timers, self.emitted = 0.0, [], []
        self.counters = {"lost": 0, "drops": 0, "duplicated": 0, "reordered": 0}
        self.lane = Lane(direction, self.emitted.append, self.schedule, self.counters)

    def schedule(self, delay, fn):
        self.timers.append((self.now + delay, len(self.timers), fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = sorted(t for t in self.timers if t[0] <= self.now)
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, _, fn in due:
            fn()

    def run(self, imp: Impairment, frames) -> list[bytes]:
        self.lane.set(imp)
        for f in frames:
            self.lane.offer(f)
        self.advance(100.0)
        return self.emitted


FRAMES = [b"%03d" % i for i in range(200)]


def test_an_unimpaired_lane_passes_everything_at_once_and_draws_nothing():
    r = Rig()
    state = r.lane.rng.getstate()
    for f in FRAMES[:5]:
        r.lane.offer(f)
    assert r.emitted == FRAMES[:5] and r.timers == []
    assert r.lane.rng.getstate() == state


def test_the_same_seed_gives_the_same_pattern_and_another_seed_another():
    imp = Impairment(loss=0.2, dup=0.1, reorder=0.1, seed=7)
    first, again = Rig().run(imp, FRAMES), Rig().run(imp, FRAMES)
    assert first == again
    assert Rig().run(imp.changed(seed=8), FRAMES) != first
    assert Rig("out").run(imp, FRAMES) != first          # each direction its own stream


def test_setting_again_restarts_the_stream():
    r = Rig()
    imp = Impairment(loss=0.5, seed=3)
    first = list(r.run(imp, FRAMES))
    r.emitted.clear()
    assert r.run(imp, FRAMES) == first


def test_loss_drops_about_its_share_and_counts_it():
    r = Rig()
    out = r.run(Impairment(loss=0.25, seed=1), FRAMES)
    assert 30 <= len(FRAMES) - len(out) <= 70
    assert r.counters["lost"] == r.counters["drops"] == len(FRAMES) - len(out)
    assert out == [f for f in FRAMES if f in out]         # order kept


def test_dup_puts_the_copy_right_after_the_frame():
    r = Rig()
    out = r.run(Impairment(dup=0.3, seed=2), FRAMES)
    assert len(out) == len(FRAMES) + r.counters["duplicated"] and r.counters["duplicated"]
    assert sorted(set(out)) == FRAMES
    for i, f in enumerate(out):
        if out.count(f) == 2:
            assert out[i + 1] == f or out[i - 1] == f


def test_reorder_swaps_a_frame_with_the_next_one():
    r = Rig()
    out = r.run(Impairment(reorder=0.2, seed=4), FRAMES)
    assert sorted(out) == FRAMES and out != FRAMES
    swaps = [i for i in range(len(out) - 1) if out[i] > out[i + 1]]
    assert len(swaps) == r.counters["reordered"]
    for i in swaps:                                       # the next frame went first
        assert int(out[i]) == int(out[i + 1]) + 1


def test_a_held_frame_goes_alone_when_nothing_overtakes_it():
    r = Rig()
    r.lane.set(Impairment(reorder=1.0, seed=0))
    r.lane.offer(b"only")
    r.advance(HOLD / 2)
    assert r.emitted == []
    r.advance(HOLD)
    assert r.emitted == [b"only"]


def test_delay_holds_every_frame_by_a_timer_in_order():
    r = Rig()
    r.lane.set(Impairment(delay=0.002, seed=0))
    for f in FRAMES[:3]:
        r.lane.offer(f)
    assert r.emitted == [] and len(r.timers) == 3
    r.advance(0.001)
    assert r.emitted == []
    r.advance(0.0015)
    assert r.emitted == FRAMES[:3]


@pytest.mark.parametrize("text,seconds", [("2ms", 0.002), ("1.5 ms", 0.0015),
                                          ("500us", 0.0005), ("0.1s", 0.1), ("0", 0.0)])
def test_parse_delay(text, seconds):
    assert parse_delay(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["2", "ms", "-1ms", "11s", "fast"])
def test_parse_delay_refuses(text):
    with pytest.raises(ValueError):
        parse_delay(text)


@pytest.mark.parametrize("bad", [dict(loss=1.5), dict(dup=-0.1), dict(reorder="x"),
                                 dict(delay=20.0), dict(seed=1.5), dict(seed=True)])
def test_impairment_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        Impairment(**bad)
