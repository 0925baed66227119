"""`mk bench ipc`: the kernel's IPC figures beside the floors they cannot beat, in one run.

Floors (plain host processes, no kernel):

    pipe          a round trip of 8 bytes over two pipes between two processes
    zmq_direct    a round trip of 8 bytes between two ZeroMQ DEALER sockets
    relay_*       the least a kernel-mediated round trip can cost: client DEALER ->
                  relay ROUTER -> server DEALER -> relay -> client, four hops; the relay
                  only swaps the first two frames ([src, dst, ...] in, [dst, src, ...]
                  out), frame by frame, zero-copy, no decoding, no checking. Payload:
                  8 bytes, + 512 B, + 64 KiB (echoed both ways). The ends are measured
                  with copy=True and copy=False; the faster is the floor.
    relay_tp_N    null round trips per second through one relay with N client/server
                  pairs (separate processes) running at once

Kernel figures (real tasks in a node booted for the run, bench/ipc_tasks.py):

    null_rpc        rt.call + rt.reply_and_wait, two words, client and server tasks
    null_rpc_local  the same between two lthreads of one task (one process, one GIL)
    null_rpc_pager  null RPCs from the faulting thread to its pager, beside its faults
    rpc_512, rpc_64k  with a 512-byte / 64 KiB string, echoed both ways
    page_fault      a read fault on a fresh page, resolved by a pager task that already
                    holds the page and replies with a map item (no allocation)
    map_N, flush_N  N pages mapped A -> B -> C (one call from A, B maps on to C), then
                    flushed from A (fpage_unmap own=False: 2N mappings go); ns per mapping,
                    net of the same call without a map item / a flush of nothing
    throughput_N    null RPCs per second, N client/server task pairs at once

Floors and figures are measured side by side: the RPC client task times its kernel
calls and the round trips through each relay floor in alternating blocks of ten; the
page fault is paired with its own thread's null RPCs to its pager; each repeat of the
map/flush chain takes every N once; the throughput rounds alternate relay and kernel,
pass after pass. So a busy host disturbs both sides alike. Every time is the best of
the repeats (the median is beside it), in ns per operation. ratio = figure / floor (for
a rate: floor rate / figure rate), and paired = the median of the per-repeat ratios, on
which a target is judged: 1.0 is "as fast as the floor", larger is slower. See
docs/bench.md.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from typing import Callable

import zmq

from .floors import (MAP_SIZES, PAIRS, PAYLOADS, BenchError, DirectFloor, PipeFloor, RelayRing,
                     Settings, _Peers, _fifos, _pick, _rate, _stat, release)
from .ipc_steps import round_path, step_path
from .node import BenchNode, command

__all__ = ["run", "main", "format_table", "Settings", "BenchError", "FIGURES", "FLOORS",
           "MAP_SIZES", "PAIRS"]

TASKS = "bench.ipc_tasks"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # the project

# name -> (label, floor name, target ratio or None)
FIGURES: dict[str, tuple[str, str, float | None]] = {
    "null_rpc": ("null RPC, 2 words, two tasks", "relay_null", 1.25),
    "null_rpc_local": ("null RPC, 2 lthreads of one task", "relay_null", None),
    "rpc_512": ("RPC + 512 B string", "relay_512", None),
    "rpc_64k": ("RPC + 64 KiB string", "relay_64k", 1.3),
    "null_rpc_pager": ("null RPC, faulting thread to its pager", "relay_null", None),
    "page_fault": ("page fault, pager maps a held page", "null_rpc_pager", 1.3),
    **{f"map_{n}": (f"map {n} pages A->B->C, per mapping", f"map_{MAP_SIZES[0]}", None)
       for n in MAP_SIZES},
    **{f"flush_{n}": (f"flush {2 * n} mappings from A, per mapping", f"flush_{MAP_SIZES[0]}",
                      1.3) for n in MAP_SIZES},
    **{f"throughput_{n}": (f"null RPC/s, {n} pair{'s' if n > 1 else ''}", f"relay_tp_{n}", None)
       for n in PAIRS},
}
FLOORS = ("pipe", "zmq_direct", *(f"relay_{p}" for p in PAYLOADS),
          *(f"relay_tp_{n}" for n in PAIRS))


def side_by_side(bn: BenchNode, rings: list[RelayRing], s: Settings, tmp: str) -> tuple[dict, dict]:
    """Round trips: floors (each payload, each copy mode) and kernel tasks (cross-task
    RPC with each payload, lthread RPC, page fault), repeat after repeat."""
    steps = {name: os.path.join(tmp, name) for name in ("rpc", "local", "fault")}
    for name, prefix in steps.items():
        count = s.repeats * (len(PAYLOADS) if name == "rpc" else 1)
        _fifos(prefix, [step_path(prefix, k) for k in range(count)])
    srv, sid = bn.server("rpc_server")
    pager, pid = bn.server("fault_pager", s.fault_pages)
    relays = ",".join(f"{ring.mode}@{ring.ep}" for ring in rings)
    tasks = {"rpc": bn.start("rpc_client", sid, s.rpc_n, steps["rpc"], s.repeats, relays),
             "local": bn.start("rpc_local", s.rpc_n, steps["local"], s.repeats),
             "fault": bn.start("fault_client", pid, s.fault_pages, steps["fault"], s.repeats)}
    for t in tasks.values():
        bn.line(t, "READY")
    floor = {f"relay_{p}": {ring.mode: [] for ring in rings} for p in PAYLOADS}
    kern: dict[str, list[float]] = {k: [] for k in ("null_rpc", "rpc_512", "rpc_64k",
                                                     "null_rpc_local", "null_rpc_pager",
                                                     "page_fault")}
    flush_requests = []
    def step(name: str, k: int) -> dict:
        release(step_path(steps[name], k))
        return json.loads(bn.line(tasks[name], f"STEP{k}", 120))

    rpc_figure = {"null": ("null_rpc", "null"), "512": ("rpc_512", "str512"),
                  "64k": ("rpc_64k", "str64k")}
    for r in range(s.repeats):
        for i, p in enumerate(PAYLOADS):       # the task times figure and floors call by call
            figure, key = rpc_figure[p]
            times = step("rpc", r * len(PAYLOADS) + i)[key]
            kern[figure].append(times["kernel"])
            for ring in rings:
                floor[f"relay_{p}"][ring.mode].append(times[ring.mode])
        kern["null_rpc_local"].append(step("local", r)["null"])
        fault = step("fault", r)
        kern["page_fault"].append(fault["fault"])
        kern["null_rpc_pager"].append(fault["null"])
        flush_requests.append(fault["flush_request"])
    for t in [*tasks.values(), srv, pager]:
        bn.reap(t)
    floors = {name: _pick({mode: _stat(v) for mode, v in modes.items()})
              for name, modes in floor.items()}
    figs = {name: _stat(v) for name, v in kern.items()}
    figs["page_fault"].update(pages=s.fault_pages,
                              flush_request_ns=round(min(flush_requests), 1))
    # the median of the per-repeat ratios: each repeat of a figure against its floor
    # timed beside it (a relay: the faster mode at that repeat; the page fault: the
    # null RPCs its own thread made to its pager, block by block)
    per_repeat = {name: [min(x) for x in zip(*modes.values())] for name, modes in floor.items()}
    for name, samples in kern.items():
        base = kern.get(FIGURES[name][1]) or per_repeat[FIGURES[name][1]]
        figs[name]["paired_ratio"] = round(statistics.median(
            k / f for k, f in zip(samples, base)), 2)
    return floors, figs


def kernel_map(bn: BenchNode, s: Settings) -> tuple[dict[str, dict], dict]:
    c, cid = bn.server("map_c")
    b, bid = bn.server("map_b", cid)
    a = bn.start("map_a", bid, ",".join(map(str, MAP_SIZES)), s.map_repeats)
    res = json.loads(bn.line(a, "RESULT", 180))
    for t in (a, b, c):
        bn.reap(t)
    empty_call, empty_flush = min(res["empty_call"]), min(res["empty_flush"])
    figs, raw = {}, {"source": res["source"], "empty_call_ns": empty_call,
                     "empty_flush_ns": empty_flush, "sizes": {}}

    def per(total: float, fixed: float, mappings: int) -> float:
        return round(max(0.0, total - fixed) / mappings, 1)
    base = res["sizes"][str(MAP_SIZES[0])]
    for n in MAP_SIZES:
        r, mappings = res["sizes"][str(n)], 2 * n        # B's and C's
        for kind, fixed in (("map", empty_call), ("flush", empty_flush)):
            figs[f"{kind}_{n}"] = {"ns": per(min(r[kind]), fixed, mappings),
                                   "median_ns": per(statistics.median(r[kind]), fixed, mappings),
                                   "total_ns": min(r[kind]), "mappings": mappings}
            # repeat by repeat, against the smallest N's cost in the same repeat
            figs[f"{kind}_{n}"]["paired_ratio"] = round(statistics.median(
                per(t, fixed, mappings) / max(per(b, fixed, 2 * MAP_SIZES[0]), 1.0)
                for t, b in zip(r[kind], base[kind])), 2)
        raw["sizes"][str(n)] = r
    return figs, raw


def throughput(bn: BenchNode, rings: list[RelayRing], s: Settings, tmp: str) -> tuple[dict, dict]:
    """relay_tp_N and throughput_N: for each N, the relay's rounds (each copy mode) and
    the kernel's round, one after the other, and that `tp_passes` times over."""
    go, rounds = os.path.join(tmp, "go-kernel"), s.rounds()
    _fifos(go, [round_path(go, j, i) for j, n in enumerate(rounds) for i in range(n)])
    servers = [bn.server("rpc_server") for _ in range(max(PAIRS))]
    clients = [bn.start("tp_client", sid, go, s.tp_seconds, i, ",".join(map(str, rounds)))
               for i, (_, sid) in enumerate(servers)]
    for c in clients:
        bn.line(c, "READY")
    floor: dict[int, list[dict]] = {n: [] for n in PAIRS}
    kern: dict[int, list[dict]] = {n: [] for n in PAIRS}
    for j, n in enumerate(rounds):
        floor[n].append(_pick({ring.mode: ring.throughput(j, n) for ring in rings}, "rps", max))
        for i in range(n):
            release(round_path(go, j, i))
        kern[n].append(_rate([json.loads(bn.line(c, f"ROUND{j}", 30 + s.tp_seconds))
                              for c in clients[:n]]))
    for t in clients + [srv for srv, _ in servers]:
        bn.reap(t)
    floors, figs = {}, {}
    for n in PAIRS:         # the best round of each side; paired: pass by pass
        floors[f"relay_tp_{n}"] = max(floor[n], key=lambda r: r["rps"])
        figs[f"throughput_{n}"] = {**max(kern[n], key=lambda r: r["rps"]),
                                   "passes_rps": [r["rps"] for r in kern[n]],
                                   "paired_ratio": round(statistics.median(
                                       f["rps"] / k["rps"] for f, k in zip(floor[n], kern[n])), 2)}
    return floors, figs


