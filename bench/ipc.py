"""`mk bench ipc`: the kernel's IPC figures beside the floors they cannot beat, in one run.

Floors (plain host processes, no kernel, measured first in the same run):

    pipe          a round trip of 8 bytes over two pipes between two processes
    zmq_direct    a round trip of 8 bytes between two ZeroMQ DEALER sockets
    relay_*       the least a kernel-mediated round trip can cost: client DEALER ->
                  relay ROUTER -> server DEALER -> relay -> client, four hops; the relay
                  only swaps the first two frames ([src, dst, ...] in, [dst, src, ...]
                  out), no decoding, no checking. Payload: 8 bytes, + 512 B, + 64 KiB
                  (echoed both ways). Measured with copy=True and copy=False; the faster
                  is the floor.
    relay_tp_N    null round trips per second through one relay with N client/server
                  pairs (separate processes) running at once

Kernel figures (real tasks in a node booted for the run, bench/ipc_tasks.py):

    null_rpc        rt.call + rt.reply_and_wait, two words, client and server tasks
    null_rpc_local  the same between two lthreads of one task (one process, one GIL)
    rpc_512, rpc_64k  with a 512-byte / 64 KiB string, echoed both ways
    page_fault      a read fault on a fresh page, resolved by a pager task that already
                    holds the page and replies with a map item (no allocation)
    map_N, flush_N  N pages mapped A -> B -> C (one call from A, B maps on to C), then
                    flushed from A (fpage_unmap own=False: 2N mappings go); ns per mapping,
                    net of the same call without a map item / a flush of nothing
    throughput_N    null RPCs per second, N client/server task pairs at once

Every time is the best of several repeats (the median is in the JSON), in ns per
operation. ratio = figure / floor (for a rate: floor rate / figure rate), so 1.0 is
"as fast as the floor" and larger is slower. See docs/bench.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import zmq

__all__ = ["run", "main", "Settings", "FIGURES"]

_now = time.perf_counter_ns
TASKS = "bench.ipc_tasks"
MAP_SIZES = (256, 1024, 4096)
PAIRS = (1, 2, 4)

# name -> (label, floor name, target ratio or None)
FIGURES: dict[str, tuple[str, str, float | None]] = {
    "null_rpc": ("null RPC, 2 words, two tasks", "relay_null", 1.25),
    "null_rpc_local": ("null RPC, 2 lthreads of one task", "relay_null", None),
    "rpc_512": ("RPC + 512 B string", "relay_512", None),
    "rpc_64k": ("RPC + 64 KiB string", "relay_64k", 1.3),
    "page_fault": ("page fault, pager maps a held page", "null_rpc", 1.3),
    **{f"map_{n}": (f"map {n} pages A->B->C, per mapping", f"map_{MAP_SIZES[0]}", None)
       for n in MAP_SIZES},
    **{f"flush_{n}": (f"flush {2 * n} mappings from A, per mapping", f"flush_{MAP_SIZES[0]}",
                      1.3) for n in MAP_SIZES},
    **{f"throughput_{n}": (f"null RPC/s, {n} pair{'s' if n > 1 else ''}", f"relay_tp_{n}", None)
       for n in PAIRS},
}
FLOORS = ("pipe", "zmq_direct", "relay_null", "relay_512", "relay_64k",
          *(f"relay_tp_{n}" for n in PAIRS))


@dataclass
class Settings:
    """Iteration counts. `quick()` is for checking that every path works, not timing."""

    repeats: int = 7
    rpc_n: int = 300             # calls per repeat (64 KiB runs do half)
    pipe_n: int = 3000
    fault_pages: int = 256
    map_repeats: int = 3
    tp_seconds: float = 0.5
    mem_mib: int = 64            # 4,096 mapped pages are 16 MiB

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=1, rpc_n=20, pipe_n=50, fault_pages=8, map_repeats=1,
                    tp_seconds=0.1)


class BenchError(Exception):
    """A floor peer or a bench task failed; the message says which and why."""


# -- statistics ---------------------------------------------------------------------------

def _stat(samples: list[float]) -> dict:
    return {"ns": round(min(samples), 1), "median_ns": round(statistics.median(samples), 1),
            "samples": len(samples)}


# -- floor peers (each a process: `python -m bench.ipc peer ROLE ...`) --------------------

def _peer(role: str, args: list[str]) -> None:
    if role == "pipe":
        rfd, wfd = int(args[0]), int(args[1])
        read, write = os.read, os.write
        while True:
            data = read(rfd, 65536)
            if not data:
                return
            write(wfd, data)
    ctx = zmq.Context()
    if role == "direct":                               # ENDPOINT COPY
        copy = args[1] == "1"
        s = ctx.socket(zmq.DEALER)
        s.bind(args[0])
        print("UP", flush=True)
        recv, send = s.recv_multipart, s.send_multipart
        while True:
            send(recv(copy=copy), copy=copy)
    elif role == "relay":                              # ENDPOINT COPY
        copy = args[1] == "1"
        r = ctx.socket(zmq.ROUTER)
        r.bind(args[0])
        print("UP", flush=True)
        recv, send = r.recv_multipart, r.send_multipart
        while True:
            f = recv(copy=copy)
            if len(f) < 3:                             # a server's hello
                print("HELLO", flush=True)
                continue
            f[0], f[1] = f[1], f[0]                    # [src, dst, ...] -> [dst, src, ...]
            send(f, copy=copy)
    elif role == "server":                             # ENDPOINT IDENT COPY
        copy = args[2] == "1"
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, args[1].encode())
        s.connect(args[0])
        s.send(b"hello")
        recv, send = s.recv_multipart, s.send_multipart
        while True:
            send(recv(copy=copy), copy=copy)           # [client, body...] back to client
    elif role == "tp":                         # ENDPOINT SERVER GO SECONDS COPY INDEX ROUNDS
        from .ipc_tasks import throughput_rounds
        ep, server, go, secs, copy = args[0], args[1].encode(), args[2], float(args[3]), \
            args[4] == "1"
        s = ctx.socket(zmq.DEALER)
        s.connect(ep)
        frames = [server, b"\1\0\0\0\2\0\0\0"]
        send, recv = s.send_multipart, s.recv_multipart

        def call() -> None:
            send(frames, copy=copy)
            recv(copy=copy)
        throughput_rounds(call, go, secs, int(args[5]), [int(n) for n in args[6].split(",")],
                          lambda line: print(line, flush=True))
    else:
        raise SystemExit(f"unknown peer role {role!r}")


class _Peers:
    """Floor peer processes, killed on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, role: str, *args: str, pass_fds=()) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "bench.ipc", "peer", role, *args],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             pass_fds=pass_fds, bufsize=0)
        p.pending = b""                                    # type: ignore[attr-defined]
        self.procs.append(p)
        return p

    @staticmethod
    def expect(p: subprocess.Popen, word: str, timeout: float = 20.0) -> str:
        """The next line of `p`'s output, which must start with `word`."""
        import select
        deadline = time.monotonic() + timeout
        fd = p.stdout.fileno()
        while b"\n" not in p.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BenchError(f"floor peer {p.args[4]} said nothing in {timeout:.0f}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise BenchError(f"floor peer {p.args[4]} exited (status {p.wait()})")
            p.pending += chunk
        line, p.pending = p.pending.split(b"\n", 1)
        text = line.decode()
        if not text.startswith(word):
            raise BenchError(f"floor peer {p.args[4]}: expected {word}, got {text!r}")
        return text

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()
        self.procs.clear()

    def __enter__(self) -> "_Peers":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- floors ---------------------------------------------------------------------------------

def _timed(fn: Callable[[int], None], n: int, repeats: int, warmup: int = 20) -> list[float]:
    fn(warmup)
    out = []
    for _ in range(repeats):
        t0 = _now()
        fn(n)
        out.append((_now() - t0) / n)
    return out


def floor_pipe(s: Settings) -> dict:
    a_r, a_w = os.pipe()          # us -> peer
    b_r, b_w = os.pipe()          # peer -> us
    with _Peers() as peers:
        peers.start("pipe", str(a_r), str(b_w), pass_fds=(a_r, b_w))
        os.close(a_r)
        os.close(b_w)
        try:
            def loop(n: int) -> None:
                write, read, w, r, body = os.write, os.read, a_w, b_r, b"\1\0\0\0\2\0\0\0"
                for _ in range(n):
                    write(w, body)
                    read(r, 8)
            return _stat(_timed(loop, s.pipe_n, s.repeats))
        finally:
            os.close(a_w)
            os.close(b_r)


def _endpoint(tmp: str, name: str) -> str:
    return f"ipc://{tmp}/{name}.sock"


def floor_direct(s: Settings, tmp: str) -> dict:
    best: dict = {}
    for copy in (True, False):
        ep = _endpoint(tmp, f"direct{int(copy)}")
        with _Peers() as peers:
            peers.expect(peers.start("direct", ep, str(int(copy))), "UP")
            ctx = zmq.Context.instance()
            c = ctx.socket(zmq.DEALER)
            c.setsockopt(zmq.LINGER, 0)
            c.connect(ep)
            try:
                def loop(n: int) -> None:
                    send, recv, body = c.send, c.recv, b"\1\0\0\0\2\0\0\0"
                    for _ in range(n):
                        send(body, copy=copy)
                        recv(copy=copy)
                st = _stat(_timed(loop, s.rpc_n, s.repeats))
            finally:
                c.close()
        best[f"copy={copy}"] = st
    return _pick(best)


def _pick(by_copy: dict) -> dict:
    name = min(by_copy, key=lambda k: by_copy[k]["ns"])
    return {**by_copy[name], "mode": name, "modes": by_copy}


def floor_relay(s: Settings, tmp: str) -> dict[str, dict]:
    """relay_null / relay_512 / relay_64k (round trip through the relay to server S0,
    from this process) and relay_tp_N (N client processes to servers S0..S(N-1) at
    once), each the faster of copy=True and copy=False. One relay, max(PAIRS) servers
    and clients per copy mode; the clients sleep while the round trips are timed."""
    payloads = {"relay_null": (None, s.rpc_n), "relay_512": (os.urandom(512), s.rpc_n),
                "relay_64k": (os.urandom(64 << 10), max(1, s.rpc_n // 2))}
    by: dict[str, dict] = {k: {} for k in [*payloads, *(f"relay_tp_{n}" for n in PAIRS)]}
    rounds, pairs = ",".join(map(str, PAIRS)), max(PAIRS)
    for copy in (True, False):
        ep, mode = _endpoint(tmp, f"relay{int(copy)}"), f"copy={copy}"
        go = os.path.join(tmp, f"go{int(copy)}")
        with _Peers() as peers:
            relay = peers.start("relay", ep, str(int(copy)))
            peers.expect(relay, "UP")
            for i in range(pairs):
                peers.start("server", ep, f"S{i}", str(int(copy)))
            for _ in range(pairs):
                peers.expect(relay, "HELLO")
            clients = [peers.start("tp", ep, f"S{i}", go, str(s.tp_seconds), str(int(copy)),
                                   str(i), rounds) for i in range(pairs)]
            for c in clients:
                peers.expect(c, "READY")
            c = zmq.Context.instance().socket(zmq.DEALER)
            c.setsockopt(zmq.LINGER, 0)
            c.connect(ep)
            try:
                for name, (payload, n) in payloads.items():
                    frames = [b"S0", b"\1\0\0\0\2\0\0\0"] + ([payload] if payload else [])

                    def loop(k: int, frames=frames) -> None:
                        send, recv = c.send_multipart, c.recv_multipart
                        for _ in range(k):
                            send(frames, copy=copy)
                            recv(copy=copy)
                    by[name][mode] = _stat(_timed(loop, n, s.repeats))
            finally:
                c.close()
            for n in PAIRS:
                open(f"{go}-{n}", "w").close()
                word = f"ROUND{n}"
                by[f"relay_tp_{n}"][mode] = _rate(
                    [json.loads(peers.expect(cl, word, 30 + s.tp_seconds)[len(word):])
                     for cl in clients[:n]])
    out = {name: _pick(modes) for name, modes in by.items() if name in payloads}
    for n in PAIRS:
        modes = by[f"relay_tp_{n}"]
        best = max(modes, key=lambda k: modes[k]["rps"])
        out[f"relay_tp_{n}"] = {**modes[best], "mode": best, "modes": modes}
    return out


def _rate(results: list[dict]) -> dict:
    rps = sum(r["count"] / (r["elapsed_ns"] / 1e9) for r in results)
    return {"rps": round(rps, 1), "ns": round(1e9 / rps, 1),
            "per_client": [r["count"] for r in results]}


# -- the kernel side ----------------------------------------------------------------------------

class BenchNode:
    """A node booted for the run in a temporary $MK_HOME, and its bench tasks."""

    def __init__(self, name: str, mem_mib: int):
        from cli.node import Node                       # the operator's own client
        self.home = tempfile.mkdtemp(prefix="mkb", dir="/tmp")
        self.node = Node(name, self.home)
        self.mem_mib = mem_mib
        self.up = False

    def __enter__(self) -> "BenchNode":
        try:
            self.node.up(self.mem_mib)
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.up = True
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.up:
                self.node.down()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def start(self, func: str, *args) -> dict:
        return self.node.root({"op": "run", "entry": f"{TASKS}:{func}",
                               "args": [str(a) for a in args]})

    @staticmethod
    def _log(task: dict) -> str:
        try:
            with open(task["log"], "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def line(self, task: dict, word: str, timeout: float = 30.0) -> str:
        """Wait for the task's log to show a line starting with `word`; return its rest."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ln in self._log(task).splitlines():
                if ln.startswith(word + " ") or ln == word:
                    return ln[len(word):].strip()
            time.sleep(0.005)
        raise BenchError(f"task {task['task']} ({task.get('entry', '')}) did not print "
                         f"{word} in {timeout:.0f}s; its log:\n{self._log(task)[-2000:]}")

    def server(self, func: str, *args) -> tuple[dict, int]:
        t = self.start(func, *args)
        return t, int(self.line(t, "ID"))

    def result(self, task: dict, timeout: float = 60.0) -> dict:
        out = json.loads(self.line(task, "RESULT", timeout))
        if "error" in out:
            raise BenchError(f"task {task['task']}: {out['error']}")
        return out

    def reap(self, task: dict, timeout: float = 10.0) -> None:
        done = self.node.root({"op": "wait", "task": task["task"]}, timeout=timeout)
        if done.get("status") not in (0, None):
            raise BenchError(f"task {task['task']} ended with status {done['status']}; "
                             f"its log:\n{self._log(task)[-2000:]}")


def kernel_rpc(bn: BenchNode, s: Settings) -> dict[str, dict]:
    srv, sid = bn.server("rpc_server")
    cli = bn.start("rpc_client", sid, s.rpc_n, s.repeats)
    res = bn.result(cli, 120)
    bn.reap(cli)
    bn.reap(srv)
    loc = bn.start("rpc_local", s.rpc_n, s.repeats)
    local = bn.result(loc, 120)
    bn.reap(loc)
    return {"null_rpc": _stat(res["null"]), "rpc_512": _stat(res["str512"]),
            "rpc_64k": _stat(res["str64k"]), "null_rpc_local": _stat(local["null"])}


def kernel_fault(bn: BenchNode, s: Settings) -> dict:
    pager, pid = bn.server("fault_pager", s.fault_pages)
    cli = bn.start("fault_client", pid, s.fault_pages, s.repeats)
    res = bn.result(cli, 120)
    bn.reap(cli)
    bn.reap(pager)
    return {**_stat(res["fault"]), "pages": s.fault_pages,
            "flush_request_ns": round(min(res["flush_request"]), 1)}


def kernel_map(bn: BenchNode, s: Settings) -> tuple[dict[str, dict], dict]:
    c, cid = bn.server("map_c")
    b, bid = bn.server("map_b", cid)
    a = bn.start("map_a", bid, ",".join(map(str, MAP_SIZES)), s.map_repeats)
    res = bn.result(a, 120)
    for t in (a, b, c):
        bn.reap(t)
    empty_call, empty_flush = min(res["empty_call"]), min(res["empty_flush"])
    figs, raw = {}, {"source": res["source"], "empty_call_ns": empty_call,
                     "empty_flush_ns": empty_flush, "sizes": {}}
    for n in MAP_SIZES:
        r = res["sizes"][str(n)]
        m, f = min(r["map"]), min(r["flush"])
        mappings = 2 * n                                # B's and C's
        figs[f"map_{n}"] = {"ns": round(max(0.0, m - empty_call) / mappings, 1),
                            "median_ns": round(max(0.0, statistics.median(r["map"])
                                                   - empty_call) / mappings, 1),
                            "total_ns": m, "mappings": mappings}
        figs[f"flush_{n}"] = {"ns": round(max(0.0, f - empty_flush) / mappings, 1),
                              "median_ns": round(max(0.0, statistics.median(r["flush"])
                                                     - empty_flush) / mappings, 1),
                              "total_ns": f, "mappings": mappings}
        raw["sizes"][str(n)] = r
    return figs, raw


def kernel_throughput(bn: BenchNode, s: Settings) -> dict[str, dict]:
    """throughput_N: max(PAIRS) server and client tasks; N clients call at once."""
    pairs, rounds = max(PAIRS), ",".join(map(str, PAIRS))
    servers = [bn.server("rpc_server") for _ in range(pairs)]
    go = os.path.join(bn.home, "go")
    clients = [bn.start("tp_client", sid, go, s.tp_seconds, i, rounds)
               for i, (_, sid) in enumerate(servers)]
    for c in clients:
        bn.line(c, "READY")
    out = {}
    for n in PAIRS:
        open(f"{go}-{n}", "w").close()
        out[f"throughput_{n}"] = _rate([json.loads(bn.line(c, f"ROUND{n}", 30 + s.tp_seconds))
                                        for c in clients[:n]])
    for t in clients + [srv for srv, _ in servers]:
        bn.reap(t)
    return out


# -- the run --------------------------------------------------------------------------------

def run(settings: Settings | None = None, node_name: str = "bench",
        progress: Callable[[str], None] = lambda s: None) -> dict:
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
    try:
        progress("floors: pipe, direct ZeroMQ")
        floors["pipe"] = floor_pipe(s)
        floors["zmq_direct"] = floor_direct(s, tmp)
        progress("floors: ZeroMQ relay, round trips and throughput")
        floors.update(floor_relay(s, tmp))
        phase("floors")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress(f"booting a {s.mem_mib} MiB node")
    with BenchNode(node_name, s.mem_mib) as bn:
        phase("boot")
        progress("kernel: RPC (null, 512 B, 64 KiB, lthreads)")
        figs.update(kernel_rpc(bn, s))
        phase("rpc")
        progress("kernel: page fault")
        figs["page_fault"] = kernel_fault(bn, s)
        phase("page_fault")
        progress("kernel: map and flush A -> B -> C")
        map_figs, map_raw = kernel_map(bn, s)
        figs.update(map_figs)
        phase("map")
        progress(f"kernel: throughput, {', '.join(map(str, PAIRS))} pairs")
        figs.update(kernel_throughput(bn, s))
        phase("throughput")
    phase("down")
    for name, (label, floor, target) in FIGURES.items():
        f = figs[name]
        base = floors.get(floor) or figs.get(floor)
        f["label"], f["floor"], f["target"] = label, floor, target
        f["floor_ns"] = base["ns"]
        f["ratio"] = round(f["ns"] / base["ns"], 2) if base["ns"] else None
        f["met"] = None if target is None or f["ratio"] is None else f["ratio"] <= target
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "repeats": s.repeats, "settings": s.__dict__,
            "floors": floors, "figures": figs, "map": map_raw,
            "seconds": round(time.monotonic() - t_start, 1), "phases": phases,
            "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def _us(ns: float) -> str:
    return f"{ns / 1000:9.1f} us" if ns >= 1000 else f"{ns:9.0f} ns"


def format_table(out: dict) -> str:
    fl, fg = out["floors"], out["figures"]
    lines = [f"mk bench ipc  (Python {out['python']}, {out['machine']}, {out['cpus']} CPUs, "
             f"best of {out['repeats']}, {out['seconds']} s)", "",
             "floors (no kernel)                       per round trip   median"]
    names = {"pipe": "pipe, 8 B", "zmq_direct": "ZeroMQ direct, 8 B",
             "relay_null": "ZeroMQ relay 4 hops, 8 B", "relay_512": "relay + 512 B",
             "relay_64k": "relay + 64 KiB"}
    for k, label in names.items():
        mode = f"  ({fl[k]['mode']})" if "mode" in fl[k] else ""
        lines.append(f"  {label:<38}{_us(fl[k]['ns'])}  {_us(fl[k]['median_ns'])}{mode}")
    for n in PAIRS:
        f = fl[f"relay_tp_{n}"]
        lines.append(f"  {'relay throughput, ' + str(n) + ' pair(s)':<38}"
                     f"{f['rps']:9.0f} /s  ({f['mode']})")
    lines += ["", f"{'kernel figure':<40} {'value':>12} {'median':>12}  {'floor':<12}"
                  f"{'floor val':>12} {'ratio':>6}  target"]
    for name, (label, floor, target) in FIGURES.items():
        f = fg[name]
        if "rps" in f:
            val, med = f"{f['rps']:9.0f} /s", ""
            base = fl.get(floor) or fg.get(floor)
            fv = f"{base['rps']:9.0f} /s"
        else:
            val, med, fv = _us(f["ns"]), _us(f["median_ns"]), _us(f["floor_ns"])
        tgt = "" if target is None else f"<= {target:<4} {'ok' if f['met'] else 'MISSED'}"
        ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}"
        lines.append(f"  {label:<38} {val:>12} {med:>12}  {floor:<12}{fv:>12} "
                     f"{ratio:>6}  {tgt}")
    m = out["map"]
    if out["load"][0] > 0.5 * (out["cpus"] or 1):
        lines += ["", f"WARNING: the host was busy (1-minute load {out['load'][0]} at the "
                      f"start, {out['cpus']} CPUs): other processes share "
                      "the CPUs, so the figures and ratios are unreliable; run again on an "
                      "idle host"]
    lines += ["", f"map: A's pages came from {m['source']}; fixed costs taken out per "
                  f"mapping: empty chain call {_us(m['empty_call_ns']).strip()}, "
                  f"empty flush {_us(m['empty_flush_ns']).strip()}",
              "ratio: time / floor (for rates, floor rate / rate); map_N and flush_N are "
              f"per mapping relative to N={MAP_SIZES[0]} (1.0 = linear)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["peer"]:
        _peer(argv[1], argv[2:])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.ipc", description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--node", default="bench", help="name of the temporary node")
    ap.add_argument("--quick", action="store_true", help="tiny counts: checks paths only")
    a = ap.parse_args(argv)
    out = run(Settings.quick() if a.quick else Settings(), a.node,
              progress=lambda t: print(f"  {t}", file=sys.stderr, flush=True))
    print(json.dumps(out, indent=2) if a.json else format_table(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
