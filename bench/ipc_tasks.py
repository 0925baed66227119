"""Task code for `mk bench ipc`: each public function is a task's `main(rt, *args)`.

These run as real L4 tasks in a node booted for the run (root starts them for the
driver, bench/ipc.py), so every figure goes through the kernel process exactly as a
user's task would: the runtime's socket, the kernel's dispatch and IPC path, and back.

Times are taken with `time.perf_counter_ns` inside the task that makes the calls.
Task code sits above the kernel: it imports `microkernel.abi`, and `protocols.root`
for the map chain's memory (root's MEMORY, as any task of root's clan). The RPC client
also opens plain ZeroMQ sockets to the relay floors, to time them beside its calls.

The driver and a task talk through the host (ID, READY, STEP, ROUND and RESULT lines,
FIFOs for each step): see bench/ipc_steps.py, which also holds the client loops the
floors share.
"""
from __future__ import annotations

import itertools
import json
import os
import threading

from microkernel.abi import Fpage, IpcError, MapItem, Msg, ThreadId
from microkernel.abi.ops import PAGE_FAULT_EIP
from protocols.root import Root

from .ipc_steps import (QUIT, WARMUP, _announce, _now, _say, _stepped, relay_caller,
                        throughput_rounds)

__all__ = ["rpc_server", "rpc_client", "rpc_local", "fault_pager", "fault_client",
           "map_a", "map_b", "map_c", "tp_client"]

FLUSH = 0xFFFF_B0F1             # fault bench: the pager flushes what it mapped
MAP = 0xFFFF_B0A1               # map bench: pass 2**w1 bytes at MAP_BASE down the chain
PAGE = 0x1000
FAULT_BASE = 0x2000_0000        # where the fault client touches, in its own space
POOL_BASE = 0x3000_0000         # where the fault pager keeps the pages it maps
MAP_BASE = 0x4000_0000          # the region A maps to B and B to C, in all three spaces
MAP_LOG2_MAX = 24               # up to 4,096 pages


# -- RPC ---------------------------------------------------------------------------------

def _serve_echo(rt, announce: bool) -> None:
    """Reply to each message with its own words and strings, until QUIT."""
    if announce:
        _announce(rt)
    msg = rt.wait()
    while True:
        if msg.words[:1] == (QUIT,):
            try:
                rt.send(msg.sender, Msg(words=(0,)), timeout=0)
            except IpcError:
                pass
            return
        try:
            msg = rt.reply_and_wait(msg.sender, Msg(msg.words, msg.strings))
        except IpcError:                # the client went away: wait for the next
            msg = rt.wait()


def rpc_server(rt) -> None:
    """An echo server in a task of its own (the other end of a cross-task RPC)."""
    _serve_echo(rt, True)


def _timer(rt, server: int, msg: Msg, n: int):
    """A function that makes `n` calls and returns ns per call."""
    call = rt.call

    def run() -> float:
        t0 = _now()
        for _ in range(n):
            call(server, msg)
        return (_now() - t0) / n
    return run


BLOCK = 10                      # calls per block in the paired RPC rounds


