"""`mk bench unix`: the Unix personality's figures beside floors measured in the same run.

    getpid          the GETPID system call (program -> unix server -> program: one RPC),
                    beside a null RPC the same process makes to its own second lthread
                    (target <= 1.2); `libc.getpid()` itself is shown too: libc keeps the
                    pid, so it makes no IPC at all
    read_4k         read(2) of 4 KiB of a file the fs server's buffer cache holds:
                    program -> unix -> fs and back, two RPCs; beside the same null RPC
    spawn_wait      posix_spawn of /bin/true + waitpid from a process (one system call
                    makes the child: no fork), beside the host's os.posix_spawn +
                    waitpid of /bin/true, the same calls (target <= 10)
    fork_exec_wait  fork + exec /bin/true + waitpid from a process, beside the same
                    host floor (which spawns, so this ratio also counts the fork)
    pipeline        fork + exec `sh -c 'cat /tmp/big | grep x | wc -l'` over 1 MiB, its
                    output read through a pipe and checked, beside the host's `sh -c`
                    of the same pipeline over the same bytes
    create_file     creating 1,000 empty files (open O_CREAT|O_EXCL, close) in a new
                    directory, per file, beside the host creating as many in /tmp
    boot            `mk up` (Node.up) of a fresh node in a temporary $MK_HOME until
                    `mk sh -c true` (root runs the session task) succeeds, in seconds,
                    beside the 3 s target

The figures are measured by Unix processes (bench/unix_tasks.py) of a node booted for
the run; the host floors are measured by this process, step by step between the
processes' repeats, so a busy host disturbs both sides alike. value = best, median
beside it; ratio = figure / floor. See docs/bench.md.
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
from dataclasses import asdict, dataclass
from typing import Callable

from .floors import BenchError, release
from .node import BenchNode, command
from .unix_tasks import PIPELINE, big_data, create_files, step_path

__all__ = ["run", "main", "format_table", "Settings", "FIGURES", "FLOORS", "BOOT_TARGET_S"]

_now = time.perf_counter_ns
TASKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unix_tasks.py")
SESSION = "personalities.unix.session:main"
BOOT_TARGET_S = 3.0

# name -> (label, floor, target ratio or None)
FIGURES: dict[str, tuple[str, str, float | None]] = {
    "getpid": ("getpid system call (1 RPC to unix)", "null_rpc_local", 1.2),
    "getpid_libc": ("libc.getpid() (pid kept in libc)", "null_rpc_local", None),
    "read_4k": ("read 4 KiB, cached (2 RPCs)", "null_rpc_local", None),
    "spawn_wait": ("posix_spawn /bin/true + wait", "host_spawn_true", 10.0),
    "fork_exec_wait": ("fork + exec /bin/true + wait", "host_spawn_true", None),
    "pipeline": ("sh -c 'cat | grep x | wc -l', 1 MiB", "host_pipeline", 20.0),
    "create_file": ("create a file (of 1,000, per file)", "host_create_file", None),
}
FLOORS = ("null_rpc_local", "host_spawn_true", "host_pipeline", "host_create_file")


@dataclass
class Settings:
    """Counts per repeat. `quick()` checks that every path works; it times nothing."""

    repeats: int = 7
    n: int = 1000                # calls per repeat: null RPC, getpid, read
    forks: int = 5               # spawn+wait and fork+exec+wait of /bin/true per repeat
    pipelines: int = 1           # pipelines per repeat
    mib: float = 1.0             # the pipeline's file
    files: int = 1000            # files created per repeat
    boots: int = 3               # fresh nodes booted to a shell
    mem_mib: int = 32

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=1, n=20, forks=1, pipelines=1, mib=1.0, files=20, boots=1)


def _stat(samples: list[float]) -> dict:
    return {"ns": round(min(samples), 1), "median_ns": round(statistics.median(samples), 1),
            "samples": len(samples)}


# -- host floors ------------------------------------------------------------------------

def host_spawn_true() -> int:
    """ns for os.posix_spawn of /bin/true and its waitpid."""
    t0 = _now()
    pid = os.posix_spawn("/bin/true", ["true"], os.environ)
    _, status = os.waitpid(pid, 0)
    took = _now() - t0
    if status:
        raise BenchError(f"host /bin/true: wait status {status}")
    return took


def host_pipeline(path: str, expect: int) -> int:
    """ns for the host's `sh -c 'cat PATH | grep x | wc -l'`, output read from a pipe."""
    r, w = os.pipe()
    t0 = _now()
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", PIPELINE.format(path=path)], os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_CLOSE, r)])
    os.close(w)
    out = bytearray()
    while chunk := os.read(r, 65536):
        out += chunk
    _, status = os.waitpid(pid, 0)
    took = _now() - t0
    os.close(r)
    if status or out.strip() != str(expect).encode():
        raise BenchError(f"host pipeline: status {status}, output {bytes(out)!r}, want {expect}")
    return took


