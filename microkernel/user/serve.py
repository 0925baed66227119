"""The server loop every L4 server runs, written once so that no client can stop it.

    serve(rt, handle)

waits openly, calls `handle(msg)`, and answers with `reply_and_wait` (send timeout 0,
V2's atomic reply-and-receive). `handle` returns the reply `Msg`, or None to answer
nothing now (the client stays blocked until the server sends it a reply later). An IPC
error in the reply (the client went away, or did not wait) or in the receive (a message
the server cannot take, like a map item with no window: MSG_CUT) costs that one message,
never the server. `on_idle` runs when `timeout` passes with no message.
"""
from __future__ import annotations

import logging
from typing import Callable

from microkernel.abi import NEVER, IpcCode, IpcError, Msg, Phase

__all__ = ["serve"]

log = logging.getLogger("mk.serve")


def serve(rt, handle: Callable[[Msg], Msg | None], timeout=NEVER,
          on_idle: Callable[[], None] | None = None, window=None, limits=None) -> None:
    """Serve forever (see the module docstring)."""
    msg: Msg | None = None
    while True:
        try:
            if msg is None:
                msg = rt.wait(timeout, window=window, limits=limits)
            reply = handle(msg)
            if reply is None:
                msg = None
                continue
            msg = rt.reply_and_wait(msg.sender, reply, timeout, window=window, limits=limits)
        except IpcError as e:
            msg = None
            if e.code == IpcCode.TIMEOUT and e.phase is Phase.RECEIVE:
                if on_idle is not None:
                    on_idle()
            elif e.phase is Phase.RECEIVE:
                log.warning("dropped a message the server cannot take: %s", e)
