"""`mk top`: IPC rates per task and thread states, refreshing in the terminal.

It runs the kernel's trace (docs/trace.md) for as long as it shows: every interval it
drains the ring (the control op `trace` with action `drain`), counts each task's IPC
sends, receipts and page faults, and puts them beside `mk ps`'s thread states. So it
refuses to start while a trace is running (it would take that trace's records), and
switches the trace off when it ends (q is not read: Ctrl-C, or `-n` refreshes).
"""
from __future__ import annotations

import sys
import time

import click

from microkernel.abi.threadid import TASK_MASK, TASK_SHIFT

from .lifecycle import open_node
from .node import Node, NodeError
from .timeline import short

__all__ = ["top", "rates", "table"]

CLEAR = "\x1b[H\x1b[2J"


def rates(events: list[dict], seconds: float) -> dict[int, dict]:
    """Per task number: sends, receipts and faults per second in `events` (drained
    records; a task number's older versions count with it)."""
    out: dict[int, dict] = {}
    kinds = {"ipc": "sent", "recv": "recv", "pf": "faults"}
    for e in events:
        tid, column = e.get("tid"), kinds.get(e["k"])
        if column is None or type(tid) is not int or tid <= 16 or \
                (column == "sent" and e["dest"] is None):
            continue
        row = out.setdefault((tid >> TASK_SHIFT) & TASK_MASK,
                             {"sent": 0.0, "recv": 0.0, "faults": 0.0})
        row[column] += 1 / seconds
    return out


def table(node: str, ps: list[dict], per_task: dict[int, dict], seconds: float) -> str:
    """The screen: a total line, then one line per task (`mk ps` rows), busiest first."""
    zero = {"sent": 0.0, "recv": 0.0, "faults": 0.0}
    rows = []
    for r in ps:
        rate = per_task.get(r["task"], zero)
        states = _states(r["threads"])
        rows.append((rate["sent"] + rate["recv"], r["task"], short(r["entry"] or "-"),
                     rate, states))
    rows.sort(key=lambda x: (-x[0], x[1]))
    total = sum(r[3]["sent"] for r in rows)
    faults = sum(r[3]["faults"] for r in rows)
    lines = [f"mk top: node {node}, every {seconds:g} s (Ctrl-C quits); "
             f"IPC {total:.0f}/s, page faults {faults:.0f}/s", "",
             f"{'TASK':>5}  {'ENTRY':<30} {'SENT/s':>8} {'RECV/s':>8} {'FAULT/s':>8}  THREADS"]
    for _, no, entry, rate, states in rows:
        lines.append(f"{no:>5}  {entry[:30]:<30} {rate['sent']:>8.0f} {rate['recv']:>8.0f} "
                     f"{rate['faults']:>8.0f}  {states}")
    return "\n".join(lines)


def _states(threads: list[dict]) -> str:
    """Each thread's state (`0:receiving 1:running`), or for many, how many are in each."""
    if len(threads) <= 4:
        return " ".join(f"{t['lthread']}:{t['state']}" for t in threads)
    counts: dict[str, int] = {}
    for t in threads:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _control(node: Node, req: dict, timeout: float = 10.0) -> dict:
    try:
        return node.control(req, timeout)
    except NodeError as e:
        raise click.ClickException(str(e))


@click.command()
@click.option("--node", "node_name", default="local", show_default=True,
              help="which node (a folder under $MK_HOME)")
@click.option("-d", "seconds", type=click.FloatRange(0.1, 60), default=1.0,
              show_default=True, help="seconds between refreshes")
@click.option("-n", "count", type=click.IntRange(1), default=None,
              help="refresh this many times, then end (default: until Ctrl-C)")
def top(node_name: str, seconds: float, count: int | None) -> None:
    """IPC rates per task, and each thread's state, refreshing (runs the kernel's trace)."""
    node = open_node(node_name)
    _control(node, {"op": "trace", "action": "start"})
    clear = CLEAR if sys.stdout.isatty() else ""
    try:
        shown = 0
        last = time.monotonic()
        while count is None or shown < count:
            time.sleep(seconds)
            drained = _control(node, {"op": "trace", "action": "drain"}, 60.0)
            now = time.monotonic()
            ps = _control(node, {"op": "ps"})["tasks"]
            screen = table(node.name, ps, rates(drained["events"], now - last), seconds)
            click.echo(clear + screen + ("" if clear else "\n"))
            last, shown = now, shown + 1
    except KeyboardInterrupt:
        pass
    finally:
        try:
            node.control({"op": "trace", "action": "stop"}, 60.0)
        except NodeError:
            pass