def _paired(rt, server: int, msg: Msg, floors: dict, n: int):
    """A function that makes `n` calls through each floor relay and `n` kernel calls,
    in alternating blocks of BLOCK, and returns ns per call of each ({"kernel": ..,
    mode: ..}). A block starts with one untimed call, so each side is timed warm, as
    in a loop of its own, yet the two sides share the host's moments."""
    def kernel() -> None:
        rt.call(server, msg)
    sides = {**floors, "kernel": kernel}
    blocks = max(1, n // BLOCK)

    def run() -> dict:
        total = dict.fromkeys(sides, 0)
        for _ in range(blocks):
            for name, f in sides.items():
                f()
                t0 = _now()
                for _ in range(BLOCK):
                    f()
                total[name] += _now() - t0
        return {name: t / (blocks * BLOCK) for name, t in total.items()}
    return run


def rpc_client(rt, server: str, n: str, steps: str, repeats: str, relays: str = "") -> None:
    """Cross-task RPC to `server`; step 3r + i samples payload i of repeat r: null (two
    words), and two words plus a 512 B / 64 KiB string, echoed back. The 64 KiB runs are
    half as long. `relays` ("MODE@ENDPOINT,...") are the floor relays: the same payload
    makes round trips to their server S0 in blocks beside the kernel's (`_paired`), so
    a busy host weighs on the figure and its floor at the same moments."""
    import zmq                       # only for the floors: the kernel calls go through rt
    server_id, k = ThreadId(int(server)), int(n)
    socks = {}
    for spec in filter(None, relays.split(",")):          # "copy=True@ipc://..."
        mode, ep = spec.split("@", 1)
        socks[mode] = zmq.Context.instance().socket(zmq.DEALER)
        socks[mode].setsockopt(zmq.LINGER, 0)
        socks[mode].connect(ep)
    body = b"\1\0\0\0\2\0\0\0"                                  # two words
    payloads = {"null": (), "str512": (os.urandom(512),), "str64k": (os.urandom(64 << 10),)}
    timers = []
    for name, strings in payloads.items():
        floors = {mode: relay_caller(sock, [b"S0", body, *strings], mode == "copy=True")
                  for mode, sock in socks.items()}
        msg = Msg(words=(1, 2), strings=strings)
        _paired(rt, server_id, msg, floors, WARMUP)()
        timers.append((name, _paired(rt, server_id, msg, floors,
                                     k if name != "str64k" else max(1, k // 2))))
    order = itertools.cycle(timers)            # one payload per step, in turn

    def measure() -> dict:
        name, timer = next(order)
        return {name: timer()}
    _stepped(steps, int(repeats) * len(timers), measure)
    rt.call(server_id, Msg(words=(QUIT,)), timeout=5.0)
    for sock in socks.values():
        sock.close()


def rpc_local(rt, n: str, steps: str, repeats: str) -> None:
    """Null RPC between two lthreads of this task: lthread 1 serves, lthread 0 calls.
    Same process, two host threads, one GIL; still two trips through the kernel."""
    rt.lthread_ex_regs(1, lambda rt2: _serve_echo(rt2, False))
    server = rt.myself().lthread_id(1)
    null = _timer(rt, server, Msg(words=(1, 2)), int(n))
    _timer(rt, server, Msg(words=(1, 2)), WARMUP)()
    _stepped(steps, int(repeats), lambda: {"null": null()})
    rt.call(server, Msg(words=(QUIT,)), timeout=5.0)


# -- page faults -----------------------------------------------------------------------

def fault_pager(rt, npages: str) -> None:
    """A pager that already holds `npages` pages: each fault is answered by mapping one
    of them (no allocation, no zero-fill), FLUSH takes them all back (fpage_unmap of
    its own pool, own=False), QUIT ends it. Replies are built once, up front."""
    k = int(npages)
    log2 = (k * PAGE).bit_length() - 1
    for i in range(k):                             # back the pool (default pager)
        rt.mem.write(POOL_BASE + i * PAGE, b"\1")
    replies = [Msg(items=(MapItem(Fpage(POOL_BASE + i * PAGE, 12), FAULT_BASE + i * PAGE),))
               for i in range(k)]
    done = Msg(words=(0,))
    pool = Fpage(POOL_BASE, log2)
    _announce(rt)
    msg = rt.wait()
    while True:
        w = msg.words
        if len(w) == 2 and w[1] == PAGE_FAULT_EIP:     # the V2 page-fault message
            reply = replies[((w[0] - FAULT_BASE) >> 12) % k]
        elif w[:1] == (FLUSH,):
            rt.fpage_unmap(pool, flush=True, own=False)
            reply = done
        elif w[:1] == (QUIT,):
            rt.send(msg.sender, done, timeout=0)
            return
        else:                                      # a null RPC: its words back
            reply = Msg(words=w)
        try:
            msg = rt.reply_and_wait(msg.sender, reply)
        except IpcError:
            msg = rt.wait()


def fault_client(rt, pager: str, npages: str, steps: str, repeats: str) -> None:
    """lthread 1, whose pager is the bench pager task, reads one byte of each of
    `npages` fresh pages (one fault each, resolved by a map reply), then asks the
    pager to flush them; one step times one round of faults (the flush is outside).
    The faults go in blocks of BLOCK, each followed by BLOCK null RPCs to the same
    pager from the same thread, timed alike: the fault's own paired null RPC."""
    pager_id, k = ThreadId(int(pager)), int(npages)
    finished = threading.Event()
    error: list[str] = []

    def faulter(rt1) -> None:
        try:
            touch, flush, call = rt1.mem.touch, Msg(words=(FLUSH,)), rt1.call
            null = Msg(words=(1, 2))
            pages = range(FAULT_BASE, FAULT_BASE + k * PAGE, PAGE)
            blocks = [pages[i:i + BLOCK] for i in range(0, k, BLOCK)]

            def round_() -> dict:
                faults = nulls = 0
                for block in blocks:
                    t0 = _now()
                    for p in block:
                        touch(p)
                    t1 = _now()
                    for _ in block:
                        call(pager_id, null)
                    faults += t1 - t0
                    nulls += _now() - t1
                t1 = _now()
                rt1.call(pager_id, flush)
                return {"fault": faults / k, "null": nulls / k, "flush_request": _now() - t1}
            round_()                               # warm up
            _stepped(steps, int(repeats), round_)
        except BaseException as e:                 # reported, not lost in a thread
            error.append(f"{type(e).__name__}: {e}")
            _say("ERROR " + error[-1])
        finally:
            finished.set()

    rt.lthread_ex_regs(1, faulter, pager=int(pager_id))
    finished.wait()
    try:
        rt.call(pager_id, Msg(words=(QUIT,)), timeout=5.0)
    except IpcError:
        pass
    if error:
        raise SystemExit(1)


# -- map and flush through three address spaces -------------------------------------------

def _chain_server(rt, down: ThreadId | None) -> None:
    """B (down = C) or C (down = None): receive the region into MAP_BASE; B maps it on
    to C before replying, so one call from A builds A -> B -> C."""
    window = Fpage(MAP_BASE, MAP_LOG2_MAX)
    ok = Msg(words=(0,))
    _announce(rt)
    msg = rt.wait(window=window)
    while True:
        w = msg.words
        if w[:1] == (QUIT,):
            if down is not None:
                rt.call(down, Msg(words=(QUIT,)), timeout=5.0)
            rt.send(msg.sender, ok, timeout=0)
            return
        if down is not None and w[:1] == (MAP,):
            items = (MapItem(Fpage(MAP_BASE, w[1]), MAP_BASE),) if w[1] else ()
            rt.call(down, Msg(words=w, items=items))
        try:
            msg = rt.reply_and_wait(msg.sender, ok, window=window)
        except IpcError:
            msg = rt.wait(window=window)


def map_c(rt) -> None:
    _chain_server(rt, None)


def map_b(rt, c: str) -> None:
    _chain_server(rt, ThreadId(int(c)))


def _get_region(rt, log2: int) -> str:
    """Back MAP_BASE..+2**log2 in this space: 4 MiB blocks from root (the largest sigma0
    hands out; granted, as every task of root's clan gets memory), or, for a block root
    has none of, page by page from the default pager."""
    root = Root(rt)
    chunk = min(log2, 22)
    sources = set()
    for base in range(MAP_BASE, MAP_BASE + (1 << log2), 1 << chunk):
        try:
            if root.memory(chunk, base) is not None:
                sources.add("root")
                continue
        except OSError:
            pass
        for p in range(base, base + (1 << chunk), PAGE):
            rt.mem.write(p, b"\1")
        sources.add("pager")
    return "+".join(sorted(sources))


def map_a(rt, b: str, sizes: str, repeats: str) -> None:
    """A: for each size (pages), map 2**k pages to B, which maps them to C (one call),
    then flush them from A (fpage_unmap own=False removes B's and C's: 2n mappings);
    every size once per repeat, the repeat after (one warm-up repeat untimed).
    Also timed: the same call with no map item, and a flush with nothing to remove,
    so the fixed IPC and system-call costs can be taken out per mapping."""
    b_id, r = ThreadId(int(b)), int(repeats)
    counts = [int(s) for s in sizes.split(",")]
    log2s = [(n * PAGE).bit_length() - 1 for n in counts]
    out: dict = {"source": _get_region(rt, max(log2s)), "sizes": {}}
    call, unmap = rt.call, rt.fpage_unmap
    empty_call, empty_flush = [], []
    fp0, empty = Fpage(MAP_BASE, 12), Msg(words=(MAP, 0))
    for _ in range(2 * r + 1):                      # cheap: twice as many samples
        t0 = _now()
        call(b_id, empty)
        t1 = _now()
        unmap(fp0, flush=True, own=False)
        t2 = _now()
        empty_call.append(t1 - t0)
        empty_flush.append(t2 - t1)
    out["empty_call"], out["empty_flush"] = empty_call[1:], empty_flush[1:]
    times = {n: {"map": [], "flush": []} for n in counts}
    fps = [Fpage(MAP_BASE, log2) for log2 in log2s]
    chain = [(n, fp, Msg(words=(MAP, fp.log2size), items=(MapItem(fp, MAP_BASE),)))
             for n, fp in zip(counts, fps)]
    for i in range(r + 1):          # repeat i of every size, so each can be paired
        for n, fp, msg in chain:
            t0 = _now()
            call(b_id, msg)
            t1 = _now()
            unmap(fp, flush=True, own=False)
            t2 = _now()
            if i:
                times[n]["map"].append(t1 - t0)
                times[n]["flush"].append(t2 - t1)
    out["sizes"] = {str(n): v for n, v in times.items()}
    call(b_id, Msg(words=(QUIT,)), timeout=5.0)
    _say("RESULT " + json.dumps(out))


def tp_client(rt, server: str, go: str, seconds: str, index: str, rounds: str) -> None:
    """A throughput client task: null RPCs to `server` in the rounds it takes part in."""
    server_id, msg, call = ThreadId(int(server)), Msg(words=(1, 2)), rt.call
    throughput_rounds(lambda: call(server_id, msg), go, float(seconds), int(index),
                      [int(n) for n in rounds.split(",")], _say)
    rt.call(server_id, Msg(words=(QUIT,)), timeout=5.0)
