"""`mk bench drivers`: user-level drivers against the same code inside the kernel.

Disk: 4 MiB written and read through the user-level ATA driver (a client task, the
block protocol over IPC, the driver's port I/O and IRQ14 through the kernel), beside the
same driver code (`drivers.ata.Ata`) driving the same device model directly on a
machine in this process, with no IPC at all: the "integrated driver" baseline of the
paper's claim that user-level drivers perform as well (target: ratio <= 1.5). It is
measured twice: with the disk moving data at ATA PIO mode 4 speed (16.6 MB/s, the
device the claim is about: the driver's overhead against real transfer time), and with
an instant disk (the whole cost of the IPC path, with nothing to hide behind).

Interrupt latency: the bench types bytes into COM2's pseudo-terminal; a user-level
driver for COM2 takes one receive interrupt per byte; latency is from the byte's write
on the host to the driver thread running (both on the host's monotonic clock), beside a
null RPC measured in the same driver task: the mean of a run of 1,000 before the first
byte and one after the last, so the floor spans the moments the latencies were taken.
An interrupt comes to a driver that was idle, and a null RPC in a loop never is: after
each interrupt the driver idles 2 ms and makes one null RPC, timed, and the paired ratio
is the median of each latency over the single null RPC made beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from drivers.ata import Ata
from hw import Machine
from protocols.block import MAX_COUNT, SECTOR

from .floors import BenchError
from .node import BenchNode

__all__ = ["run", "main", "DirectIO"]

TASKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "driver_tasks.py")
CHUNK = MAX_COUNT * SECTOR            # the block protocol's largest request


class DirectIO:
    """The port instructions of `rt`, done directly on a machine: no kernel, no IPC.
    Waiting for the disk's interrupt runs the machine's clock until the line rises."""

    def __init__(self, machine: Machine):
        p = machine.ports
        self.machine = machine
        self.inb, self.inw, self.inl = p.inb, p.inw, p.inl
        self.outb, self.outw, self.outl = p.outb, p.outw, p.outl
        self.insw, self.outsw = p.insw, p.outsw

    def receive(self, src, timeout=None):
        clock = self.machine.clock
        deadline = clock.next_deadline()
        if deadline is not None:
            time.sleep(max(0.0, deadline - clock.now()))
            clock.run_due()
        return None

    def port_batch(self, *ops: tuple) -> list:
        """The same instructions, one after another (no trap to save here)."""
        out = []
        for name, port, *arg in ops:
            out.append(getattr(self, name)(port, *arg))
        return out

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        self.machine.clock.run_due()


def in_kernel(image: str, mib: int, rate: float = 0.0) -> dict:
    """The same driver code on a machine of our own: write then read `mib` MiB."""
    m = Machine(mem_size=4 << 20, disk=image)
    m.ata.rate = rate
    try:
        disk = Ata(DirectIO(m))
        disk.setup()
        data = bytes(range(256)) * (CHUNK // 256)
        total = mib << 20
        t0 = time.perf_counter_ns()
        for off in range(0, total, CHUNK):
            disk.write_sectors(off // SECTOR, data)
        t1 = time.perf_counter_ns()
        ok = all(disk.read_sectors(off // SECTOR, CHUNK // SECTOR) == data
                 for off in range(0, total, CHUNK))
        t2 = time.perf_counter_ns()
    finally:
        m.close()
    return {"write_ns": t1 - t0, "read_ns": t2 - t1, "ok": ok}


def _report(log: str, word: str, timeout: float):
    """The JSON after `word` on a complete line of the log, or None within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(log, "rb") as f:
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            text = ""
        for ln in text.split("\n")[:-1]:            # only lines already ended
            if ln.startswith(word + " "):
                return json.loads(ln[len(word) + 1:])
        time.sleep(0.01)
    return None


def irq_latency(bn: BenchNode, samples: int) -> dict:
    """Type `samples` bytes (at most 200) into COM2, one at a time; the driver stamps
    each IRQ (a byte that arrived while the driver drained the one before is no
    sample: it came with no interrupt of its own)."""
    samples = min(samples, 200)
    node = bn.node
    node.root({"op": "driver_stop", "name": "com2"})
    drv = node.root({"op": "driver_start", "name": "benchcom2", "class": "char",
                     "entry": f"{TASKS}:irq_latency", "ports": [[0x2F8, 8]], "irq": 3})
    task = {"task": drv["driver"]["task"], "func": "irq_latency",
            "log": node.path("logs", f"task-{drv['driver']['task']}.log")}
    bn.line(task, "READY")
    with open(node.path("com2.pty")) as f:
        fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY)
    sent = []
    try:
        for i in range(samples):
            sent.append(time.monotonic_ns())
            os.write(fd, bytes([i]))
            time.sleep(0.005)
        got = None
        for _ in range(50):                   # the end marker, until the driver reports
            os.write(fd, b"\xff")
            got = _report(task["log"], "IRQ", 0.5)
            if got is not None:
                break
        if got is None:
            raise BenchError("the COM2 bench driver never reported; its log:\n"
                             + BenchNode._log(task)[-2000:])
    finally:
        os.close(fd)
        node.root({"op": "driver_stop", "name": "benchcom2"})
        node.root({"op": "driver_start", "name": "com2"})
    pairs = [(stamp - sent[byte], single) for byte, stamp, single in got["stamps"]
             if byte < len(sent)]
    lat = [p[0] for p in pairs]
    if len(lat) < samples * 0.5:        # a byte read in the drain of the one before it
        raise BenchError(f"only {len(lat)} of {samples} bytes came with an interrupt "
                         "of their own")
    before, after = got["null_rpc_ns"]
    return {"irq_ns_median": statistics.median(lat), "irq_ns_p90": sorted(lat)[int(len(lat) * 0.9)],
            "null_rpc_ns": (before + after) / 2, "null_rpc_before_after_ns": [before, after],
            "samples": len(lat), "null_rpc_idle_ns": statistics.median(p[1] for p in pairs),
            "irq_paired_ratio": statistics.median(a / b for a, b in pairs)}


