"""Figure 3 of `mk bench paper`: RPC overhead against the work done between two RPCs.

`figure3` runs the loops of bench/paper_tasks.py in the node; `thresholds` turns their
times into overheads, (loop - work alone) / loop, the median of the per-repeat ratios,
and into the work that keeps each transport under 10% and 50%: from the RPC's own cost R
(the loop at zero work, less nothing) and a line's cost l, overhead(L) = R / (R + L l),
so L(10%) = 9 R / l and L(50%) = R / l; the measured curve is beside it, and where it
crosses 10% between two levels (interpolated on the log scale) is reported too.
"""
from __future__ import annotations

import json
import math
import statistics

from .node import BenchNode

__all__ = ["LEVELS", "figure3", "thresholds"]

LEVELS = (0, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000)    # lines per RPC


def figure3(bn: BenchNode, endpoint: str, levels, repeats: int) -> dict:
    """The raw loop times (ns per iteration by side and level) and ns per line."""
    srv, sid = bn.server("fig3_server")
    client = bn.start("fig3_client", sid, endpoint, ",".join(map(str, levels)), repeats)
    got = json.loads(bn.line(client, "RESULT", 300))
    for t in (client, srv):
        bn.reap(t)
    got["levels"] = list(levels)
    return got


def _crossing(levels: list[int], overhead: list[float], at: float) -> float | None:
    """The work at which the measured curve first falls to `at`, log-interpolated."""
    for (l0, o0), (l1, o1) in zip(zip(levels, overhead), zip(levels[1:], overhead[1:])):
        if o0 > at >= o1 and l0 > 0:
            f = (o0 - at) / (o0 - o1)
            return round(math.exp(math.log(l0) + f * (math.log(l1) - math.log(l0))))
        if o0 > at >= o1:
            return l1
    return None


def thresholds(raw: dict, ipc_ns: float) -> dict:
    """Overheads per level and side, and the work under 10% / 50% for each side."""
    levels, per_line, s = raw["levels"], raw["line_ns"], raw["samples"]
    out = {"levels": levels, "line_ns": round(per_line, 2), "under": {},
           "ns": {side: [round(min(s[side][str(L)]), 1) for L in levels] for side in s}}
    for side in ("kernel", "direct"):
        out[side] = [round(statistics.median((x - w) / x for x, w in
                                             zip(s[side][str(L)], s["local"][str(L)])), 4)
                     for L in levels]
        cost = statistics.median(x - w for x, w in zip(s[side][str(levels[0])],
                                                       s["local"][str(levels[0])]))
        out["under"][side] = {"rpc_ns": round(cost, 1), "10": round(9 * cost / per_line),
                              "50": round(cost / per_line), "10_us": 9 * cost / 1000,
                              "10_measured": _crossing(levels, out[side], 0.10)}
    out["ipc_ns"] = ipc_ns
    return out
