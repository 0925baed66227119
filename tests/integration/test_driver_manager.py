"""Root as driver manager: drivers started with exactly their ports and IRQ, restarted
when they die (with back-off when they crash in a loop), clients that retry, and
isolation of a faulty driver."""
import os
import signal
import time

import pytest

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
    out = node.output(client["task"])
    assert "answer 102 retries" in out and "retries 0" not in out, out  # resent once cut off
    node.root({"op": "driver_stop", "name": "steady"})


def test_a_driver_that_crashes_in_a_loop_is_backed_off(node):
    add(node, "crashy", "crash")
    node.wait_for(lambda: drivers(node)["crashy"]["restarts"] >= 3, what="fast restarts")
    time.sleep(2.0)                           # let it try to crash as often as it may
    d = drivers(node)["crashy"]
    assert d["restarts"] <= 6, d
    assert d["state"] == "backoff"
    node.root({"op": "driver_stop", "name": "crashy"})
    assert "crashy" not in drivers(node)


def test_a_driver_gets_only_its_ports(node):
    d = add(node, "rogue", "rogue", ports=[(0x2E8, 8)])
    out = node.wait_for(lambda: (lambda o: o if o.count("refused") == 3 else None)(
        node.output(drivers(node)["rogue"]["task"] or d["task"])), what="rogue report")
    assert "granted [(744, 8)]" in out
    for port in ("0x43", "0x3fb", "0x1f7"):
        assert f"refused {port} NO_PERMISSION" in out
    node.root({"op": "driver_stop", "name": "rogue"})


def test_a_hanging_driver_does_not_stop_other_tasks(node):
    add(node, "spinner", "spin")
    node.wait_for(lambda: "spinning" in node.output(drivers(node)["spinner"]["task"]),
                  what="spinner running")
    status, out = node.run("ipc_tasks.py", "rpc")
    assert status == 0 and "words [42, 0] sender_ok True" in out
    node.root({"op": "driver_stop", "name": "spinner"})


def test_driver_records_and_port_clash(node):
    rows = drivers(node)
    assert {"com1", "com2", "ata0", "timer", "net0"} <= set(rows)
    assert rows["ata0"]["ports"] == ["0x1f0-0x1f7", "0x3f6-0x3f6"] and rows["ata0"]["irq"] == 14
    assert rows["com1"]["class"] == "char" and rows["com1"]["irq"] == 4
    with pytest.raises(Exception, match="already another driver"):
        node.root({"op": "driver_start", "name": "evil", "class": "char",
                   "entry": f"{TASKS}:steady", "ports": [[0x3F8, 8]], "irq": 11})
