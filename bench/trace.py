"""`mk bench trace`: what `mk trace` costs a null RPC, as a paired figure.

A client task makes null RPCs to an echo server (the tasks of `mk bench ipc`) in
steps of `n` calls; each repeat times one step with the kernel's trace off and one
with it on (switched through the operator's port between steps, the order swapped
every repeat), so both sides share the host's moments. The figure is the traced
null RPC; its floor the untraced one timed beside it; paired = the median of the
per-repeat ratios, on which the target (1.3, docs/trace.md) is judged. The drained
ring is checked to hold each traced call (a call and its reply: at least two records).
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
from dataclasses import dataclass
from typing import Callable

from .floors import BenchError, _fifos, _stat, release
from .ipc_steps import step_path
from .node import BenchNode, command

__all__ = ["run", "main", "format_table", "Settings", "BenchError", "TARGET"]

TASKS = "bench.trace_tasks"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = 1.3


@dataclass
class Settings:
    repeats: int = 15
    n: int = 1000                # null RPCs per step

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=2, n=20)


def _steps(bn: BenchNode, s: Settings, tmp: str) -> tuple[dict, int]:
    """ns per call for each side ({"off": [...], "on": [...]}) and the fewest ring
    entries a traced step left."""
    prefix = os.path.join(tmp, "steps")
    _fifos(prefix, [step_path(prefix, k) for k in range(2 * s.repeats)])
    srv, sid = bn.server("rpc_server")
    client = bn.start("null_client", sid, s.n, prefix, 2 * s.repeats)
    bn.line(client, "READY")
    times: dict[str, list[float]] = {"off": [], "on": []}
    entries = []
    for r in range(s.repeats):
        for i, side in enumerate(("off", "on") if r % 2 == 0 else ("on", "off")):
            k = 2 * r + i
            if side == "on":
                bn.node.control({"op": "trace", "action": "start"}, timeout=30)
            release(step_path(prefix, k))
            times[side].append(json.loads(bn.line(client, f"STEP{k}", 120))["null"])
            if side == "on":
                drained = bn.node.control({"op": "trace", "action": "stop"}, timeout=60)
                entries.append(len(drained["events"]))
    bn.reap(client)
    bn.reap(srv)
    return times, min(entries)


def run(settings: Settings | None = None, node_name: str = "bench-trace",
        progress: Callable[[str], None] = lambda text: None) -> dict:
    """Measure the null RPC with the trace off and on; the JSON-able report."""
    s = settings or Settings()
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="mkt", dir="/tmp")
    cwd = os.getcwd()
    os.chdir(ROOT)                  # the tasks import this package, not a stray bench.py
    try:
        progress("booting a node")
        with BenchNode(node_name, 16, TASKS) as bn:
            progress(f"null RPC, trace off and on, {s.repeats} repeats of {s.n} calls")
            times, entries = _steps(bn, s, tmp)
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = _stat(times["off"]), _stat(times["on"])
    paired = statistics.median(b / a for a, b in zip(times["off"], times["on"]))
    if entries < 2 * s.n:
        raise BenchError(f"a traced step of {s.n} calls left {entries} records (fewer "
                         f"than two per call): the trace did not see every IPC")
    fig = {**on, "label": "null RPC, traced", "floor": "null_rpc", "floor_ns": off["ns"],
           "ratio": round(on["ns"] / off["ns"], 2), "paired_ratio": round(paired, 2),
           "target": TARGET, "met": paired <= TARGET}
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "repeats": s.repeats, "n": s.n, "records_per_step": entries,
            "figures": {"null_rpc": off, "null_rpc_traced": fig},
            "seconds": round(time.monotonic() - t_start, 1), "load": os.getloadavg()[0]}


def format_table(out: dict) -> str:
    off, on = out["figures"]["null_rpc"], out["figures"]["null_rpc_traced"]
    us = lambda ns: f"{ns / 1000:8.1f} us"
    return "\n".join([
        f"mk bench trace  (Python {out['python']}, {out['cpus']} CPUs, best of "
        f"{out['repeats']} x {out['n']} calls, {out['seconds']} s)", "",
        f"{'figure':<28} {'value':>11} {'median':>11}  {'ratio':>6} {'paired':>6}  target",
        f"  {'null RPC, trace off':<26} {us(off['ns'])} {us(off['median_ns'])}",
        f"  {'null RPC, trace on':<26} {us(on['ns'])} {us(on['median_ns'])}  "
        f"{on['ratio']:>6.2f} {on['paired_ratio']:>6.2f}  <= {on['target']} "
        f"{'ok' if on['met'] else 'MISSED'}", "",
        f"records drained per traced step: {out['records_per_step']} "
        f"(at least 2 per call)",
        "paired: the median of the per-repeat ratios, trace on / off, timed side by side"])


def main(argv: list[str] | None = None) -> int:
    return command("trace", __doc__.split("\n")[0], run, format_table, Settings, argv,
                   node="bench-trace")


if __name__ == "__main__":
    sys.exit(main())
