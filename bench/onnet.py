"""`mk bench net`'s Unix-across-nodes figures, on the remote part's cluster (bench/
remote.py), paired against floors timed in the same repeat by the same task on n1
(bench/onnet_tasks.py:client):

  net_read   read(2) of a 1 MiB file of n2 through /net/n2 by a Unix process of n1
             (÷ the remote string floor, 1 MiB carried to n2's echo in one call, as
             MB/s: target >= 0.5)
  on_true    `on n2 true` as the shell runs it, its builtin's ON system call (÷ fork
             + exec /bin/true + wait locally plus one remote null RPC: target <= 1.5);
             and as /bin/on runs it, fork + exec `/bin/on n2 /bin/true` + wait (÷ the
             same floor: reported)
"""
from __future__ import annotations

import statistics

from .node import BenchNode

__all__ = ["onnet", "format_onnet"]

TASKS = __file__.replace("onnet.py", "onnet_tasks.py")
READ_TARGET, ON_TARGET = 0.5, 1.5
ON_RUNS = 10                      # runs of each command per repeat (medians)


def onnet(n1: BenchNode, repeats: int, progress) -> dict:
    """The paired figures (see the module docstring); n2 runs the echo server."""
    progress("unix across nodes: /net read and on n2 true")
    b = BenchNode.running(n1.node, TASKS)
    t = b.start("client", "n2", repeats, ON_RUNS)
    rows = [[float(x) for x in b.line(t, f"ROUND {r}", 600).split()]
            for r in range(repeats)]
    b.line(t, "DONE")
    string, read, rpc, true, on, on_prog = (list(c) for c in zip(*rows))
    read_ratio = [s / r for s, r in zip(string, read)]       # MB/s ratio = time ratio
    on_ratio = [o / (t + p) for o, t, p in zip(on, true, rpc)]
    prog_ratio = [o / (t + p) for o, t, p in zip(on_prog, true, rpc)]
    ms = lambda xs: [round(x / 1e6, 3) for x in xs]
    med = lambda xs: round(statistics.median(xs), 2)
    return {"string_1mib_ms": ms(string), "net_read_1mib_ms": ms(read),
            "net_read_per_string": [round(x, 2) for x in read_ratio],
            "net_read_per_string_median": med(read_ratio), "read_target": READ_TARGET,
            "remote_rpc_ms": ms(rpc), "true_ms": ms(true), "on_true_ms": ms(on),
            "on_per_true_plus_rpc": [round(x, 2) for x in on_ratio],
            "on_per_true_plus_rpc_median": med(on_ratio), "on_target": ON_TARGET,
            "on_program_true_ms": ms(on_prog),
            "on_program_per_true_plus_rpc": [round(x, 2) for x in prog_ratio],
            "on_program_per_true_plus_rpc_median": med(prog_ratio)}


def format_onnet(o: dict) -> str:
    met = lambda ok: "met" if ok else "NOT met"
    med = lambda xs: round(statistics.median(xs), 3)
    r, n = o["net_read_per_string_median"], o["on_per_true_plus_rpc_median"]
    return "\n".join([
        "unix across nodes (medians of the paired repeats; every one in --json):",
        f"  read 1 MiB of /net/n2 {med(o['net_read_1mib_ms'])} ms; 1 MiB string to n2 "
        f"{med(o['string_1mib_ms'])} ms: {r} of the floor's MB/s (target >= "
        f"{o['read_target']}: {met(r >= o['read_target'])})",
        f"  on n2 true {med(o['on_true_ms'])} ms; true {med(o['true_ms'])} ms + remote "
        f"null RPC {med(o['remote_rpc_ms'])} ms: {n} x (target <= {o['on_target']}: "
        f"{met(n <= o['on_target'])})",
        f"  /bin/on n2 true (fork + exec + wait) {med(o['on_program_true_ms'])} ms: "
        f"{o['on_program_per_true_plus_rpc_median']} x the same floor"])
