"""`mk bench net`: the switch's forwarding cost, its loop, and a cluster's boot, each
beside its floor measured in the same run.

1. **Forwarding**: a frame's round trip, and a burst of BURST frames out and back,
   between this process and an echo process (`python -m bench.net echo SPEC`): over the
   old direct cable (the floor), through the switch on its zmq.Poller loop, and through
   the same switch on asyncio's uvloop (bench/switch_uvloop.py), for 60 B and 1514 B
   frames. The three paths are up at once and their blocks alternate, so a host whose
   load changes weighs on all alike. Ratios: switch / cable, uvloop / poller.
2. **Boot**: `mk up --nodes 4` beside one node's `mk up` (the command line, each in a
   fresh $MK_HOME, fresh disk images included), alternating; target ratio <= 2.5.
3. **Remote IPC** on two nodes beside raw frames and a local RPC: bench/remote.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from cluster.client import SwitchClient
from hw.nic_cable import Cable

from .floors import BenchError
from .remote import format_remote, remote

__all__ = ["run", "format_table", "main", "Settings"]

_now = time.perf_counter_ns
SIZES = (60, 1514)
BURST = 100
STOP = b"\xff" * 6 + b"\x02\x6d\x6b\x00\x00\x00" + b"\xff\xff"     # ends an echo peer
BOOT_TARGET = 2.5


@dataclass
class Settings:
    repeats: int = 15            # blocks of each path, alternating
    rtt_n: int = 200             # round trips per block
    bursts: int = 10             # bursts per block
    boot_repeats: int = 3
    boot_nodes: int = 4
    remote_repeats: int = 7      # paired blocks of the remote IPC part (bench/remote.py)
    remote_n: int = 50           # round trips per block
    stream: int = 300            # frames of the link floor's stream
    counted: int = 10000         # counted calls, clean and impaired

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=1, rtt_n=5, bursts=1, boot_repeats=1, boot_nodes=2,
                   remote_repeats=1, remote_n=3, stream=20, counted=20)


def echo(spec: str) -> None:
    """Peer: send every frame back to its source until STOP comes (or 60 s of silence)."""
    cable = Cable(spec)
    sock = cable.sock
    try:
        while sock.poll(60_000):
            f = sock.recv()
            if f.startswith(STOP):
                return
            sock.send(f[6:12] + f[:6] + f[12:])
    finally:
        cable.close()


class Path:
    """This end of one path (cable or switch) with its echo peer process."""

    def __init__(self, name: str, mine: str, peer: str):
        self.name = name
        self.cable = Cable(mine)
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.net", "echo", peer])
        self.frame = {n: b"\x02\x6d\x6b\x00\x00\x02" + b"\x02\x6d\x6b\x00\x00\x01"
                      + b"\x88\xb5" + bytes(n - 14) for n in SIZES}

    def start(self, connected=lambda: True) -> "Path":
        """Wait for carrier and for `connected()` (both ends on the switch); warm up."""
        deadline = time.monotonic() + 15
        while not ((self.cable.carrier_events() or self.cable.carrier) and connected()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise BenchError(f"{self.name}: the echo peer never connected")
            time.sleep(0.01)
        self.rtt(60, 20)                          # learned, warm
        return self

    def _recv(self) -> bytes:
        if not self.cable.sock.poll(5000):
            raise BenchError(f"{self.name}: a frame did not come back in 5 s")
        return self.cable.sock.recv()

    def rtt(self, size: int, n: int) -> float:
        """Median ns of n round trips of one frame."""
        f, send, out = self.frame[size], self.cable.sock.send, []
        for _ in range(n):
            t0 = _now()
            send(f)
            self._recv()
            out.append(_now() - t0)
        return statistics.median(out)

    def burst(self, size: int, n: int) -> float:
        """Median ns per frame of n bursts of BURST frames out and all back."""
        f, send, out = self.frame[size], self.cable.sock.send, []
        for _ in range(n):
            t0 = _now()
            for _ in range(BURST):
                send(f)
            for _ in range(BURST):
                self._recv()
            out.append((_now() - t0) / BURST)
        return statistics.median(out)

    def close(self) -> None:
        self.cable.send(STOP)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.cable.close()


def _switch_path(home: str, module: str, name: str, switches: list, paths: list) -> None:
    """A switch of its own (`python -m module`) with this end on port a, the echo on b."""
    sw = SwitchClient(home)
    sw.start(module=module)
    switches.append(sw)
    a = sw.request("add", name="a", site=1)["endpoint"]
    b = sw.request("add", name="b", site=2)["endpoint"]
    paths.append(Path(name, f"connect:{a}", f"connect:{b}"))
    paths[-1].start(lambda: all(p["node"] for p in sw.request("status")["ports"]))


def forwarding(s: Settings, progress) -> dict:
    """Round trips and bursts on the three paths, in alternating blocks."""
    home = tempfile.mkdtemp(prefix="mkn", dir="/tmp")
    switches, paths = [], []
    try:
        progress("forwarding: a direct cable, the switch (zmq.Poller), the switch (uvloop)")
        paths.append(Path("cable", f"bind:ipc://{home}/direct.cable",
                          f"connect:ipc://{home}/direct.cable"))
        paths[-1].start()
        for name, module in (("poller", "cluster.switch"), ("uvloop", "bench.switch_uvloop")):
            _switch_path(os.path.join(home, name), module, name, switches, paths)
        samples = {(p.name, kind, n): [] for p in paths for kind in ("rtt", "burst")
                   for n in SIZES}
        for _ in range(s.repeats):
            for n in SIZES:
                for p in paths:
                    samples[(p.name, "rtt", n)].append(p.rtt(n, s.rtt_n))
                    samples[(p.name, "burst", n)].append(p.burst(n, s.bursts))
    finally:
        for p in paths:
            p.close()
        for sw in switches:
            sw.stop()
        shutil.rmtree(home, ignore_errors=True)
    out = {}
    for (path, kind, n), v in samples.items():
        out.setdefault(f"{kind}_{n}", {})[path] = round(statistics.median(v))
    for fig in out.values():
        fig["switch_ratio"] = round(fig["poller"] / fig["cable"], 2)
        fig["uvloop_ratio"] = round(fig["uvloop"] / fig["poller"], 2)
    return out


def _mk(home: str, *args: str) -> float:
    """Seconds `mk ARGS` took in $MK_HOME `home` (BenchError if it failed)."""
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                       text=True, env={**os.environ, "MK_HOME": home}, timeout=300)
    if r.returncode != 0:
        raise BenchError(f"mk {' '.join(args)}: {r.stderr.strip() or r.stdout}")
    return time.monotonic() - t0


def boot(s: Settings, progress) -> dict:
    """One node's `mk up` and `mk up --nodes N`, alternating, fresh homes."""
    one, many = [], []
    for r in range(s.boot_repeats):
        for label, args, into in (("1 node", ("up", "--node", "n1"), one),
                                  (f"{s.boot_nodes} nodes", ("up", "--nodes",
                                                            str(s.boot_nodes)), many)):
            home = tempfile.mkdtemp(prefix="mkn", dir="/tmp")
            try:
                into.append(_mk(home, *args))
                progress(f"boot {r + 1}/{s.boot_repeats}: {label} in {into[-1]:.2f}s")
            finally:
                subprocess.run([sys.executable, "-m", "cli.main", "down", "--all"],
                               capture_output=True, env={**os.environ, "MK_HOME": home})
                shutil.rmtree(home, ignore_errors=True)
    o, m = statistics.median(one), statistics.median(many)
    return {"one_s": round(o, 2), "cluster_s": round(m, 2), "nodes": s.boot_nodes,
            "one_all": [round(x, 2) for x in one], "cluster_all": [round(x, 2) for x in many],
            "ratio": round(m / o, 2), "target": BOOT_TARGET, "met": m / o <= BOOT_TARGET}


