"""The timer and net drivers on real nodes: the PIT time service (NOW, SLEEP, many
sleepers, bad requests), and the mkNIC driver alone (no far end: INFO, SEND dropped
promptly, bad requests) and between two nodes cabled together (`up(link=...)`, the
same as `mk up --node b --link a`): ping-pong, and RX overflow with frames kept in
the ring. Task code is in tasks/timer_nic_tasks.py; each task reports facts, which
the tests read with `run`."""
import errno
import os
import signal
import time

import pytest

from microkernel.user.testing import facts
from protocols.net import NO_CARRIER

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
TASKS = "timer_nic_tasks.py"
EINVAL, ENOSYS = [errno.EINVAL], [errno.ENOSYS]       # error replies' words


def run(node, func, *args) -> dict:
    """Run task `func` to its end (status 0, else the drivers' logs); its facts."""
    status, out = node.run(TASKS, func, *args, timeout=60)
    assert status == 0, out + _driver_logs(node)
    return facts(out)


@pytest.fixture(scope="module", autouse=True)
def _drivers_serving(node):
    """Before the first test: both drivers answer. Root reports a node ready while its
    drivers may still be setting up (a driver registers its name before it takes its
    DMA region and programs its card), and a call meanwhile waits in the send phase."""
    assert run(node, "serving", "timer", "net0")["serving"] == ["timer", "net0"]


def _driver_logs(node) -> str:
    """The drivers' and root's logs, the kernel's tail: what a failure needs to be read."""
    out = ""
    for d in node.root({"op": "drivers"})["drivers"]:
        if d["name"] in ("timer", "net0"):
            out += f"\n--- {d}\n{node.output(d['task'])[-3000:]}"
    with open(node.path("logs", "kernel.log"), errors="replace") as f:
        kernel = f.read()[-3000:]
    return out + f"\n--- root\n{node.output(4)[-3000:]}\n--- kernel\n{kernel}"


# -- timer ---------------------------------------------------------------------------

def test_timer_now_increases_with_real_time(node):
    got = run(node, "timer_now")
    lo, hi = got["host_ms"]                       # the host's time between the readings
    assert got["delta_ms"] > 0 and got["ticks"] > 0, got
    assert lo - 10 <= got["delta_ms"] <= hi + 10, got   # ms from the PIT (10 ms tick)
    assert 10 <= got["ticks"] <= 60, got          # IRQ0 interrupts at 100 Hz (some may merge)


def test_the_timer_ticks_only_while_someone_sleeps(node):
    def delivered():
        return node.control({"op": "irqs"})["irqs"][0]["delivered"]
    run(node, "timer_sleep", 50, 2)
    busy = delivered()
    time.sleep(0.5)                     # a window with nobody asleep: no tick is delivered
                                        # (time let pass on purpose, nothing to wait for)
    idle = delivered()
    assert idle - busy <= 1             # (at most one edge the ticker had already taken)
    run(node, "timer_sleep", 100, 1)
    assert delivered() - idle >= 5      # a 100 ms sleep brings the 100 Hz tick back


def test_timer_sleep_100ms(node):
    got = run(node, "timer_sleep", 100, 5)
    assert got["min_ms"] >= 90, got
    assert got["max_ms"] <= 1000, got             # generous: the host may be loaded


def test_timer_concurrent_sleepers_wake_in_deadline_order(node):
    got = run(node, "timer_sleepers", 400, 100, 300, 200, 500, 160)
    assert got["woke"] == [100, 160, 200, 300, 400, 500], got
    assert got["failed"] == [] and got["early"] == [], got


def test_timer_bad_requests_are_refused_and_it_keeps_serving(node):
    got = run(node, "timer_bad")
    assert got["refused"] == {
        "empty": ENOSYS, "now-arg": EINVAL, "sleep-no-ms": EINVAL, "sleep-two": EINVAL,
        "sleep-huge": EINVAL, "unknown": ENOSYS, "net-op": ENOSYS,
        "due-from-outside": [errno.EPERM]}, got
    assert got["slept_0"] and got["gave_up"] == "ETIMEDOUT", got
    assert got["then_slept_ms"] >= 40 and got["then_now_ms"] > 0, got


# -- NIC, alone (the node's cable has no far end) ---------------------------------------

def test_nic_info_gives_the_mac_and_no_link(node):
    got = run(node, "nic_info")
    assert got == {"mac": "52:54:00:00:00:01", "link": 0}   # site 1's MAC; nobody cabled


def _dropped_promptly(got: dict) -> None:
    """nic_send_nolink's facts when nobody is on the cable."""
    assert got["send"] == [errno.EIO, NO_CARRIER], got    # the card's error, as detail
    assert got["send_ms"] < 1000 and got["dropped"] == 1, got
    assert got["recv"] == "ETIMEDOUT", got        # RECV blocks; the client gives up
    assert got["link_after"] == 0, got            # and the driver still answers


