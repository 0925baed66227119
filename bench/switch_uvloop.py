"""The switch on asyncio's uvloop instead of its zmq.Poller loop: the candidate DESIGN §5
names, kept here so `mk bench net` can measure both in one run
(`python -m bench.switch_uvloop FOLDER`, the same arguments as `python -m cluster.switch`).

Everything but the loop is the switch's own code (cluster/switch.py): the bridge, the
ports, the control protocol. The loop is uvloop's, written the fastest way asyncio allows
for ZeroMQ: each socket's ZMQ_FD with `loop.add_reader`, handlers called directly (no
coroutine, no future per frame), timers with `loop.call_later`. A ZeroMQ FD signals
edges, and a send on one socket can take another's edge, so a wake-up drains every socket
that has input until none has (zmq.asyncio does the same in its own way).
"""
from __future__ import annotations

import sys

import uvloop
import zmq

from cluster.switch import Switch, main

__all__ = ["UvloopSwitch"]


class UvloopSwitch(Switch):
    """The switch with uvloop's loop."""

    loop_name = "asyncio on uvloop"

    def __init__(self, *args, **kw):
        self.loop = uvloop.new_event_loop()
        self._fds: dict[zmq.Socket, int] = {}
        super().__init__(*args, **kw)

    def watch(self, sock: zmq.Socket, handler) -> None:
        self.handlers[sock] = handler
        self._fds[sock] = fd = sock.get(zmq.FD)
        self.loop.add_reader(fd, self._ready)

    def unwatch(self, sock: zmq.Socket) -> None:
        self.loop.remove_reader(self._fds.pop(sock))
        del self.handlers[sock]

    def schedule(self, delay: float, fn) -> None:
        self.loop.call_later(delay, fn)

    def _ready(self) -> None:
        """Some socket's FD fired: serve every socket with input until none has any."""
        busy = True
        while busy:
            busy = False
            for sock, handler in list(self.handlers.items()):
                if sock in self.handlers and sock.get(zmq.EVENTS) & zmq.POLLIN:
                    handler()
                    busy = True
        if self.stopping:
            self.loop.stop()

    def run(self) -> None:
        self.loop.call_soon(self._ready)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()


if __name__ == "__main__":
    main(sys.argv[1:], cls=UvloopSwitch)