PIO4 = 16.6e6                 # bytes/s: ATA PIO mode 4, the fastest PIO an IDE disk had


def disk_pair(bn: BenchNode, mib: int, repeats: int, rate: float) -> dict:
    """User-level driver and in-process driver on a disk moving `rate` bytes/s."""
    bn.node.control({"op": "tune", "name": "ata0", "attr": "rate", "value": rate})
    user = []
    for _ in range(repeats):
        t = bn.start("disk_rw", mib)
        user.append(json.loads(bn.line(t, "DISK", timeout=300)))
        bn.reap(t)
    tmp = tempfile.mkdtemp(prefix="mkbd")
    try:
        image = os.path.join(tmp, "disk.img")
        shutil.copyfile(bn.node.path("disk.img"), image)
        kern = [in_kernel(image, mib, rate) for _ in range(repeats)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    best = lambda runs, k: min(r[k] for r in runs)
    out = {"user_write_ns": best(user, "write_ns"), "user_read_ns": best(user, "read_ns"),
           "kernel_write_ns": best(kern, "write_ns"), "kernel_read_ns": best(kern, "read_ns"),
           "data_ok": all(r["ok"] for r in user + kern)}
    out["write_ratio"] = out["user_write_ns"] / out["kernel_write_ns"]
    out["read_ratio"] = out["user_read_ns"] / out["kernel_read_ns"]
    return out


def run(mib: int = 4, samples: int = 100, repeats: int = 3) -> dict:
    """Both disk paths (a disk at PIO mode 4 speed, and an instant one) and the
    interrupt latency, in one run."""
    with BenchNode("benchdrv", 16, TASKS) as bn:
        pio = disk_pair(bn, mib, repeats, PIO4)
        instant = disk_pair(bn, mib, repeats, 0.0)
        irq = irq_latency(bn, samples)
    out = {"mib": mib, **pio, "data_ok": pio["data_ok"] and instant["data_ok"],
           "instant": instant, **irq}
    out["irq_over_null_rpc"] = out["irq_ns_median"] / out["null_rpc_ns"]
    return out


def format_table(o: dict) -> str:
    mb, i = o["mib"], o["instant"]
    rate = lambda ns: f"{mb / (ns / 1e9):7.2f} MiB/s"
    return "\n".join([
        f"{'figure':<40} {'measured':>14} {'floor':>14} {'ratio':>7}",
        f"{f'disk write {mb} MiB, PIO-4 disk':<40} {rate(o['user_write_ns']):>14} "
        f"{rate(o['kernel_write_ns']):>14} {o['write_ratio']:7.2f}",
        f"{f'disk read {mb} MiB, PIO-4 disk':<40} {rate(o['user_read_ns']):>14} "
        f"{rate(o['kernel_read_ns']):>14} {o['read_ratio']:7.2f}",
        f"{f'disk write {mb} MiB, instant disk':<40} {rate(i['user_write_ns']):>14} "
        f"{rate(i['kernel_write_ns']):>14} {i['write_ratio']:7.2f}",
        f"{f'disk read {mb} MiB, instant disk':<40} {rate(i['user_read_ns']):>14} "
        f"{rate(i['kernel_read_ns']):>14} {i['read_ratio']:7.2f}",
        f"{'interrupt latency (median)':<34} {o['irq_ns_median'] / 1e3:11.1f} us "
        f"{o['null_rpc_ns'] / 1e3:11.1f} us {o['irq_over_null_rpc']:7.2f}",
        f"{'  paired: one null RPC from idle':<34} {'':>14} "
        f"{o['null_rpc_idle_ns'] / 1e3:11.1f} us {o['irq_paired_ratio']:7.2f}",
        f"(floors: the same driver code in-process with no IPC; a null RPC; "
        f"data verified: {o['data_ok']})"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mk bench drivers")
    p.add_argument("--json", action="store_true")
    p.add_argument("--mib", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    a = p.parse_args(argv)
    o = run(1 if a.quick else a.mib, 10 if a.quick else 100, 1 if a.quick else 3)
    print(json.dumps(o, indent=2) if a.json else format_table(o))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
