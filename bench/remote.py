"""`mk bench net`'s remote IPC part: a cluster of two nodes (`mk up --nodes 2` in a
temporary $MK_HOME), the figures of docs/net.md beside their floors, timed in the same
run by the same task (bench/remote_tasks.py:client on n1), in alternating blocks:

  floors   raw frames between two tasks through both NIC drivers (60 B and 1514 B
           round trips; the link floor: back-to-back 1514 B frames, driver to driver,
           MB/s as the far task received them); a local null RPC
  figures  remote null RPC (÷ the 60 B frame round trip: target <= 1.5, goal 1.25);
           1 MiB carried remotely (÷ the link floor: target >= 0.5, goal 0.85);
           remote ÷ local null RPC, and the 60 B frame round trip ÷ a local null RPC
           (reported); N counted calls on a clean link, then on a seeded 10% loss, 5%
           duplication and 5% reordering (the count must end at exactly N, every call
           OK; the time is reported against the clean run); `mk down` of the far node
           to the error at a caller waiting with timeout NEVER, in announcement
           intervals (target <= 3); and the Unix figures across nodes, /net and
           `on` (bench/onnet.py)
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from .floors import BenchError
from .node import BenchNode
from .onnet import format_onnet, onnet

__all__ = ["remote", "format_remote"]

TASKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "remote_tasks.py")
INTERVAL = 1.0                          # servers/comm/peers.py
RPC_TARGET, BULK_TARGET, DEATH_TARGET = 1.5, 0.5, 3.0
IMPAIR = ("--loss", "0.1", "--dup", "0.05", "--reorder", "0.05", "--seed", "7")


def mk(home: str, *args: str, timeout: float = 120) -> str:
    """`mk ARGS` with MK_HOME=home; its stdout (BenchError with its last words if it fails)."""
    r = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})
    if r.returncode:
        raise BenchError(f"mk {' '.join(args)}: {(r.stderr or r.stdout).strip()[-500:]}")
    return r.stdout


def _median(xs) -> float:
    return round(statistics.median(xs), 3)


def remote(s, progress) -> dict:
    """The remote IPC figures (see the module docstring)."""
    from cli.node import Node
    home = tempfile.mkdtemp(prefix="mkb", dir="/tmp")
    try:
        progress("remote IPC: mk up --nodes 2")
        mk(home, "up", "--nodes", "2")
        n1, n2 = (BenchNode.running(Node(f"n{i}", home), TASKS) for i in (1, 2))
        _hear(n1, "n2")
        n2.server("echo")
        mac = n2.line(n2.start("raw"), "READY")
        n1.server("echo")
        progress("remote IPC: paired blocks")
        c = n1.start("client", mac, "n2", s.remote_repeats, s.remote_n, s.stream)
        rounds = [[float(x) for x in n1.line(c, f"ROUND {r}", 600).split()]
                  for r in range(s.remote_repeats)]
        bulks = [[float(x) for x in n1.line(c, f"BULK {r}", 600).split()]
                 for r in range(s.remote_repeats)]
        n1.line(c, "DONE")
        out = _paired(rounds, bulks)
        out["unix"] = onnet(n1, s.remote_repeats, progress)
        progress(f"remote IPC: {s.counted} counted calls, clean then impaired")
        out["exactly_once"] = _counted(n1, home, s.counted)
        progress("remote IPC: mk down of the far node")
        out["death"] = _death(n1, home)
        return out
    finally:
        subprocess.run([sys.executable, "-m", "cli.main", "down", "--all"], capture_output=True,
                       timeout=120, env={**os.environ, "MK_HOME": home})
        shutil.rmtree(home, ignore_errors=True)


def _hear(n: BenchNode, peer: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(p["name"] == peer and p["alive"]
                  for p in n.node.root({"op": "nodes"}).get("peers", ())):
        if time.monotonic() > deadline:
            raise BenchError(f"{n.node.name} has not heard of {peer} in {timeout:.0f} s")
        time.sleep(0.1)


def _paired(rounds, bulks) -> dict:
    ping60, ping1514, rpc, local = (list(col) for col in zip(*rounds))
    ratio = [r / p for r, p in zip(rpc, ping60)]
    floor = [b / secs / 1e6 for b, secs, _, _ in bulks]
    carried = [size / secs / 1e6 for _, _, size, secs in bulks]
    bulk = [c / f for c, f in zip(carried, floor)]
    ms = lambda xs: [round(x / 1e6, 3) for x in xs]
    return {
        "frame_rtt_60_ms": ms(ping60), "frame_rtt_1514_ms": ms(ping1514),
        "remote_rpc_ms": ms(rpc), "local_rpc_ms": ms(local),
        "remote_rpc_per_frame_rtt": [round(x, 2) for x in ratio],
        "remote_rpc_per_frame_rtt_median": _median(ratio), "rpc_target": RPC_TARGET,
        "frame_rtt_per_local_rpc": _median([p / l for p, l in zip(ping60, local)]),
        "remote_per_local_rpc": _median([r / l for r, l in zip(rpc, local)]),
        "link_floor_mb_s": [round(x, 3) for x in floor],
        "bulk_mb_s": [round(x, 3) for x in carried],
        "bulk_per_link_floor": [round(x, 2) for x in bulk],
        "bulk_per_link_floor_median": _median(bulk), "bulk_target": BULK_TARGET,
    }


def _counted(n1: BenchNode, home: str, n: int) -> dict:
    runs = {}
    for name, args in (("clean", ("--clear",)), ("impaired", IMPAIR)):
        mk(home, "link", "n1", *args)
        t = n1.start("counted", "n2", n)
        ok, last, secs = n1.line(t, "COUNTED", 60 + n).split()
        n1.reap(t)
        runs[name] = {"ok": int(ok), "last": int(last), "seconds": round(float(secs), 2)}
    mk(home, "link", "n1", "--clear")
    runs["calls"] = n
    runs["exact"] = (runs["impaired"]["ok"] == n
                     and runs["impaired"]["last"] - runs["clean"]["last"] == n)
    runs["impaired_per_clean"] = round(runs["impaired"]["seconds"]
                                       / max(runs["clean"]["seconds"], 1e-9), 2)
    return runs


def _death(n1: BenchNode, home: str) -> dict:
    t = n1.start("hold", "n2")
    n1.line(t, "HOLDING")
    time.sleep(0.2)                       # the call is on its way: let it arrive
    t0 = time.monotonic()
    mk(home, "down", "--node", "n2")
    code, at = n1.line(t, "ENDED", 30).split()
    seconds = float(at) - t0
    return {"error": code, "seconds": round(seconds, 2),
            "intervals": round(seconds / INTERVAL, 2), "target": DEATH_TARGET,
            "met": code == "NOT_EXISTENT" and seconds / INTERVAL <= DEATH_TARGET}


def format_remote(o: dict) -> str:
    met = lambda ok: "met" if ok else "NOT met"
    e, d = o["exactly_once"], o["death"]
    return "\n".join([
        "remote IPC, two nodes (medians of the paired blocks; every block in --json):",
        f"  60 B frame round trip through both drivers  {_median(o['frame_rtt_60_ms'])} ms"
        f"  (1514 B: {_median(o['frame_rtt_1514_ms'])} ms)",
        f"  local null RPC                              {_median(o['local_rpc_ms'])} ms;"
        f" frame round trip / local RPC {o['frame_rtt_per_local_rpc']}",
        f"  remote null RPC                             {_median(o['remote_rpc_ms'])} ms:"
        f" {o['remote_rpc_per_frame_rtt_median']} x the frame round trip (target <= "
        f"{o['rpc_target']}: {met(o['remote_rpc_per_frame_rtt_median'] <= o['rpc_target'])});"
        f" {o['remote_per_local_rpc']} x a local one",
        f"  link floor {_median(o['link_floor_mb_s'])} MB/s; 1 MiB carried remotely "
        f"{_median(o['bulk_mb_s'])} MB/s: {o['bulk_per_link_floor_median']} of the floor "
        f"(target >= {o['bulk_target']}: "
        f"{met(o['bulk_per_link_floor_median'] >= o['bulk_target'])})",
        f"  {e['calls']} counted calls: clean {e['clean']['seconds']} s, impaired "
        f"{e['impaired']['seconds']} s ({e['impaired_per_clean']} x), "
        f"{e['impaired']['ok']} OK, exactly once: {'yes' if e['exact'] else 'NO'}",
        f"  mk down of the far node: the caller got {d['error']} after {d['seconds']} s = "
        f"{d['intervals']} intervals (target <= {d['target']}: {met(d['met'])})",
        *([format_onnet(o["unix"])] if "unix" in o else [])])
