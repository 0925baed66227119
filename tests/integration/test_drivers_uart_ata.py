"""The UART and ATA drivers on a booted node: sectors that reach the image file at the
right offset, range and malformed-request errors, a client that rides through a driver
restart; bytes to and from a UART's pseudo-terminal, a READ that blocks until a receive
interrupt brings data, and interrupts counted by both the driver and the kernel. Task
code is in tasks/driver_tasks.py; each task reports facts."""
import errno
import hashlib
import os
import signal
import threading
import time

import pytest

from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(180)
SECTOR = 512
TASKS = "driver_tasks.py"
EINVAL, ENOSYS, ERANGE = [errno.EINVAL], [errno.ENOSYS], [errno.ERANGE]   # error replies


def pattern(lba: int) -> bytes:
    """tasks/driver_tasks.py writes exactly this to sector `lba`."""
    return (b"mk-sector-%08d|" % lba * 32)[:SECTOR]


def drivers(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def threads(node, task):
    rows = {t["task"]: t for t in node.control({"op": "ps"})["tasks"]}
    return rows[task]["threads"] if task in rows else []


def char_info(node, name):
    return node.facts(TASKS, "char_info", name)["info"]


def kernel_irq(node, n):
    return node.control({"op": "irqs"})["irqs"][n]


def test_drivers_are_up(node):
    rows = node.wait_for(lambda: (lambda d: d if all(
        d[n]["state"] == "running" for n in ("com1", "com2", "ata0")) else None)(drivers(node)),
        timeout=20, what="uart and ata drivers running")
    assert rows["ata0"]["restarts"] == 0 and rows["com1"]["restarts"] == 0


def test_block_round_trip_reaches_the_image(node):
    cases = ["0:1", "1:3", "100:16", "1000:17", "4000:256", "9000:300", "-8:8"]
    got = node.facts(TASKS, "block_roundtrip", *cases, timeout=120)
    sectors = os.path.getsize(node.path("disk.img")) // SECTOR
    assert got["sectors"] == sectors and got["sector_size"] == SECTOR, got
    assert got["read_back"] == dict.fromkeys(cases, True), got
    assert got["flushed"], got
    with open(node.path("disk.img"), "rb") as f:
        for case in cases:
            lba, count = (int(x) for x in case.split(":"))
            lba = lba if lba >= 0 else sectors + lba
            f.seek(lba * SECTOR)
            assert f.read(count * SECTOR) == b"".join(pattern(lba + i) for i in range(count)), case


def test_block_range_and_malformed_requests(node):
    got = node.facts(TASKS, "block_errors")
    assert got["range"] == dict.fromkeys(
        ["read-straddle", "read-end", "read-huge", "write-end", "write-straddle"], ERANGE), got
    assert got["invalid"] == [EINVAL] * 12 and got["unknown"] == [ENOSYS] * 4, got
    assert got["map_item"] == "MSG_CUT", got
    assert got["client_range"] == "ERANGE" and got["still_serving"], got


def test_block_client_retries_through_a_driver_restart(node):
    old = drivers(node)["ata0"]
    task = node.start(TASKS, "block_through_restart", 40)["task"]
    node.wait_for(lambda: facts(node.output(task)).get("looping"), what="client looping")
    pid = {t["task"]: t["pid"] for t in node.control({"op": "ps"})["tasks"]}[old["task"]]
    os.kill(pid, signal.SIGKILL)
    new = node.wait_for(lambda: (lambda d: d if d["state"] == "running" and
                                 d["restarts"] == old["restarts"] + 1 else None)(
        drivers(node)["ata0"]), timeout=20, what="ata0 restarted")
    assert new["id"] != old["id"]
    assert node.wait(task, timeout=60) == 0, node.output(task)
    got = facts(node.output(task))
    assert got["bad"] == 0 and got["retries"] > 0, got


def test_char_write_appears_on_the_pty(node):
    marker = f"uart-out-{time.monotonic_ns()}"
    with node.pty("com1") as pty:
        got = node.facts(TASKS, "char_write", marker + "\r\n")
        assert got["wrote"] == len(marker) + 2, got
        assert marker.encode() in pty.read_until(marker.encode())


def test_char_read_blocks_until_an_interrupt_brings_data(node):
    """On COM2, which nobody else reads (COM1's console monitor waits in a READ too, and
    readers are served in arrival order), so what is typed once goes to this reader."""
    com2 = drivers(node)["com2"]
    before, irq_before = char_info(node, "com2"), kernel_irq(node, com2["irq"])
    marker = f"k{time.monotonic_ns() % 10**8}"          # short: one FIFO's worth
    task = node.start(TASKS, "char_reader", "com2", marker, 60)["task"]
    node.wait_for(lambda: facts(node.output(task)).get("reading") and any(
        t["lthread"] == 0 and t["state"] == "receiving" and t["partner"] == com2["id"]
        for t in threads(node, task)), timeout=20, what="reader blocked in READ")
    time.sleep(0.3)                     # a window in which nothing came: READ must not return
    assert "read" not in facts(node.output(task)), node.output(task)
    with node.pty("com2") as pty:
        pty.type(marker.encode())
        assert node.wait(task, timeout=30) == 0, node.output(task)
    assert marker in facts(node.output(task))["read"]
    after, irq_after = char_info(node, "com2"), kernel_irq(node, com2["irq"])
    assert after["irqs"] > before["irqs"]                # the driver saw its IRQ ...
    assert after["rx_bytes"] >= before["rx_bytes"] + len(marker)
    assert irq_after["delivered"] > irq_before["delivered"]   # ... the kernel delivered it
    assert irq_after["owner"] == irq_before["owner"]


def test_a_paste_larger_than_every_buffer_arrives_whole(node):
    """Nobody reads COM2 while 160 KiB go into its pty: the driver's ring (64 KiB) and
    the UART's backlog (64 KiB) fill, and then the UART stops reading the pty, so the
    writer waits in the host. A reader then gets every byte, in order."""
    def com2():
        return next(d for d in node.control({"op": "status"})["devices"] if d["name"] == "com2")
    with open(node.path("com2.pty")) as f:
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)   # blocking, for the writer
    data = bytes(i * 7 % 251 for i in range(160 << 10))
    writer = threading.Thread(target=os.write, args=(fd, data), daemon=True)
    try:
        writer.start()
        node.wait_for(lambda: not com2()["reading"], timeout=60, what="COM2's backlog full")
        got = node.facts(TASKS, "char_drain", "com2", len(data), timeout=150)
        assert got["drained"] == len(data), got
        assert got["sha256"] == hashlib.sha256(data).hexdigest()[:16], got
        writer.join(10)
        assert not writer.is_alive() and com2()["rx_dropped"] == 0 and com2()["reading"]
    finally:
        os.close(fd)


def test_char_malformed_requests(node):
    got = node.facts(TASKS, "char_errors")
    assert got["invalid"] == [EINVAL] * 10 and got["unknown"] == [ENOSYS] * 3, got
    assert got["map_item"] == "MSG_CUT", got
    assert got["empty_write"] == 0 and got["read_nb"], got
