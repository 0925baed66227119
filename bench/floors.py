"""The floors of `mk bench ipc`: what a round trip costs with no kernel at all.

A raw pipe round trip, a direct ZeroMQ round trip between two processes, and a four-hop
ZeroMQ round trip through a relay process that does no checking (the least a
kernel-mediated round trip can cost), each in its own peer processes
(`python -m bench.floors peer ROLE ...`), plus the small helpers the bench shares.
"""
from __future__ import annotations

import errno
import json
import os
import select
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

import zmq

from microkernel.kernel.boot import kernel_cpu

from .ipc_steps import relay_caller, round_path

_now = time.perf_counter_ns
MAP_SIZES = (256, 1024, 4096)
PAIRS = (1, 2, 4)
BODY = b"\1\0\0\0\2\0\0\0"                       # two words
PAYLOADS = {"null": 0, "512": 512, "64k": 64 << 10}


@dataclass
class Settings:
    """Iteration counts. `quick()` is for checking that every path works, not timing."""

    repeats: int = 15
    rpc_n: int = 200             # calls per repeat (64 KiB runs do half)
    pipe_n: int = 3000
    fault_pages: int = 256
    map_repeats: int = 9
    tp_seconds: float = 0.25     # one throughput round
    tp_passes: int = 3           # each N: relay and kernel rounds alternate this often
    mem_mib: int = 64            # 4,096 mapped pages are 16 MiB

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=1, rpc_n=20, pipe_n=50, fault_pages=8, map_repeats=1,
                   tp_seconds=0.05, tp_passes=1)

    def rounds(self) -> list[int]:
        """The throughput rounds in order (clients in each): PAIRS, `tp_passes` times."""
        return list(PAIRS) * self.tp_passes



class BenchError(Exception):
    """A floor peer or a bench task failed; the message says which and why."""


def _stat(samples: list[float]) -> dict:
    return {"ns": round(min(samples), 1), "median_ns": round(statistics.median(samples), 1),
            "samples": len(samples)}


def _rate(results: list[dict]) -> dict:
    rps = sum(r["count"] / (r["elapsed_ns"] / 1e9) for r in results)
    return {"rps": round(rps, 1), "ns": round(1e9 / rps, 1),
            "per_client": [r["count"] for r in results]}


def _fifos(prefix: str, names) -> str:
    for name in names:
        os.mkfifo(name, 0o600)
    return prefix