def run(s: Settings, progress=lambda text: None,
        parts=("forwarding", "boot", "remote")) -> dict:
    """The figures of `parts` (forwarding, boot, remote), and the settings."""
    out = {"settings": vars(s)}
    if "forwarding" in parts:
        out["forwarding"] = forwarding(s, progress)
    if "boot" in parts:
        out["boot"] = boot(s, progress)
    if "remote" in parts:
        out["remote"] = remote(s, progress)
    return out


def format_table(o: dict) -> str:
    lines = []
    if "forwarding" in o:
        lines += ["frames between two processes: median ns per frame",
                  f"{'figure':<16} {'cable':>9} {'switch':>9} {'ratio':>6} {'uvloop':>9} "
                  f"{'uv/poll':>7}"]
    for name, f in o.get("forwarding", {}).items():
        kind, n = name.split("_")
        label = f"{'round trip' if kind == 'rtt' else f'burst {BURST}'} {n}B"
        lines.append(f"{label:<16} {f['cable']:>9} {f['poller']:>9} {f['switch_ratio']:>6} "
                     f"{f['uvloop']:>9} {f['uvloop_ratio']:>7}")
    b = o.get("boot")
    if b:
        lines += ["", f"boot: one node {b['one_s']}s, mk up --nodes {b['nodes']} "
                      f"{b['cluster_s']}s: ratio {b['ratio']} (target <= {b['target']}: "
                      f"{'met' if b['met'] else 'NOT met'})"]
    if "remote" in o:
        lines += ["", format_remote(o["remote"])]
    return "\n".join(lines).strip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["echo"]:
        echo(argv[1])
        return 0
    p = argparse.ArgumentParser(prog="mk bench net")
    p.add_argument("--json", action="store_true")
    p.add_argument("--quick", action="store_true", help="tiny counts (a smoke run)")
    p.add_argument("--only", choices=("forwarding", "boot", "remote"), default=None)
    a = p.parse_args(argv)
    o = run(Settings.quick() if a.quick else Settings(),
            lambda text: print(f"  {text}", file=sys.stderr),
            (a.only,) if a.only else ("forwarding", "boot", "remote"))
    print(json.dumps(o, indent=2) if a.json else format_table(o))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
