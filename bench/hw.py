"""Micro-benchmark of the hardware hot paths: MMU translation, port I/O, ATA PIO.

Run as `python -m bench.hw` (add `--json` for machine-readable output). Each figure is
the best of several repeats, in nanoseconds per operation, printed beside a floor
measured in the same run (the cheapest Python operation of the same shape) and the
ratio between them, so figures from different hosts can be compared.

    TLB hit      tlb.translate on a cached page
    TLB miss     invlpg, then tlb.translate: a full two-level walk and a refill
    walk         mmu.translate (no TLB): the walk alone
    inb          one byte read through PortBus from a trivial device
    ATA insw     `insw(0x1F0, 256)`: one 512-byte sector of a READ SECTORS command
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

from hw import mmu
from hw.clock import VirtualClock
from hw.device import Device
from hw.memory import PhysicalMemory
from hw.ports import PortBus

__all__ = ["main", "run"]

CR3, LINEAR = 0x1000, 0x0804_8123
_now = time.perf_counter_ns


class _Stub(Device):
    """A device with one register that always reads 0x5A."""

    name = "stub"
    port_ranges = ((0x80, 1),)

    def io_read(self, port: int, size: int) -> int:
        return 0x5A

    def io_write(self, port: int, size: int, value: int) -> None:
        pass


class _Floor:
    """The floors: an empty 4-argument method call, and a 512-byte copy behind a call."""

    def __init__(self) -> None:
        self.buf = bytearray(512)

    def call(self, a, b, c, d):
        return a

    def copy512(self, port, count):
        return bytes(self.buf[0:512])


def best(loop, n: int, repeats: int) -> float:
    """Best ns/op over `repeats` runs of `loop(n)` (which returns elapsed ns)."""
    return min(loop(n) for _ in range(repeats)) / n


def bench_mmu(repeats: int) -> dict[str, float]:
    mem = PhysicalMemory(1 << 20)
    try:
        mem.write_u32(CR3 + 4 * mmu.pde_index(LINEAR), 0x2000 | mmu.PTE_P | mmu.PTE_W | mmu.PTE_U)
        mem.write_u32(0x2000 + 4 * mmu.pte_index(LINEAR), 0x7_3000 | 7)
        tlb = mmu.TLB(mem)
        assert tlb.translate(CR3, LINEAR, True, True) == 0x7_3123
        floor = _Floor().call

        def hit(n):
            t, cr3, la = tlb.translate, CR3, LINEAR
            t0 = _now()
            for _ in range(n):
                t(cr3, la, False, True)
            return _now() - t0

        def miss(n):
            t, inv, cr3, la = tlb.translate, tlb.invlpg, CR3, LINEAR
            t0 = _now()
            for _ in range(n):
                inv(la)
                t(cr3, la, False, True)
            return _now() - t0

        def walk(n):
            t, m, cr3, la = mmu.translate, mem, CR3, LINEAR
            t0 = _now()
            for _ in range(n):
                t(m, cr3, la, False, True)
            return _now() - t0

        def call(n):
            t, cr3, la = floor, CR3, LINEAR
            t0 = _now()
            for _ in range(n):
                t(cr3, la, False, True)
            return _now() - t0

        return {"call": best(call, 200_000, repeats), "tlb_hit": best(hit, 200_000, repeats),
                "tlb_miss": best(miss, 50_000, repeats), "walk": best(walk, 50_000, repeats)}
    finally:
        mem.close()
        mem.unlink()


def bench_port(repeats: int) -> float:
    bus = PortBus()
    dev = _Stub()
    bus.register(dev, 0x80, 1)
    assert bus.inb(0x80) == 0x5A

    def inb(n):
        r = bus.inb
        t0 = _now()
        for _ in range(n):
            r(0x80)
        return _now() - t0

    return best(inb, 200_000, repeats)


def bench_copy(repeats: int) -> float:
    f = _Floor().copy512

    def copy(n):
        t0 = _now()
        for _ in range(n):
            f(0x1F0, 256)
        return _now() - t0

    return best(copy, 100_000, repeats)


def bench_ata(repeats: int) -> float | str:
    """ns per 512-byte insw, or the reason it was skipped."""
    try:
        from hw.ata import ATADisk
        from hw.machine import Machine
    except ImportError as e:
        return f"skipped: hw.ata not importable ({e})"
    sectors = 256                                   # READ SECTORS with count 0 = 256
    fd, path = tempfile.mkstemp(prefix="mk-bench-", suffix=".img")
    try:
        image = os.urandom(sectors * 512)
        os.write(fd, image)
        os.close(fd)
        machine = Machine(mem_size=1 << 20, clock=VirtualClock())
        try:
            machine.attach(ATADisk(path))
            ports = machine.ports

            def read_all(n_commands):
                total = 0
                for _ in range(n_commands):
                    ports.outb(0x1F6, 0xE0)         # master, LBA mode, LBA 27..24 = 0
                    ports.outb(0x1F2, 0)            # 256 sectors
                    for p in (0x1F3, 0x1F4, 0x1F5):
                        ports.outb(p, 0)
                    ports.outb(0x1F7, 0x20)         # READ SECTORS
                    insw, got = ports.insw, []
                    t0 = _now()
                    for _ in range(sectors):
                        got.append(insw(0x1F0, 256))
                    total += _now() - t0
                    ports.inb(0x1F7)                # acknowledge
                    if b"".join(got) != image:
                        raise RuntimeError("ATA returned the wrong data")
                return total

            return min(read_all(4) for _ in range(repeats)) / (4 * sectors)
        except Exception as e:                       # not ready: say why, don't fail
            return f"skipped: ATA read failed ({type(e).__name__}: {e})"
        finally:
            machine.close()
    finally:
        os.unlink(path)


def run(repeats: int = 5) -> dict:
    m = bench_mmu(repeats)
    floor_copy = bench_copy(repeats)
    ata = bench_ata(repeats)
    rows = [("TLB hit", m["tlb_hit"], "call", m["call"]),
            ("TLB miss (walk + fill)", m["tlb_miss"], "call", m["call"]),
            ("walk (mmu.translate)", m["walk"], "call", m["call"]),
            ("inb via PortBus", bench_port(repeats), "call", m["call"])]
    if isinstance(ata, float):
        rows.append(("ATA insw 256 words", ata, "copy512", floor_copy))
    results = [{"name": name, "ns": round(ns, 1), "floor": fname, "floor_ns": round(fns, 1),
                "ratio": round(ns / fns, 2)} for name, ns, fname, fns in rows]
    return {"python": platform.python_version(), "machine": platform.machine(),
            "repeats": repeats, "results": results,
            "skipped": [ata] if isinstance(ata, str) else []}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.hw", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--repeats", type=int, default=5, help="take the best of this many runs")
    args = ap.parse_args(argv)
    out = run(max(1, args.repeats))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"hw micro-benchmark  (Python {out['python']}, {out['machine']}, "
          f"best of {out['repeats']})")
    print(f"{'operation':<26}{'ns/op':>10}  {'floor':<8}{'floor ns':>10}{'x floor':>9}")
    for r in out["results"]:
        print(f"{r['name']:<26}{r['ns']:>10.1f}  {r['floor']:<8}{r['floor_ns']:>10.1f}"
              f"{r['ratio']:>9.2f}")
    for s in out["skipped"]:
        print(f"ATA insw: {s}")
    print("floors: call = an empty 4-argument method call; "
          "copy512 = a method call returning a 512-byte copy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