def release(path: str, timeout: float = 60.0) -> None:
    """Let the process waiting on FIFO `path` go (open it for writing, close it)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError as e:                        # ENXIO: nobody waits on it yet
            if e.errno != errno.ENXIO or time.monotonic() > deadline:
                raise BenchError(f"nobody took the step {path} in {timeout:.0f}s") from None
            time.sleep(0.0005)


# -- floor peers (each a process: `python -m bench.floors peer ROLE ...`) --------------------
#
# The floor is the least a round trip can cost, so the peers move frames one by one:
# pyzmq's send_multipart/recv_multipart add several microseconds per message of Python
# and getsockopt(RCVMORE) calls that a kernel need not pay either.

def _framewise(sock, copy: bool):
    """(recv_parts, send_parts) for one multipart message, frame by frame."""
    recv, send, getsockopt, MORE, RCVMORE = (sock.recv, sock.send, sock.getsockopt,
                                             zmq.SNDMORE, zmq.RCVMORE)
    if copy:
        def recv_parts() -> list:
            parts = [recv()]
            while getsockopt(RCVMORE):
                parts.append(recv())
            return parts
    else:
        def recv_parts() -> list:
            f = recv(copy=False)
            parts = [f]
            while f.more:
                f = recv(copy=False)
                parts.append(f)
            return parts

    def send_parts(parts: list) -> None:
        for p in parts[:-1]:
            send(p, MORE, copy=copy)
        send(parts[-1], copy=copy)
    return recv_parts, send_parts


def _peer(role: str, args: list[str]) -> None:
    if role == "relay" and int(args[1]) >= 0:
        # on the CPU the kernel takes, before ZeroMQ starts its I/O thread (which
        # inherits it): the floor runs where the kernel runs
        os.sched_setaffinity(0, {int(args[1])})
    if role == "pipe":                                 # RFD WFD
        rfd, wfd = int(args[0]), int(args[1])
        read, write = os.read, os.write
        while data := read(rfd, 65536):
            write(wfd, data)
        return
    ctx = zmq.Context()
    if role == "direct":                               # ENDPOINT COPY
        copy = args[1] == "1"
        s = ctx.socket(zmq.DEALER)
        s.bind(args[0])
        print("UP", flush=True)
        recv_parts, send_parts = _framewise(s, copy)
        while True:
            send_parts(recv_parts())
    elif role == "work":                               # ENDPOINT: Figure 3's server
        from .paper_tasks import work
        s = ctx.socket(zmq.DEALER)
        s.bind(args[0])
        print("UP", flush=True)
        recv, send = s.recv, s.send
        while True:
            body = recv()
            work(int.from_bytes(body[:4], "little"))      # as bench.paper_tasks' server
            send(body)
    elif role == "relay":                              # ENDPOINT CPU
        # Frame by frame, zero-copy, no getsockopt: the cheapest forward pyzmq allows.
        r = ctx.socket(zmq.ROUTER)
        r.bind(args[0])
        print("UP", flush=True)
        recv, send, MORE = r.recv, r.send, zmq.SNDMORE
        while True:
            src = recv(copy=False)
            dst = recv(copy=False)
            if not dst.more:                           # a server's hello: [src, b"hello"]
                print("HELLO", flush=True)
                continue
            send(dst, MORE, copy=False)                # [src, dst, ...] -> [dst, src, ...]
            send(src, MORE, copy=False)
            while True:
                part = recv(copy=False)
                more = part.more
                send(part, MORE if more else 0, copy=False)
                if not more:
                    break
    elif role == "server":                             # ENDPOINT IDENT COPY
        copy = args[2] == "1"
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.ROUTING_ID, args[1].encode())
        s.connect(args[0])
        s.send(b"hello")
        recv_parts, send_parts = _framewise(s, copy)
        while True:
            send_parts(recv_parts())                   # [client, body...] back to client
    elif role == "tp":                         # ENDPOINT SERVER GO SECONDS COPY INDEX ROUNDS
        from .ipc_steps import throughput_rounds
        ep, server, go, secs, copy = args[0], args[1].encode(), args[2], float(args[3]), \
            args[4] == "1"
        s = ctx.socket(zmq.DEALER)
        s.connect(ep)
        frames = [server, BODY]
        while True:                    # the relay drops what it cannot route yet
            s.send_multipart(frames)
            if s.poll(200):
                break
        while s.poll(50):
            s.recv_multipart()
        call = relay_caller(s, frames, copy)
        throughput_rounds(call, go, secs, int(args[5]), [int(n) for n in args[6].split(",")],
                          lambda line: print(line, flush=True))
    else:
        raise SystemExit(f"unknown peer role {role!r}")


class _Peers:
    """Floor peer processes (their output is read line by line); killed on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, role: str, *args: str, pass_fds=()) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "bench.floors", "peer", role, *args],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             pass_fds=pass_fds, bufsize=0)
        p.pending = b""                                    # type: ignore[attr-defined]
        self.procs.append(p)
        return p

    @staticmethod
    def expect(p: subprocess.Popen, word: str, timeout: float = 30.0) -> str:
        """The next line of `p`'s output, which must start with `word`; its rest."""
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
        return text[len(word):].strip()

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


def _timed(fn: Callable[[int], None], n: int, repeats: int, warmup: int = 20) -> list[float]:
    fn(warmup)
    out = []
    for _ in range(repeats):
        t0 = _now()
        fn(n)
        out.append((_now() - t0) / n)
    return out


