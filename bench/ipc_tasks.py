"""Task code for `mk bench ipc`: each public function is a task's `main(rt, *args)`.

These run as real L4 tasks in a booted node (started by root for the bench driver,
bench/ipc.py), so every figure goes through the kernel process exactly as a user's
task would: the runtime's socket, the kernel's dispatch and IPC path, and back.
A task tells the driver what it needs to know by printing one line to its log:

    ID <raw thread id>        a server is ready and this is where to send
    READY                     a throughput client warmed up and waits for the go file
    RESULT <json>             the measurements, in nanoseconds per operation

Times are taken with `time.perf_counter_ns` inside the task that makes the calls.
Only `microkernel.abi` is imported: task code sits above the kernel.
"""
from __future__ import annotations

import json
import os
import threading
import time

from microkernel.abi import (SIGMA0_TASK, Fpage, IpcError, MapItem, Msg, ThreadId)

__all__ = ["rpc_server", "rpc_client", "rpc_local", "fault_pager", "fault_client",
           "map_a", "map_b", "map_c", "tp_client", "throughput_rounds"]

_now = time.perf_counter_ns
QUIT = 0xFFFF_B0FF              # a client's last message: the server replies and ends
FLUSH = 0xFFFF_B0F1             # fault bench: the pager flushes what it mapped
MAP = 0xFFFF_B0A1               # map bench: pass 2**w1 bytes at MAP_BASE down the chain
PAGE = 0x1000
FAULT_BASE = 0x2000_0000        # where the fault client touches, in its own space
POOL_BASE = 0x3000_0000         # where the fault pager keeps the pages it maps
MAP_BASE = 0x4000_0000          # the region A maps to B and B to C, in all three spaces
MAP_LOG2_MAX = 24               # up to 4,096 pages
WARMUP = 20


def _announce(rt) -> None:
    print(f"ID {int(rt.myself())}", flush=True)


def _result(out: dict) -> None:
    print("RESULT " + json.dumps(out), flush=True)


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


def _time_calls(rt, server: int, msg: Msg, n: int, repeats: int) -> list[float]:
    """ns per `call` for each of `repeats` runs of `n` calls (after a warm-up)."""
    call = rt.call
    for _ in range(WARMUP):
        call(server, msg)
    out = []
    for _ in range(repeats):
        t0 = _now()
        for _ in range(n):
            call(server, msg)
        out.append((_now() - t0) / n)
    return out


