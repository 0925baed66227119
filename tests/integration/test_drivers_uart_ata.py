"""The UART and ATA drivers on a booted node: sectors that reach the image file at the
right offset, range and malformed-request errors, a client that rides through a driver
restart; bytes to and from COM1's pseudo-terminal, a READ that blocks until a receive
interrupt brings data, and interrupts counted by both the driver and the kernel."""
import hashlib
import json
import os
import select
import signal
import threading
import time

import pytest

pytestmark = pytest.mark.timeout(180)
SECTOR = 512


def pattern(lba: int) -> bytes:
    """tasks/driver_tasks.py writes exactly this to sector `lba`."""
    return (b"mk-sector-%08d|" % lba * 32)[:SECTOR]


def drivers(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def threads(node, task):
    rows = {t["task"]: t for t in node.control({"op": "ps"})["tasks"]}
    return rows[task]["threads"] if task in rows else []


def char_info(node, name="com1"):
    status, out = node.run("driver_tasks.py", "char_info", name)
    assert status == 0, out
    return json.loads(out.split("info ", 1)[1])


def kernel_irq(node, n):
    return node.control({"op": "irqs"})["irqs"][n]


class Console:
    """The host end of COM1: the pty slave whose path is in the node folder."""

    def __init__(self, node):
        with open(node.path("console")) as f:
            path = f.read().strip()
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        got, deadline = b"", time.monotonic() + timeout
        while marker not in got and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.1)[0]:
                got += os.read(self.fd, 4096)
        return got

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self):
        os.close(self.fd)


@pytest.fixture
def console(node):
    c = Console(node)
    yield c
    c.close()


def test_drivers_are_up(node):
    rows = node.wait_for(lambda: (lambda d: d if all(
        d[n]["state"] == "running" for n in ("com1", "com2", "ata0")) else None)(drivers(node)),
        timeout=20, what="uart and ata drivers running")
    assert rows["ata0"]["restarts"] == 0 and rows["com1"]["restarts"] == 0


def test_block_round_trip_reaches_the_image(node):
    cases = ["0:1", "1:3", "100:16", "1000:17", "4000:256", "9000:300", "-8:8"]
    status, out = node.run("driver_tasks.py", "block_roundtrip", *cases, timeout=120)
    assert status == 0, out
    sectors = int(out.split("info ", 1)[1].split()[0])
    assert f"info {sectors} 512" in out and sectors == os.path.getsize(node.path("disk.img")) // SECTOR
    for case in cases:
        assert f"rt {case} True" in out, out
    assert "flushed" in out
    with open(node.path("disk.img"), "rb") as f:
        for case in cases:
            lba, count = (int(x) for x in case.split(":"))
            lba = lba if lba >= 0 else sectors + lba
            f.seek(lba * SECTOR)
            assert f.read(count * SECTOR) == b"".join(pattern(lba + i) for i in range(count)), case


def test_block_range_and_malformed_requests(node):
    status, out = node.run("driver_tasks.py", "block_errors")
    assert status == 0, out
    for name in ("read-straddle", "read-end", "read-huge", "write-end", "write-straddle"):
        assert f"range {name} True" in out, out
    assert "invalid 12 of 12" in out and "unknown 4 of 4" in out, out
    assert "map-item MSG_CUT" in out, out
    assert "client-range True" in out and "still-serving True" in out


def test_block_client_retries_through_a_driver_restart(node):
    old = drivers(node)["ata0"]
    task = node.start("driver_tasks.py", "block_through_restart", 40)["task"]
    node.wait_for(lambda: "looping" in node.output(task), what="client looping")
    pid = {t["task"]: t["pid"] for t in node.control({"op": "ps"})["tasks"]}[old["task"]]
    os.kill(pid, signal.SIGKILL)
    new = node.wait_for(lambda: (lambda d: d if d["state"] == "running" and
                                 d["restarts"] == old["restarts"] + 1 else None)(
        drivers(node)["ata0"]), timeout=20, what="ata0 restarted")
    assert new["id"] != old["id"]
    assert node.wait(task, timeout=60) == 0
    out = node.output(task)
    assert " bad 0 " in out and "retries 0" not in out, out


def test_char_write_appears_on_the_pty(node, console):
    marker = f"uart-out-{time.monotonic_ns()}"
    status, out = node.run("driver_tasks.py", "char_write", marker + "\r\n")
    assert status == 0 and f"wrote {len(marker) + 2}" in out, out
    assert marker.encode() in console.read_until(marker.encode())


def test_char_read_blocks_until_an_interrupt_brings_data(node, console):
    before, irq_before = char_info(node), kernel_irq(node, 4)
    com1 = drivers(node)["com1"]["id"]
    marker = f"k{time.monotonic_ns() % 10**8}"          # short: one FIFO's worth
    task = node.start("driver_tasks.py", "char_reader", marker, 60)["task"]
    # blocked first: printed "reading", nothing more, and waiting for com1's reply
    node.wait_for(lambda: "reading" in node.output(task) and any(
        t["lthread"] == 0 and t["state"] == "receiving" and t["partner"] == com1
        for t in threads(node, task)), timeout=20, what="reader blocked in READ")
    time.sleep(0.3)
    assert "got" not in node.output(task)
    # The console monitor reads COM1 too and was queued first; readers are served in
    # arrival order, one typing each, so the marker reaches ours within a few tries.
    for _ in range(40):
        console.type(marker.encode())
        try:
            node.wait_for(lambda: "got" in node.output(task), timeout=0.5)
            break
        except AssertionError:
            pass
    assert node.wait(task, timeout=30) == 0
    assert "got True" in node.output(task)
    after, irq_after = char_info(node), kernel_irq(node, 4)
    assert after["irqs"] > before["irqs"]                # the driver saw IRQ 4 ...
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
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)
    data = bytes(i * 7 % 251 for i in range(160 << 10))
    writer = threading.Thread(target=os.write, args=(fd, data), daemon=True)
    try:
        writer.start()
        node.wait_for(lambda: not com2()["reading"], timeout=60, what="COM2's backlog full")
        status, out = node.run("driver_tasks.py", "char_drain", "com2", len(data), timeout=150)
        assert status == 0, out
        assert f"drained {len(data)} {hashlib.sha256(data).hexdigest()[:16]}" in out, out
        writer.join(10)
        assert not writer.is_alive() and com2()["rx_dropped"] == 0 and com2()["reading"]
    finally:
        os.close(fd)


def test_char_malformed_requests(node):
    status, out = node.run("driver_tasks.py", "char_errors")
    assert status == 0, out
    assert "invalid 10 of 10" in out and "unknown 3 of 3" in out, out
    assert "map-item MSG_CUT" in out, out
    assert "still-serving True True" in out, out