class PipeFloor:
    """A peer that echoes what comes down one pipe up another."""

    def __init__(self, peers: _Peers):
        a_r, self.w = os.pipe()          # us -> peer
        self.r, b_w = os.pipe()          # peer -> us
        peers.start("pipe", str(a_r), str(b_w), pass_fds=(a_r, b_w))
        os.close(a_r)
        os.close(b_w)

    def measure(self, s: Settings) -> dict:
        try:
            def loop(n: int) -> None:
                write, read, w, r = os.write, os.read, self.w, self.r
                for _ in range(n):
                    write(w, BODY)
                    read(r, 8)
            return _stat(_timed(loop, s.pipe_n, s.repeats))
        finally:
            os.close(self.w)
            os.close(self.r)


def _pick(by_mode: dict, key: str = "ns", best=min) -> dict:
    """The faster copy mode is the floor; both stay in the report."""
    mode = best(by_mode, key=lambda k: by_mode[k][key])
    return {**by_mode[mode], "mode": mode, "modes": by_mode}


class DirectFloor:
    """Two DEALER peers (one per copy mode) that echo what they receive."""

    def __init__(self, peers: _Peers, tmp: str):
        self.peers = peers
        self.eps = {copy: f"ipc://{tmp}/direct{int(copy)}.sock" for copy in (True, False)}
        self.procs = {copy: peers.start("direct", ep, str(int(copy)))
                      for copy, ep in self.eps.items()}

    def measure(self, s: Settings) -> dict:
        by = {}
        for copy, ep in self.eps.items():
            self.peers.expect(self.procs[copy], "UP")
            c = zmq.Context.instance().socket(zmq.DEALER)
            c.setsockopt(zmq.LINGER, 0)
            c.connect(ep)
            try:
                def loop(n: int) -> None:
                    send, recv = c.send, c.recv
                    for _ in range(n):
                        send(BODY, copy=copy)
                        recv(copy=copy)
                by[f"copy={copy}"] = _stat(_timed(loop, s.rpc_n, s.repeats))
            finally:
                c.close()
        return _pick(by)


class RelayRing:
    """One relay, max(PAIRS) servers and max(PAIRS) throughput clients, for one copy
    mode. The RPC client task times the round-trip floors against server S0, call by
    call beside its kernel calls; the throughput clients wait on their FIFOs (using no
    CPU) until their round. With no throughput rounds (`tp_passes` 0) it is one relay
    and server S0 only."""

    def __init__(self, peers: _Peers, tmp: str, copy: bool, s: Settings):
        """Start the processes (they come up in parallel; `ready()` waits for them)."""
        self.peers, self.copy, self.s = peers, copy, s
        self.mode = f"copy={copy}"
        self.ep = f"ipc://{tmp}/relay{int(copy)}.sock"
        self.go = os.path.join(tmp, f"go{int(copy)}")
        _fifos(self.go, [round_path(self.go, j, i) for j, n in enumerate(s.rounds())
                         for i in range(n)])
        c = str(int(copy))
        cpu = kernel_cpu(None)
        self.relay = peers.start("relay", self.ep, str(-1 if cpu is None else cpu))
        self.pairs = max(PAIRS) if s.rounds() else 1
        for i in range(self.pairs):
            peers.start("server", self.ep, f"S{i}", c)
        self.clients = [peers.start("tp", self.ep, f"S{i}", self.go, str(s.tp_seconds), c,
                                    str(i), ",".join(map(str, s.rounds())))
                        for i in range(max(PAIRS)) if s.rounds()]

    def ready(self) -> None:
        self.peers.expect(self.relay, "UP")
        for _ in range(self.pairs):
            self.peers.expect(self.relay, "HELLO")
        for c in self.clients:
            self.peers.expect(c, "READY")

    def throughput(self, j: int, n: int) -> dict:
        """Round j of `Settings.rounds()`: its n clients at once."""
        for i in range(n):
            release(round_path(self.go, j, i))
        return _rate([json.loads(self.peers.expect(c, f"ROUND{j}", 30 + self.s.tp_seconds))
                      for c in self.clients[:n]])


# -- the kernel side ----------------------------------------------------------------------------


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "peer":
        _peer(sys.argv[2], sys.argv[3:])
