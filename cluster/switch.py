"""The switch process: the Ethernet between the nodes (`python -m cluster.switch FOLDER`).

One host process per `$MK_HOME`, outside every node, living in `$MK_HOME/switch/`:
`switch.pid`, `control.sock` (mode 0600: `mk link`, `mk switch`, `mk up`/`down`),
`switch.log`, `switch.pcap` (with capture on), `keys/`, and one `NAME.port` socket per
local node. It forwards frames between ports as a learning bridge (bridge.py), impairs
them on request (impair.py), captures them to one pcap file, and, when it listens on TCP,
admits nodes of other hosts through CurveZMQ (keys.py) and a join request (ctl.py).

The loop is a plain `zmq.Poller` over every socket with a timer heap for delayed frames:
it measured faster than asyncio on uvloop for this process (docs/net.md gives the
figures; `mk bench net` runs both). A port whose frames wait for a timer holds up
nobody: the poll's timeout is the next timer's due time.
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import os
import signal
import sys
import time
from typing import Callable

import msgpack
import zmq

from hw.nic_cable import PcapWriter

from . import ClusterError
from .bridge import Bridge
from .ctl import Control
from .keys import JOIN_DOMAIN, Gate, Keys
from .ports import PortSocket

__all__ = ["Switch", "main"]

log = logging.getLogger("mk.switch")
MAX_REQUEST = 1 << 16                   # bytes: a control request is small


class Switch:
    """The switch's sockets, bridge, timers and loop."""

    loop_name = "zmq.Poller"

    def __init__(self, folder: str, pcap: bool = False, listen: str | None = None):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        self.folder = folder
        self.ctx = zmq.Context()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.pcap: PcapWriter | None = None
        self.bridge = Bridge(self.send, self.schedule, None)
        self.ports: dict[str, PortSocket] = {}
        self.poller, self.handlers = zmq.Poller(), {}
        self.keys = Keys(folder)
        self.gate: Gate | None = None
        self.listener: zmq.Socket | None = None
        self.stopping = False
        self.control_sock = self._router(f"ipc://{self.path('control.sock')}")
        os.chmod(self.path("control.sock"), 0o600)
        self.watch(self.control_sock, lambda: self._serve(self.control_sock, remote=False))
        self.ctl = Control(self)
        if pcap:
            self.start_capture()
        if listen:
            self.listen(listen)

    def path(self, *parts: str) -> str:
        return os.path.join(self.folder, *parts)

    def _router(self, endpoint: str, secret: str | None = None) -> zmq.Socket:
        s = self.ctx.socket(zmq.ROUTER)
        s.linger = 0
        s.maxmsgsize = MAX_REQUEST
        if secret is not None:
            s.curve_server = True
            s.curve_secretkey = secret.encode()
            s.zap_domain = JOIN_DOMAIN.encode()
        s.bind(endpoint)
        return s

    # -- the loop -------------------------------------------------------------------------

    def watch(self, sock: zmq.Socket, handler: Callable[[], None]) -> None:
        self.poller.register(sock, zmq.POLLIN)
        self.handlers[sock] = handler

    def unwatch(self, sock: zmq.Socket) -> None:
        self.poller.unregister(sock)
        del self.handlers[sock]

    def schedule(self, delay: float, fn: Callable[[], None]) -> None:
        """Run `fn` from the loop `delay` seconds from now (FIFO among equal times)."""
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), fn))

    def run(self) -> None:
        """Serve until a `stop` request or SIGTERM."""
        poll, handlers, timers = self.poller.poll, self.handlers, self.timers
        while not self.stopping:
            wait = None
            if timers:
                wait = max(0.0, (timers[0][0] - time.monotonic()) * 1000)
            for sock, _ in poll(wait):
                handler = handlers.get(sock)     # None: an earlier handler of this round
                if handler is not None:          # closed it (`link down` of a port that
                    handler()                    # also had frames waiting)
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                heapq.heappop(timers)[2]()

    # -- ports ------------------------------------------------------------------------------

    def send(self, name: str, frame: bytes) -> bool:
        """The bridge's output: one frame onto port `name`'s socket."""
        port = self.ports.get(name)
        return port is not None and port.send(frame)

    def add_port(self, name: str, site: int, endpoint: str, curve_secret: str | None = None,
                 seed: int | None = None) -> PortSocket:
        """Open a new port for node `name` (site `site`) at `endpoint`."""
        port = PortSocket(self.ctx, name, endpoint, curve_secret)
        try:
            port.open()
        except zmq.ZMQError as e:
            raise ClusterError(f"cannot open a port at {endpoint}: {e}") from None
        self.ports[name] = port
        self.bridge.add(name, site, int.from_bytes(os.urandom(4)) if seed is None else seed)
        self._watch_port(port)
        log.info("port %s (site %d) at %s", name, site, port.endpoint)
        return port

    def _watch_port(self, port: PortSocket) -> None:
        name, ingress = port.name, self.bridge.ingress
        sock = port.sock

        def frames() -> None:
            for frame in port.recv_ready():
                ingress(name, frame)
        self.watch(sock, frames)
        self.watch(port.monitor, lambda: self._peer(port))

    def _peer(self, port: PortSocket) -> None:
        change = port.peer_events()
        if change is not None:
            log.info("port %s: node %s", port.name, "connected" if change else "gone")
            if not change:
                self.bridge.forget(port.name)

    def remove_port(self, name: str) -> None:
        self.link(name, up=False)
        self.ports.pop(name).unlink()
        self.bridge.remove(name)
        log.info("port %s removed", name)

    def link(self, name: str, up: bool) -> None:
        """`mk link NAME up|down`: bind the port again, or close it (carrier drops)."""
        port, bport = self.ports[name], self.bridge.ports[name]
        if up and port.sock is None:
            try:
                port.open()
            except zmq.ZMQError as e:
                raise ClusterError(f"cannot open port {name} again at {port.endpoint}: "
                                   f"{e}") from None
            self._watch_port(port)
        elif not up and port.sock is not None:
            self.unwatch(port.sock)
            self.unwatch(port.monitor)
            port.close()
            self.bridge.forget(name)
        if bport.up != up:
            log.info("port %s: link %s", name, "up" if up else "down")
        bport.up = up

    # -- capture, listener, control -------------------------------------------------------

    def start_capture(self) -> str:
        if self.pcap is None:
            self.pcap = PcapWriter(self.path("switch.pcap"))
            os.chmod(self.pcap.path, 0o600)
            self.bridge.capture = self.pcap.write
        return self.pcap.path

    def stop_capture(self) -> None:
        if self.pcap is not None:
            self.bridge.capture = None
            self.pcap.close()
            self.pcap = None

    def listen(self, endpoint: str) -> str:
        """Accept joins on a TCP `endpoint` (CURVE, ZAP); the endpoint bound."""
        if self.listener is not None:
            raise ClusterError(f"the switch already listens on "
                               f"{self.listener.last_endpoint.decode()}")
        if not endpoint.startswith("tcp://"):
            raise ClusterError(f"the switch listens on tcp://HOST:PORT, not {endpoint!r}")
        _, secret = self.keys.switch_keypair()
        self.gate = Gate(self.ctx, self.keys, log)
        self.gate.start()
        try:
            self.listener = self._router(endpoint, secret)
        except zmq.ZMQError as e:
            self.gate.stop()
            self.gate = None
            raise ClusterError(f"cannot listen on {endpoint}: {e}") from None
        self.watch(self.listener, lambda: self._serve(self.listener, remote=True))
        log.info("listening for joins on %s", self.listener.last_endpoint.decode())
        return self.listener.last_endpoint.decode()

    def _serve(self, sock: zmq.Socket, remote: bool) -> None:
        """Answer every waiting request on a ROUTER (the control port, or the listener)."""
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            user = frames[-1].get("User-Id") if remote else None
            try:
                req = msgpack.unpackb(frames[-1].bytes, raw=False) if len(frames) == 2 else None
            except (ValueError, msgpack.UnpackException):
                req = None
            reply = self.ctl.handle(req, user) if remote else self.ctl.handle(req)
            sock.send_multipart([frames[0].bytes, msgpack.packb(reply, use_bin_type=True)])

    def close(self) -> None:
        """Close every socket and file; the ipc files go with their sockets."""
        for port in self.ports.values():
            port.close()
            port.unlink()
        self.stop_capture()
        if self.listener is not None:
            self.listener.close(linger=0)
        if self.gate is not None:
            self.gate.stop()
        self.control_sock.close(linger=0)
        os.unlink(self.path("control.sock"))
        self.ctx.term()


def main(argv: list[str] | None = None, cls: type[Switch] = Switch) -> None:
    """The switch process: `cls` (bench/switch_uvloop.py gives another loop) until
    stopped; its pid file says it runs."""
    p = argparse.ArgumentParser(prog="python -m cluster.switch")
    p.add_argument("folder", help="the switch folder ($MK_HOME/switch)")
    p.add_argument("--pcap", action="store_true", help="capture to FOLDER/switch.pcap")
    p.add_argument("--listen", default=None, help="accept joins on tcp://HOST:PORT")
    a = p.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        sw = cls(os.path.abspath(a.folder), a.pcap, a.listen)
    except (ClusterError, zmq.ZMQError, OSError) as e:
        log.error("cannot start: %s", e)
        sys.exit(1)

    def stop(*_):
        sw.stopping = True
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid_file = sw.path("switch.pid")
    with open(pid_file, "w") as f:
        f.write(str(os.getpid()))
    log.info("switch up (pid %d)", os.getpid())
    try:
        sw.run()
    except SystemExit:
        pass
    finally:
        sw.close()
        os.unlink(pid_file)
        log.info("switch down")


if __name__ == "__main__":
    main()