# -- boot -------------------------------------------------------------------------------

def boot_once(mem_mib: int = 16, timeout: float = 60.0) -> dict:
    """Seconds from Node.up of a fresh node (a temporary $MK_HOME: the disk image is made
    first) to the first `sh -c true` that succeeds, with the time of each stage."""
    from cli.node import Node, NodeError
    home = tempfile.mkdtemp(prefix="mkboot", dir="/tmp")
    node = Node("boot", home)
    marks: dict[str, float] = {}
    t0 = time.monotonic()

    def progress(text: str) -> None:              # "booting node boot: kernel" ends the image
        marks.setdefault("kernel" if text.startswith("booting") else text, time.monotonic())
    try:
        node.up(mem_mib, progress=progress)
        t_up = time.monotonic()
        tries = 0
        while True:
            tries += 1
            started = node.root({"op": "run", "entry": SESSION,
                                 "args": ["capture", "-", "-c", "true"]})
            done = node.root({"op": "wait", "task": started["task"]}, timeout=timeout)
            if done.get("status") == 0:
                break
            if time.monotonic() - t0 > timeout:
                raise BenchError(f"`sh -c true` never succeeded (status {done.get('status')})")
        t_sh = time.monotonic()
    except NodeError as e:
        raise BenchError(f"boot: {e}") from None
    finally:
        node.down()
        shutil.rmtree(home, ignore_errors=True)
    image = marks.get("kernel", t0) - t0
    return {"seconds": round(t_sh - t0, 3), "image_s": round(image, 3),
            "up_s": round(t_up - t0 - image, 3), "shell_s": round(t_sh - t_up, 3),
            "tries": tries}


# -- the processes --------------------------------------------------------------------