def test_nic_send_without_link_is_dropped_promptly(node):
    _dropped_promptly(run(node, "nic_send_nolink"))


def test_nic_bad_requests_are_refused(node):
    got = run(node, "nic_bad")
    assert got["refused"] == {
        "empty": ENOSYS, "send-no-frame": EINVAL, "send-short": EINVAL, "send-long": EINVAL,
        "send-two": EINVAL, "recv-arg": EINVAL, "info-arg": EINVAL, "timer-op": ENOSYS,
        "unknown": ENOSYS}, got
    assert got["still_serving"], got


@pytest.mark.parametrize("name", ["timer", "net0"])
def test_undeliverable_messages_cost_only_their_sender(node, name):
    before = _driver(node, name)["restarts"]
    got = run(node, "bad_senders", name)
    assert got["map_item"] == "MSG_CUT" and got["phase"] == "SEND", got
    assert got["still_serving"], got
    assert _driver(node, name)["restarts"] == before


def _driver(node, name) -> dict:
    return next(d for d in node.root({"op": "drivers"})["drivers"] if d["name"] == name)


def _kill_and_wait(node, names) -> None:
    """kill -9 the driver processes of `names` at once; wait until root restarted them
    and they answer requests."""
    before = {n: _driver(node, n) for n in names}
    pids = {row["task"]: row["pid"] for row in node.control({"op": "ps"})["tasks"]}
    for d in before.values():
        os.kill(pids[d["task"]], signal.SIGKILL)
    node.wait_for(lambda: all(_driver(node, n)["restarts"] > before[n]["restarts"]
                              and _driver(node, n)["state"] == "running" for n in names),
                  timeout=20, what=f"{names} restarted")
    assert run(node, "serving", *names)["serving"] == names


def _works_again(node) -> None:
    assert run(node, "nic_info") == {"mac": "52:54:00:00:00:01", "link": 0}
    now = run(node, "timer_now")
    assert now["delta_ms"] > 0 and now["ticks"] > 0, now
    woke = run(node, "timer_sleepers", 200, 100)
    assert woke["woke"] == [100, 200] and woke["failed"] == [], woke


def test_timer_and_nic_drivers_come_back_after_a_crash(node):
    """kill -9 each driver process: root restarts it; the new NIC driver takes a fresh
    DMA region from sigma0 and the PIT is programmed again."""
    _kill_and_wait(node, ["timer"])
    _kill_and_wait(node, ["net0"])
    _works_again(node)


def test_drivers_killed_together_come_back(fresh_node):
    for _ in range(3):
        _kill_and_wait(fresh_node, ["timer", "net0"])
    _works_again(fresh_node)


# -- NIC, two nodes on one cable ---------------------------------------------------------

@pytest.fixture(scope="module")
def lan(node, mk_home):
    """Nodes lana (site 3) and lanb (site 4), lanb's net0 cabled to lana's."""
    a = type(node)("lana", mk_home)
    a.up(site=3)
    b = type(node)("lanb", mk_home)
    try:
        b.up(site=4, link="lana")
    except Exception:
        a.down()
        raise
    for n in (a, b):                    # the wire alone: no comm server's frames
        n.root({"op": "driver_stop", "name": "comm"})
    for n in (a, b):                    # nor one left over from before they stopped
        run(n, "nic_flush")
    yield a, b
    b.down()
    a.down()


MAC_A, MAC_B = "52:54:00:00:00:03", "52:54:00:00:00:04"


def test_nic_two_nodes_see_the_link(lan):
    a, b = lan
    assert run(a, "nic_link") == {"mac": MAC_A, "link": 1}
    assert run(b, "nic_link") == {"mac": MAC_B, "link": 1}


def test_nic_ping_pong_between_two_nodes(lan):
    a, b = lan
    echo = b.start(TASKS, "nic_echo", 30)
    got = run(a, "nic_ping", MAC_B, 30, 1514)     # full-size frames
    assert b.wait(echo["task"], 60) == 0, b.output(echo["task"])
    assert got["pinged"] == 30, got
    assert facts(b.output(echo["task"]))["echoed"] == 30


def test_nic_rx_overflow_keeps_the_ring_and_counts_the_rest(lan):
    a, b = lan
    assert run(a, "nic_flood", MAC_B, 100)["flooded"] == 100
    got = run(b, "nic_drain", 100)
    assert got["kept"] == list(range(63)), got    # 63 RX slots hold frames 0..62, in order
    assert got["missed"] == 37 and got["rx_frames"] == 63, got


def test_nic_link_goes_down_with_the_peer(lan):
    a, b = lan
    b.down()
    assert run(a, "nic_wait_down")["link"] == 0
    _dropped_promptly(run(a, "nic_send_nolink"))
