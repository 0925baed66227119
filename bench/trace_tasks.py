"""Task code for `mk bench trace`: an echo server and a stepped null-RPC client.

The server is `mk bench ipc`'s own (bench/ipc_tasks.py); the client times `n` null
RPCs to it per step, in a loop of its own, and says so in its log (STEP<r> <json>),
while the driver (bench/trace.py) switches the kernel's trace on or off between steps.
"""
from __future__ import annotations

from microkernel.abi import Msg, ThreadId

from .ipc_steps import QUIT, WARMUP, _stepped
from .ipc_tasks import _timer, rpc_server

__all__ = ["rpc_server", "null_client"]


def null_client(rt, server: str, n: str, steps: str, count: str) -> None:
    """`count` steps of `n` null RPCs (two words) to `server`: ns per call each."""
    server_id = ThreadId(int(server))
    timer = _timer(rt, server_id, Msg(words=(1, 2)), int(n))
    _timer(rt, server_id, Msg(words=(1, 2)), WARMUP)()
    _stepped(steps, int(count), lambda: {"null": timer()})
    rt.call(server_id, Msg(words=(QUIT,)), timeout=5.0)
