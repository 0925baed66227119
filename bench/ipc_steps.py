"""How `mk bench ipc`'s tasks keep step with their driver, and the client loops they
share with the floors (bench/floors.py): the task code itself is bench/ipc_tasks.py.

The driver and a task talk through the host, outside the system being measured:

  * a task prints one line to its log for each thing the driver waits for:
        ID <raw thread id>      a server is ready and this is where to send
        READY                   a measuring task warmed up and waits for its first step
        STEP<r> <json>          the times of step r, in ns per operation
        ROUND<j> <json>         a throughput client's count in round j
        RESULT <json>           the measurements of a task that is not stepped
  * a task waits for a step (or a round) by opening a FIFO the driver made, which
    blocks in the host kernel, using no CPU, until the driver opens it for writing.
    So the driver can interleave the kernel's repeats with the floors' repeats, and
    tasks that wait cost the measured ones nothing.

Nothing of the project is imported here: a floor's host process uses `relay_caller`
and `throughput_rounds` exactly as the tasks do.
"""
from __future__ import annotations

import json
import time

__all__ = ["QUIT", "WARMUP", "relay_caller", "throughput_rounds", "wait_go", "step_path",
           "round_path"]

_now = time.perf_counter_ns
QUIT = 0xFFFF_B0FF              # a client's last message: the server replies and ends
WARMUP = 20


def _say(line: str) -> None:
    print(line, flush=True)


def _announce(rt) -> None:
    _say(f"ID {int(rt.myself())}")


def step_path(steps: str, r: int) -> str:
    """The FIFO a stepped task opens before its step r (`steps` is a path prefix)."""
    return f"{steps}-{r}"


def round_path(go: str, j: int, index: int) -> str:
    """The FIFO throughput client `index` opens before round `j` (counted from 0)."""
    return f"{go}-{j}-{index}"


def wait_go(path: str) -> None:
    """Block until the driver opens the FIFO `path` for writing, and closes it."""
    with open(path, "rb") as f:
        f.read()


def _stepped(steps: str, repeats: int, measure) -> None:
    """READY, then for each step r: wait for it, `measure()`, print STEP<r>."""
    _say("READY")
    for r in range(repeats):
        wait_go(step_path(steps, r))
        _say(f"STEP{r} " + json.dumps(measure()))


def relay_caller(sock, frames: list, copy: bool):
    """A function that makes one round trip through a floor relay with `frames`
    ([server, body, ...]); the reply has as many ([server, body, ...] back)."""
    recv, send, MORE = sock.recv, sock.send, 2          # 2 = zmq.SNDMORE
    head, last, k = frames[:-1], frames[-1], len(frames)

    def call() -> None:
        for f in head:
            send(f, MORE, copy=copy)
        send(last, copy=copy)
        for _ in range(k):
            recv(copy=copy)
    return call


def throughput_rounds(call, go: str, seconds: float, index: int, rounds: list[int],
                      emit) -> None:
    """The client side of the throughput runs, shared with the floor's clients.

    `call()` makes one null RPC. Round j has `rounds[j]` clients; client `index` takes
    part if index < rounds[j]: it waits for its FIFO `round_path(go, j, index)`, calls
    for `seconds`, and emits `ROUND<j> {"count", "elapsed_ns"}`. The driver opens the
    FIFOs of round j when every client of the round waits, so those clients run at
    once and the others sleep."""
    for _ in range(WARMUP):
        call()
    emit("READY")
    for j, n in enumerate(rounds):
        if index >= n:
            continue
        wait_go(round_path(go, j, index))
        count, t0 = 0, _now()
        end = t0 + int(seconds * 1e9)
        while True:
            for _ in range(16):
                call()
            count += 16
            if _now() >= end:
                break
        emit(f"ROUND{j} " + json.dumps({"count": count, "elapsed_ns": _now() - t0}))