# -- the run --------------------------------------------------------------------------------

def run(settings: Settings | None = None, node_name: str = "bench",
        progress: Callable[[str], None] = lambda text: None) -> dict:
    """Measure every floor and every kernel figure; returns the JSON-able report."""
    s = settings or Settings()
    load_before = os.getloadavg()[0]
    t_start = last = time.monotonic()
    floors: dict[str, dict] = {}
    figs: dict[str, dict] = {}
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        phases[name] = round(now - last, 2)
        last = now

    tmp = tempfile.mkdtemp(prefix="mkf", dir="/tmp")
    rings: list[RelayRing] = []
    cwd = os.getcwd()
    os.chdir(ROOT)      # `python -m` puts the cwd first on sys.path: a stray bench.py
    try:                # there would shadow this package in the peers and the tasks
        with _Peers() as peers:
            progress("floors: starting the peers")
            pipe, direct = PipeFloor(peers), DirectFloor(peers, tmp)
            rings = [RelayRing(peers, tmp, copy, s) for copy in (True, False)]
            for ring in rings:
                ring.ready()
            phase("peers")
            progress("floors: pipe, direct ZeroMQ")
            floors["pipe"] = pipe.measure(s)
            floors["zmq_direct"] = direct.measure(s)
            phase("floors")
            progress(f"booting a {s.mem_mib} MiB node")
            with BenchNode(node_name, s.mem_mib, TASKS) as bn:
                phase("boot")
                progress("round trips, relay and kernel side by side")
                f, k = side_by_side(bn, rings, s, tmp)
                floors.update(f)
                figs.update(k)
                phase("round_trips")
                progress("kernel: map and flush A -> B -> C")
                f, raw_map = kernel_map(bn, s)
                figs.update(f)
                phase("map")
                progress(f"throughput, relay and kernel, {', '.join(map(str, PAIRS))} pairs")
                f, k = throughput(bn, rings, s, tmp)
                floors.update(f)
                figs.update(k)
                phase("throughput")
        phase("down")
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    for name, (label, floor, target) in FIGURES.items():
        f = figs[name]
        base = floors.get(floor) or figs[floor]
        f.update(label=label, floor=floor, target=target, floor_ns=base["ns"])
        f["ratio"] = round(f["ns"] / base["ns"], 2) if base["ns"] else None
        # judged on the paired ratio (every figure with a target has one): on a busy
        # host best against best swings both ways (docs/bench.md)
        judged = f.get("paired_ratio", f["ratio"])
        f["met"] = None if target is None or judged is None else judged <= target
    return {"python": platform.python_version(), "zmq": zmq.zmq_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "repeats": s.repeats,
            "settings": asdict(s), "floors": floors, "figures": figs, "map": raw_map,
            "seconds": round(time.monotonic() - t_start, 1), "phases": phases,
            "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _us(ns: float) -> str:
    return f"{ns / 1000:9.1f} us" if ns >= 1000 else f"{ns:9.0f} ns"


def format_table(out: dict) -> str:
    fl, fg = out["floors"], out["figures"]
    lines = [f"mk bench ipc  (Python {out['python']}, ZeroMQ {out['zmq']}, {out['machine']}, "
             f"{out['cpus']} CPUs, best of {out['repeats']}, {out['seconds']} s)", "",
             f"{'floor (no kernel)':<40} {'value':>12} {'median':>12}  faster mode"]
    names = {"pipe": "pipe round trip, 8 B", "zmq_direct": "ZeroMQ direct round trip, 8 B",
             "relay_null": "ZeroMQ relay, 4 hops, 8 B", "relay_512": "relay, + 512 B",
             "relay_64k": "relay, + 64 KiB"}
    for k, label in names.items():
        lines.append(f"  {label:<38} {_us(fl[k]['ns']):>12} {_us(fl[k]['median_ns']):>12}  "
                     f"{fl[k].get('mode', '')}")
    for n in PAIRS:
        f = fl[f"relay_tp_{n}"]
        lines.append(f"  {'relay, ' + str(n) + ' pair(s) at once':<38} "
                     f"{f['rps']:9.0f} /s {'':>12}  {f['mode']}")
    lines += ["", f"{'kernel figure':<40} {'value':>12} {'median':>12}  {'floor':<14}"
                  f"{'floor value':>12} {'ratio':>6} {'paired':>6}  target"]
    for name, (label, floor, target) in FIGURES.items():
        f = fg[name]
        if "rps" in f:
            base = fl.get(floor) or fg[floor]
            val, med, fv = f"{f['rps']:9.0f} /s", "", f"{base['rps']:9.0f} /s"
        else:
            val, med, fv = _us(f["ns"]), _us(f["median_ns"]), _us(f["floor_ns"])
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}"
        tgt = "" if target is None else f"<= {target:<4} {'ok' if f['met'] else 'MISSED'}"
        paired = f"{f['paired_ratio']:.2f}" if "paired_ratio" in f else ""
        lines.append(f"  {label:<38} {val:>12} {med:>12}  {floor:<14}{fv:>12} "
                     f"{ratio:>6} {paired:>6}  {tgt}")
    m = out["map"]
    if out["load"][0] > 0.5 * (out["cpus"] or 1):
        lines += ["", f"WARNING: the host was busy (1-minute load {out['load'][0]} at the "
                      f"start, {out['cpus']} CPUs): other processes share the CPUs, so the "
                      "figures are noisy; the ratios hold better, as each repeat of a floor "
                      "sits next to one of its figure"]
    lines += ["", f"map: A's pages came from {m['source']}; taken off per mapping: the "
                  f"chain call without a map item ({_us(m['empty_call_ns']).strip()}), a "
                  f"flush that finds nothing ({_us(m['empty_flush_ns']).strip()})",
              "ratio: best / best floor (for rates, floor rate / rate); paired: the median of "
              "the ratios of each repeat to the floor timed beside it, on which a target is "
              "judged",
              f"map_N and flush_N: per mapping, relative to N={MAP_SIZES[0]} (1.0 = linear)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return command("ipc", __doc__.split("\n")[0], run, format_table, Settings, argv,
                   node="bench")


if __name__ == "__main__":
    sys.exit(main())