class Proc:
    """A stepped Unix process of bench/unix_tasks.py, through a `drive` task."""

    def __init__(self, bn: BenchNode, tmp: str, func: str, repeats: int, *args):
        self.bn, self.func = bn, func
        self.results = os.path.join(tmp, f"{func}.out")
        self.steps = os.path.join(tmp, f"{func}-step")
        for r in range(repeats):
            os.mkfifo(step_path(self.steps, r), 0o600)
        self.task = bn.node.root({"op": "run", "entry": f"{TASKS}:drive",
                                  "args": [f"{TASKS}:{func}", self.results, self.steps,
                                           str(repeats), *map(str, args)]}, timeout=30.0)

    def _text(self, path: str) -> str:
        try:
            with open(path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def line(self, word: str, timeout: float = 120.0) -> str:
        """The rest of the results line starting with `word`; a BenchError, with the
        process's output, if it ended first or `timeout` passed."""
        deadline = time.monotonic() + timeout
        while True:
            text = self._text(self.results)
            for ln in text[:text.rfind("\n") + 1].splitlines():     # whole lines only
                if ln == word or ln.startswith(word + " "):
                    return ln[len(word):].strip()
            log = self._text(self.task["log"])
            if "DONE " in log or "Traceback" in log or time.monotonic() > deadline:
                raise BenchError(f"process {self.func} did not report {word}; its task's "
                                 f"log:\n{log[-3000:]}")
            time.sleep(0.002)

    def step(self, r: int) -> dict:
        release(step_path(self.steps, r))
        return json.loads(self.line(f"STEP{r}"))

    def end(self, timeout: float = 60.0) -> None:
        done = self.bn.node.root({"op": "wait", "task": self.task["task"]}, timeout=timeout)
        log = self._text(self.task["log"])
        end = next((ln for ln in log.splitlines() if ln.startswith("DONE ")), None)
        if done.get("status") not in (0, None) or end is None or json.loads(end[5:])["status"]:
            raise BenchError(f"process {self.func} failed; its task's log:\n{log[-3000:]}")


def measure_node(s: Settings, tmp: str, progress: Callable[[str], None]) -> dict:
    """Boot a node, run both processes step by step with the host floors between."""
    size = int(s.mib * (1 << 20))
    data = big_data(size)
    expect = sum(1 for ln in data.split(b"\n") if b"x" in ln)
    big = os.path.join(tmp, "big")
    with open(big, "wb") as f:
        f.write(data)
    raw: dict[str, list] = {k: [] for k in (*FIGURES, *FLOORS)}
    paired: dict[str, list] = {k: [] for k in
                               ("getpid", "read_4k", "spawn_wait", "fork_exec_wait", "pipeline",
                                "create_file")}
    errors: list = []
    progress(f"booting a {s.mem_mib} MiB node")
    with BenchNode("benchunix", s.mem_mib, TASKS) as bn:
        progress("starting the bench processes")
        micro = Proc(bn, tmp, "p_micro", s.repeats, s.n)
        procs = Proc(bn, tmp, "p_procs", s.repeats, s.forks, s.pipelines, s.mib, s.files)
        micro.line("READY")
        procs.line("READY", 300)
        for r in range(s.repeats):
            progress(f"repeat {r + 1} of {s.repeats}")
            m = micro.step(r)
            raw["null_rpc_local"].append(m["null_rpc_local"])
            raw["getpid"].append(m["getpid_call"])
            raw["getpid_libc"].append(m["getpid_libc"])
            raw["read_4k"].append(m["read_4k"])
            paired["getpid"].append(m["getpid_call"] / m["null_rpc_local"])
            paired["read_4k"].append(m["read_4k"] / m["null_rpc_local"])
            if not m["read_ok"]:
                errors.append("read_4k: wrong data")
            host = {"host_spawn_true": [host_spawn_true() for _ in range(2 * s.forks)],
                    "host_pipeline": [host_pipeline(big, expect) for _ in range(s.pipelines)],
                    "host_create_file": [create_files(os, os.path.join(tmp, "many"), s.files)]}
            p = procs.step(r)
            for name in ("spawn_wait", "fork_exec_wait", "pipeline", "create_file"):
                floor = FIGURES[name][1]
                raw[name] += p[name]
                raw[floor] += host[floor]
                paired[name].append(statistics.median(p[name]) / statistics.median(host[floor]))
            errors += p["errors"]
        micro.end()
        procs.end()
    if errors:
        raise BenchError("wrong results: " + "; ".join(dict.fromkeys(errors)))
    return {"raw": raw, "paired": paired, "expect": expect}


# -- the run ----------------------------------------------------------------------------

def run(settings: Settings | None = None,
        progress: Callable[[str], None] = lambda text: None) -> dict:
    """Every figure, floor and boot time of one run; the JSON-able report."""
    s = settings or Settings()
    load_before = os.getloadavg()[0]
    t_start = last = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        nonlocal last
        phases[name] = round(time.monotonic() - last, 2)
        last = time.monotonic()

    boots = []
    for i in range(s.boots):
        progress(f"boot {i + 1} of {s.boots}: a fresh node to `sh -c true`")
        boots.append(boot_once())
    phase("boot")
    tmp = tempfile.mkdtemp(prefix="mku", dir="/tmp")
    try:
        got = measure_node(s, tmp, progress)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    phase("node")
    raw = got["raw"]
    floors = {name: _stat(raw[name]) for name in FLOORS}
    figs = {}
    for name, (label, floor, target) in FIGURES.items():
        f = _stat(raw[name])
        f.update(label=label, floor=floor, target=target, floor_ns=floors[floor]["ns"])
        f["ratio"] = round(f["ns"] / f["floor_ns"], 2)
        if name in got["paired"]:
            f["paired_ratio"] = round(statistics.median(got["paired"][name]), 2)
        judged = f.get("paired_ratio", f["ratio"])        # a target is judged on paired
        f["met"] = None if target is None else judged <= target
        figs[name] = f
    figs["read_4k"].update(rpcs=2, ratio_per_rpc=round(figs["read_4k"]["ratio"] / 2, 2))
    secs = [b["seconds"] for b in boots]
    best = min(boots, key=lambda b: b["seconds"])
    boot = {"label": "mk up (fresh node) to `sh -c true`", "seconds": min(secs),
            "median_s": statistics.median(secs), "target_s": BOOT_TARGET_S,
            "met": min(secs) <= BOOT_TARGET_S, "best": best, "runs": boots}
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "settings": asdict(s), "floors": floors,
            "figures": figs, "boot": boot, "pipeline_lines": got["expect"],
            "phases": phases, "seconds": round(time.monotonic() - t_start, 1),
            "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _t(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:9.2f} ms"
    return f"{ns / 1000:9.1f} us" if ns >= 1000 else f"{ns:9.0f} ns"


def format_table(out: dict) -> str:
    s, fg, b = out["settings"], out["figures"], out["boot"]
    lines = [f"mk bench unix  (Python {out['python']}, {out['machine']}, {out['cpus']} CPUs, "
             f"{s['repeats']} repeats, {out['seconds']} s)", "",
             f"{'figure':<38} {'value':>12} {'median':>12}  {'floor':<16}{'floor value':>12} "
             f"{'ratio':>6} {'paired':>6}  target"]
    for name, (label, floor, target) in FIGURES.items():
        f = fg[name]
        tgt = "" if target is None else f"<= {target:<4} {'ok' if f['met'] else 'MISSED'}"
        paired = f"{f['paired_ratio']:.2f}" if "paired_ratio" in f else ""
        lines.append(f"  {label:<36} {_t(f['ns']):>12} {_t(f['median_ns']):>12}  {floor:<16}"
                     f"{_t(f['floor_ns']):>12} {f['ratio']:6.2f} {paired:>6}  {tgt}")
    bb = b["best"]
    lines.append(f"  {b['label']:<36} {b['seconds']:10.2f} s {b['median_s']:10.2f} s  "
                 f"{'(target)':<16}{b['target_s']:10.2f} s "
                 f"{b['seconds'] / b['target_s']:6.2f} {'':>6}  "
                 f"<= {b['target_s']:.1f} s {'ok' if b['met'] else 'MISSED'}")
    lines += ["", f"boot, best run: image {bb['image_s']:.2f} s + kernel to ready "
                  f"{bb['up_s']:.2f} s + first `sh -c true` {bb['shell_s']:.2f} s",
              f"read_4k is two RPCs (program -> unix -> fs): "
              f"{fg['read_4k']['ratio_per_rpc']:.2f} x the null RPC per RPC",
              "floors: null_rpc_local = a null RPC between two lthreads of the measuring "
              "process; host_* = the host's posix_spawn + waitpid of /bin/true, its "
              "sh -c of the same pipeline on the same bytes, and its creation of as many "
              "files in /tmp",
              "value: best; ratio: best / best floor; paired: median of per-repeat ratios"]
    if out["load"][0] > 0.5 * (out["cpus"] or 1):
        lines += [f"WARNING: the host was busy (1-minute load {out['load'][0]} at the start, "
                  f"{out['cpus']} CPUs): the absolute values are noisy"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return command("unix", __doc__.split("\n")[0], run, format_table, Settings, argv)


if __name__ == "__main__":
    sys.exit(main())
