"""Task code for `mk bench paper`: the work-between-RPCs loop of the paper's Figure 3.

`mk bench paper` boots one node and runs in it the RPC, 512-byte and page-fault tasks of
`mk bench ipc` (re-exported here, so one tasks module names them all) and these two:

    fig3_server   answers each call after doing the work its first word asks for
    fig3_client   for each amount of work L (lines of Python, half in the client, half
                  in the server), times three loops side by side, block after block:
                  work + a kernel RPC to fig3_server, work + a direct ZeroMQ round trip
                  to a host peer that does the same work (`python -m bench.floors peer
                  work`), and the same work with no RPC at all (both halves here)

`work(n)` is the unit of work: n executions of one line of Python. The client also
times it alone, so the bench can say how much work in lines (and in µs) keeps the RPC
overhead under 10%. The result is one `RESULT <json>` line in the task's log.
"""
from __future__ import annotations

import json
import time

from microkernel.abi import IpcError, Msg, ThreadId

from .ipc_steps import QUIT, _announce, _say
from .ipc_tasks import fault_client, fault_pager, rpc_client, rpc_local, rpc_server

__all__ = ["work", "line_ns", "fig3_server", "fig3_client", "fault_client", "fault_pager",
           "rpc_client", "rpc_local", "rpc_server", "BLOCK_NS"]

_now = time.perf_counter_ns
BLOCK_NS = 2_000_000            # each side of a block runs about this long, at least 2 calls


def work(n: int) -> int:
    """n lines of user-level work (one line: an integer operation and a store)."""
    x = 0
    for i in range(n):
        x ^= i
    return x


def line_ns(n: int = 200_000, repeats: int = 5) -> float:
    """ns per line of `work`, the best of `repeats`."""
    best = float("inf")
    for _ in range(repeats):
        t0 = _now()
        work(n)
        best = min(best, (_now() - t0) / n)
    return best


def fig3_server(rt) -> None:
    """Do words[0] lines of work, then answer with the same two words; QUIT ends."""
    _announce(rt)
    msg = rt.wait()
    while msg.words[:1] != (QUIT,):
        work(msg.words[0])
        try:
            msg = rt.reply_and_wait(msg.sender, Msg(words=msg.words))
        except IpcError:
            msg = rt.wait()
    rt.send(msg.sender, Msg(words=(0,)), timeout=0)


def _sides(rt, server: ThreadId, sock) -> dict:
    """name -> f(half): one iteration of each loop, `half` lines on each end."""
    call, send, recv = rt.call, sock.send, sock.recv

    def kernel(half: int) -> None:
        work(half)
        call(server, Msg(words=(half, 0)))

    def direct(half: int) -> None:
        work(half)
        send(half.to_bytes(4, "little") + bytes(4))       # 8 bytes, as two words
        recv()

    def local(half: int) -> None:
        work(half)
        work(half)
    return {"kernel": kernel, "direct": direct, "local": local}


def fig3_client(rt, server: str, endpoint: str, levels: str, repeats: str) -> None:
    """Time the three loops at each level of work, in alternating blocks; RESULT."""
    import zmq                          # only for the direct round trip
    sid = ThreadId(int(server))
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sides, levels_ = _sides(rt, sid, sock), [int(x) for x in levels.split(",")]
    per_line = line_ns()
    samples = {name: {str(L): [] for L in levels_} for name in sides}
    for _ in range(int(repeats)):
        for L in levels_:
            half = L // 2
            n = max(2, min(200, int(BLOCK_NS / (L * per_line + 100_000))))
            for name, f in sides.items():
                f(half)                                   # untimed: each side warm
                t0 = _now()
                for _ in range(n):
                    f(half)
                samples[name][str(L)].append((_now() - t0) / n)
    rt.call(sid, Msg(words=(QUIT, 0)), timeout=5.0)
    sock.close()
    _say("RESULT " + json.dumps({"line_ns": per_line, "samples": samples}))
