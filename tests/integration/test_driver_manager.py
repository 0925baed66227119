"""Root as driver manager: drivers started with exactly their ports and IRQ, restarted
when they die (with back-off when they crash in a loop), clients that retry, and
isolation of a faulty driver. The test drivers and client (tasks/drv_tasks.py) report
facts; the tests assert on their values and on root's driver records."""
import os
import signal
import time

import pytest

from microkernel.abi import ThreadId
from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(120)
TASKS = os.path.join(os.path.dirname(__file__), "tasks", "drv_tasks.py")


def drivers(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def pid_of(node, task):
    return {t["task"]: t["pid"] for t in node.control({"op": "ps"})["tasks"]}.get(task)


def add(node, name, func, ports=(), irq=None):
    return node.root({"op": "driver_start", "name": name, "class": "test",
                      "entry": f"{TASKS}:{func}", "ports": [list(p) for p in ports],
                      "irq": irq})["driver"]


def test_a_killed_driver_is_restarted_and_clients_retry(node):
    add(node, "steady", "steady")
    node.wait_for(lambda: drivers(node)["steady"]["state"] == "running", what="steady up")
    old = drivers(node)["steady"]
    client = node.start("drv_tasks.py", "client", "steady", 2)   # SLOW
    node.wait_for(lambda: any(            # in its call to the driver (not to names)
        t["state"] == "receiving" and t["partner"] == old["id"] for t in
        {r["task"]: r for r in node.control({"op": "ps"})["tasks"]}[client["task"]]["threads"]),
        what="client waiting for the driver's answer")
    t0 = time.monotonic()
    os.kill(pid_of(node, old["task"]), signal.SIGKILL)
    new = node.wait_for(lambda: (lambda d: d if d["state"] == "running" and d["restarts"] == 1
                                 else None)(drivers(node)["steady"]), what="restart")
    restart = time.monotonic() - t0
    assert new["id"] != old["id"]
    assert restart < 5.0, restart            # root restarts at once; this bounds it loosely
    assert node.wait(client["task"]) == 0
    got = facts(node.output(client["task"]))
    assert got["answer"] == 102 and got["retries"] >= 1, got   # resent once cut off
    node.root({"op": "driver_stop", "name": "steady"})


def test_a_restarted_driver_gets_its_line_back_whatever_spins_for_it(node):
    line = 5
    add(node, "lined", "steady", irq=line)
    node.wait_for(lambda: drivers(node)["lined"]["state"] == "running", what="lined up")
    thief = node.start("drv_tasks.py", "thief", line, 8)
    node.wait_for(lambda: facts(node.output(thief["task"])).get("spinning"), what="the thief")
    for n in range(1, 4):
        os.kill(pid_of(node, drivers(node)["lined"]["task"]), signal.SIGKILL)
        node.wait_for(lambda: (lambda d: d["state"] == "running" and d["restarts"] == n)(
            drivers(node)["lined"]), what=f"restart {n}")
    d = drivers(node)["lined"]
    node.wait_for(lambda: node.control({"op": "irqs"})["irqs"][line]["owner"] is not None,
                  what="the driver attached")
    irq = node.control({"op": "irqs"})["irqs"][line]
    assert ThreadId(irq["owner"]).task == d["task"], (irq, d)
    assert ThreadId(irq["keeper"]).task == 4, irq           # root's holder, to get it back
    assert node.wait(thief["task"], timeout=30) == 0
    got = facts(node.output(thief["task"]))
    assert got["tries"] > 100 and got["stolen"] is False, got
    assert drivers(node)["lined"]["restarts"] == 3      # no crash loop: it attached each time
    node.root({"op": "driver_stop", "name": "lined"})


def test_a_driver_that_crashes_in_a_loop_is_backed_off(node):
    add(node, "crashy", "crash")
    node.wait_for(lambda: drivers(node)["crashy"]["restarts"] >= 3, what="fast restarts")
    time.sleep(2.0)     # deliberate: a window in which it may crash (and be restarted) at will
    d = drivers(node)["crashy"]
    assert d["restarts"] <= 6, d
    node.wait_for(lambda: drivers(node)["crashy"]["state"] == "backoff", timeout=2.0,
                  what="crashy to wait in back-off")   # not a restart in progress
    node.root({"op": "driver_stop", "name": "crashy"})
    assert "crashy" not in drivers(node)


def test_a_driver_gets_only_its_ports(node):
    d = add(node, "rogue", "rogue", ports=[(0x2E8, 8)])
    task = lambda: drivers(node)["rogue"]["task"] or d["task"]
    got = node.wait_for(lambda: facts(node.output(task())), what="the rogue driver's facts")
    node.root({"op": "driver_stop", "name": "rogue"})
    assert got["granted"] == [[0x2E8, 8]], got
    assert got["writes"] == dict.fromkeys(("0x43", "0x3fb", "0x1f7"), "NO_PERMISSION"), got


def test_a_hanging_driver_does_not_stop_other_tasks(node):
    add(node, "spinner", "spin")
    node.wait_for(lambda: facts(node.output(drivers(node)["spinner"]["task"])).get("spinning"),
                  what="the spinner spinning")
    try:
        got = node.facts("ipc_tasks.py", "rpc")
    finally:
        node.root({"op": "driver_stop", "name": "spinner"})
    assert got["words"] == [42, 0] and got["sender"] == got["server"], got


def test_driver_records_and_port_clash(node):
    rows = drivers(node)
    assert {"com1", "com2", "ata0", "timer", "net0"} <= set(rows)
    assert rows["ata0"]["ports"] == ["0x1f0-0x1f7", "0x3f6-0x3f6"] and rows["ata0"]["irq"] == 14
    assert rows["com1"]["class"] == "char" and rows["com1"]["irq"] == 4
    with pytest.raises(Exception, match="already another driver"):
        node.root({"op": "driver_start", "name": "evil", "class": "char",
                   "entry": f"{TASKS}:steady", "ports": [[0x3F8, 8]], "irq": 11})
