"""The timer and net drivers on real nodes: the PIT time service (NOW, SLEEP, many
sleepers, bad requests), and the mkNIC driver alone (no far end: INFO, SEND dropped
promptly, bad requests) and between two nodes cabled together (`up(link=...)`, the
same as `mk up --node b --link a`): ping-pong, and RX overflow with frames kept in
the ring. Task code is in tasks/timer_nic_tasks.py."""
import os
import re
import signal
import time

import pytest

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
TASKS = "timer_nic_tasks.py"


def run(node, func, *args):
    status, out = node.run(TASKS, func, *args, timeout=60)
    assert status == 0, out + _driver_logs(node)
    return out


@pytest.fixture(scope="module", autouse=True)
def _drivers_serving(node):
    """Before the first test: both drivers answer. Root reports a node ready while its
    drivers may still be setting up (a driver registers its name before it takes its
    DMA region and programs its card), and a call meanwhile waits in the send phase."""
    out = run(node, "serving", "timer", "net0")
    assert "serving timer True" in out and "serving net0 True" in out, out


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
    out = run(node, "timer_now")
    assert "now increases True True" in out
    m = re.search(r"now delta (\d+) host (\d+) to (\d+) ticks (\d+)", out)
    delta, lo, hi, ticks = map(int, m.groups())
    assert lo - 10 <= delta <= hi + 10, out       # ms from the PIT clock source (10 ms tick)
    assert 10 <= ticks <= 60, out                 # IRQ0 interrupts at 100 Hz (some may merge)


def test_the_timer_ticks_only_while_someone_sleeps(node):
    def delivered():
        return node.control({"op": "irqs"})["irqs"][0]["delivered"]
    run(node, "timer_sleep", 50, 2)
    busy = delivered()
    time.sleep(0.5)                     # a window with nobody asleep: no tick is delivered
    idle = delivered()
    assert idle - busy <= 1             # (at most one edge the ticker had already taken)
    run(node, "timer_sleep", 100, 1)
    assert delivered() - idle >= 5      # a 100 ms sleep brings the 100 Hz tick back


def test_timer_sleep_100ms(node):
    out = run(node, "timer_sleep", 100, 5)
    m = re.search(r"slept min ([\d.]+) mean ([\d.]+) max ([\d.]+)", out)
    lo, mean, hi = map(float, m.groups())
    assert lo >= 90, out
    assert hi <= 1000, out                         # generous: the host may be loaded


def test_timer_concurrent_sleepers_wake_in_deadline_order(node):
    out = run(node, "timer_sleepers", 400, 100, 300, 200, 500, 160)
    assert "woke [100, 160, 200, 300, 400, 500] ok True" in out
    assert "late True" in out


def test_timer_bad_requests_are_refused_and_it_keeps_serving(node):
    out = run(node, "timer_bad")
    assert out.count("bad ") == 8 and "False" not in out.split("sleep0")[0], out
    assert "sleep0 True" in out
    assert "gave up ETIMEDOUT" in out
    assert "still serving True True True" in out


# -- NIC, alone (the node's cable has no far end) ---------------------------------------

def test_nic_info_gives_the_mac_and_no_link(node):
    out = run(node, "nic_info")
    assert "mac 52:54:00:00:00:01 link 0" in out   # site 1's MAC; nobody on the cable


def test_nic_send_without_link_is_dropped_promptly(node):
    out = run(node, "nic_send_nolink")
    assert "send [5, 3] prompt True dropped 1" in out   # EIO, card error NOCARRIER
    assert "recv ETIMEDOUT" in out                # RECV blocks; the client gives up
    assert "after 0" in out                       # and the driver still answers


def test_nic_bad_requests_are_refused(node):
    out = run(node, "nic_bad")
    assert out.count("bad ") == 9 and "False" not in out, out
    assert "still serving True" in out


@pytest.mark.parametrize("name", ["timer", "net0"])
def test_undeliverable_messages_cost_only_their_sender(node, name):
    before = _driver(node, name)["restarts"]
    out = run(node, "bad_senders", name)
    assert "map item MSG_CUT send" in out
    assert "still serving True" in out
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
    out = run(node, "serving", *names)
    assert all(f"serving {n} True" in out for n in names), out


def _works_again(node) -> None:
    assert "mac 52:54:00:00:00:01 link 0" in run(node, "nic_info")
    assert "now increases True True" in run(node, "timer_now")
    assert "woke [100, 200] ok True" in run(node, "timer_sleepers", 200, 100)


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
    yield a, b
    b.down()
    a.down()


MAC_A, MAC_B = "52:54:00:00:00:03", "52:54:00:00:00:04"


def test_nic_two_nodes_see_the_link(lan):
    a, b = lan
    assert f"mac {MAC_A} link 1" in run(a, "nic_link")
    assert f"mac {MAC_B} link 1" in run(b, "nic_link")


def test_nic_ping_pong_between_two_nodes(lan):
    a, b = lan
    echo = b.start(TASKS, "nic_echo", 30)
    out = run(a, "nic_ping", MAC_B, 30, 1514)     # full-size frames
    assert b.wait(echo["task"], 60) == 0, b.output(echo["task"])
    assert "pinged 30 of 30" in out
    assert "echoed 30" in b.output(echo["task"])


def test_nic_rx_overflow_keeps_the_ring_and_counts_the_rest(lan):
    a, b = lan
    assert "flooded 100" in run(a, "nic_flood", MAC_B, 100)
    out = run(b, "nic_drain", 100)
    assert "missed 37 kept 63 in-order True" in out   # 63 RX slots hold frames 0..62
    assert "rx_frames 63" in out


def test_nic_link_goes_down_with_the_peer(lan):
    a, b = lan
    b.down()
    assert "link 0" in run(a, "nic_wait_down")
    assert "send [5, 3] prompt True dropped 1" in run(a, "nic_send_nolink")