def _payloads(n: int) -> list[tuple[str, Msg, int]]:
    """(name, message, iterations): two words, and two words plus a 512 B / 64 KiB string.
    The 64 KiB runs are shorter: each one moves 128 KiB through four sockets."""
    return [("null", Msg(words=(1, 2)), n),
            ("str512", Msg(words=(1, 2), strings=(os.urandom(512),)), n),
            ("str64k", Msg(words=(1, 2), strings=(os.urandom(64 << 10),)), max(1, n // 2))]


def rpc_client(rt, server: str, n: str, repeats: str) -> None:
    """Cross-task RPC to `server`: null, 512 B and 64 KiB strings (echoed both ways)."""
    server_id, n_, r = ThreadId(int(server)), int(n), int(repeats)
    out = {name: _time_calls(rt, server_id, msg, k, r) for name, msg, k in _payloads(n_)}
    rt.call(server_id, Msg(words=(QUIT,)), timeout=5.0)
    _result(out)


def rpc_local(rt, n: str, repeats: str) -> None:
    """Null RPC between two lthreads of this task: lthread 1 serves, lthread 0 calls.
    Same process, two host threads, one GIL; still two trips through the kernel."""
    rt.lthread_ex_regs(1, lambda rt2: _serve_echo(rt2, False))
    server = rt.myself().lthread_id(1)
    out = {"null": _time_calls(rt, server, Msg(words=(1, 2)), int(n), int(repeats))}
    rt.call(server, Msg(words=(QUIT,)), timeout=5.0)
    _result(out)


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
        if len(w) == 2 and w[1] == 0xFFFFFFFF:     # the V2 page-fault message
            reply = replies[((w[0] - FAULT_BASE) >> 12) % k]
        elif w[:1] == (FLUSH,):
            rt.fpage_unmap(pool, flush=True, own=False)
            reply = done
        elif w[:1] == (QUIT,):
            rt.send(msg.sender, done, timeout=0)
            return
        else:
            reply = Msg(words=(0xFFFFFFFF,))
        try:
            msg = rt.reply_and_wait(msg.sender, reply)
        except IpcError:
            msg = rt.wait()


def fault_client(rt, pager: str, npages: str, repeats: str) -> None:
    """lthread 1, whose pager is the bench pager task, reads one byte of each of
    `npages` fresh pages (one fault each, resolved by a map reply), then asks the
    pager to flush them; the faults alone are timed. Also times the flush request."""
    pager_id, k, r = ThreadId(int(pager)), int(npages), int(repeats)
    out: dict = {}
    finished = threading.Event()

    def faulter(rt1) -> None:
        try:
            touch, flush = rt1.mem.touch, Msg(words=(FLUSH,))
            faults, flushes = [], []
            for i in range(r + 1):                 # the first round warms up
                t0 = _now()
                for p in range(FAULT_BASE, FAULT_BASE + k * PAGE, PAGE):
                    touch(p)
                t1 = _now()
                rt1.call(pager_id, flush)
                t2 = _now()
                if i:
                    faults.append((t1 - t0) / k)
                    flushes.append(t2 - t1)
            out["fault"], out["flush_request"] = faults, flushes
        except BaseException as e:                 # reported, not lost in a thread
            out["error"] = f"{type(e).__name__}: {e}"
        finally:
            finished.set()

    rt.lthread_ex_regs(1, faulter, pager=int(pager_id))
    finished.wait(120)
    try:
        rt.call(pager_id, Msg(words=(QUIT,)), timeout=5.0)
    except IpcError:
        pass
    _result(out)


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
    """Back MAP_BASE..+2**log2 in this space: 4 MiB requests to sigma0 (the largest it
    hands out; through root, the chief, as the default pager does it), or, for a chunk
    sigma0 refuses, page by page from the default pager."""
    sigma0 = ThreadId.make(SIGMA0_TASK, 0, 1, rt.site)
    chunk = min(log2, 22)
    sources = set()
    for base in range(MAP_BASE, MAP_BASE + (1 << log2), 1 << chunk):
        try:
            r = rt.call(sigma0, Msg(words=(0xFFFFFFFC, chunk)), timeout=10.0,
                        window=Fpage(base, chunk))
            if r.fpage_received:
                sources.add("sigma0")
                continue
        except IpcError:
            pass
        for p in range(base, base + (1 << chunk), PAGE):
            rt.mem.write(p, b"\1")
        sources.add("pager")
    return "+".join(sorted(sources))


def map_a(rt, b: str, sizes: str, repeats: str) -> None:
    """A: for each size (pages), map 2**k pages to B, which maps them to C (one call),
    then flush them from A (fpage_unmap own=False removes B's and C's: 2n mappings).
    Also timed: the same call with no map item, and a flush with nothing to remove,
    so the fixed IPC and system-call costs can be taken out per mapping."""
    b_id, r = ThreadId(int(b)), int(repeats)
    counts = [int(s) for s in sizes.split(",")]
    log2s = [(n * PAGE).bit_length() - 1 for n in counts]
    out: dict = {"source": _get_region(rt, max(log2s)), "sizes": {}}
    call, unmap = rt.call, rt.fpage_unmap
    empty_call, empty_flush = [], []
    fp0 = Fpage(MAP_BASE, 12)
    for _ in range(r + 1):
        t0 = _now()
        call(b_id, Msg(words=(MAP, 0)))
        t1 = _now()
        unmap(fp0, flush=True, own=False)
        t2 = _now()
        empty_call.append(t1 - t0)
        empty_flush.append(t2 - t1)
    out["empty_call"], out["empty_flush"] = empty_call[1:], empty_flush[1:]
    for n, log2 in zip(counts, log2s):
        fp = Fpage(MAP_BASE, log2)
        msg = Msg(words=(MAP, log2), items=(MapItem(fp, MAP_BASE),))
        maps, flushes = [], []
        for i in range(r + 1):
            t0 = _now()
            call(b_id, msg)
            t1 = _now()
            unmap(fp, flush=True, own=False)
            t2 = _now()
            if i:
                maps.append(t1 - t0)
                flushes.append(t2 - t1)
        out["sizes"][str(n)] = {"map": maps, "flush": flushes}
    call(b_id, Msg(words=(QUIT,)), timeout=5.0)
    _result(out)


# -- throughput ------------------------------------------------------------------------

def throughput_rounds(call, go: str, seconds: float, index: int, rounds: list[int],
                      emit) -> None:
    """The client side of the throughput runs, shared with the floor's clients.

    `call()` makes one null RPC. For each round N in `rounds`, client `index` takes part
    if index < N: it waits for the file `go-N`, calls for `seconds`, and emits
    `ROUND<N> {"count", "elapsed_ns"}`. The driver creates go-N when every client
    of round N is idle, so N clients run at once and the others sleep."""
    for _ in range(WARMUP):
        call()
    emit("READY")
    for n in rounds:
        if index >= n:
            continue
        path, deadline = f"{go}-{n}", time.monotonic() + 120
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.002)
        count, t0 = 0, _now()
        end = t0 + int(seconds * 1e9)
        while True:
            for _ in range(16):
                call()
            count += 16
            if _now() >= end:
                break
        emit(f"ROUND{n} " + json.dumps({"count": count, "elapsed_ns": _now() - t0}))


def tp_client(rt, server: str, go: str, seconds: str, index: str, rounds: str) -> None:
    """A throughput client task: null RPCs to `server` in the rounds it takes part in."""
    server_id, msg, call = ThreadId(int(server)), Msg(words=(1, 2)), rt.call
    throughput_rounds(lambda: call(server_id, msg), go, float(seconds), int(index),
                      [int(n) for n in rounds.split(",")], lambda line: print(line, flush=True))
    rt.call(server_id, Msg(words=(QUIT,)), timeout=5.0)
