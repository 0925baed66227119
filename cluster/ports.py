"""A switch port's socket: the far end of one node's NIC cable.

The node's cable (hw/nic_cable.py) is a ZeroMQ PAIR socket that connects; the switch
binds one PAIR per port, so a port is exactly one cable, each message one Ethernet frame,
as between two nodes. A local node's port is `ipc://SWITCH/NAME.port` (the switch folder
is its owner's alone); a node joined from another host gets a TCP port on the listener's
interface, a CurveZMQ server whose ZAP domain `port:NAME` admits only NAME's key.

`close()` is `mk link NAME down`: the node's end sees the disconnect, so its carrier
drops; `open()` binds the same endpoint again and the node's ZeroMQ reconnects (every
100 ms), so its carrier returns. A monitor tells the switch when a node is there.
"""
from __future__ import annotations

import os

import zmq
from zmq.utils.monitor import recv_monitor_message

__all__ = ["PortSocket", "HWM", "BATCH"]

HWM = 1000                  # frames queued toward a node before the port drops (the cable's)
BATCH = 256                 # frames taken from one port per turn of the loop (fairness)
_PEER_UP = zmq.EVENT_HANDSHAKE_SUCCEEDED
_PEER_DOWN = zmq.EVENT_DISCONNECTED


class PortSocket:
    """A port's bound PAIR socket and its monitor; closed while the link is down."""

    def __init__(self, ctx: zmq.Context, name: str, endpoint: str,
                 curve_secret: str | None = None):
        self.ctx, self.name = ctx, name
        self.endpoint = endpoint            # a tcp ":*" becomes the real port on open
        self.curve_secret = curve_secret
        self.sock: zmq.Socket | None = None
        self.monitor: zmq.Socket | None = None
        self.peer = False                   # a node's cable is connected

    @property
    def kind(self) -> str:
        return "tcp" if self.endpoint.startswith("tcp://") else "ipc"

    def open(self) -> None:
        """Bind the port (again); zmq.ZMQError if its address is taken."""
        sock = self.ctx.socket(zmq.PAIR)
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = HWM
        if self.curve_secret is not None:
            sock.curve_server = True
            sock.curve_secretkey = self.curve_secret.encode()
            sock.zap_domain = f"port:{self.name}".encode()
        monitor = sock.get_monitor_socket(_PEER_UP | _PEER_DOWN)
        try:
            sock.bind(self.endpoint)
        except zmq.ZMQError:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
            raise
        self.endpoint = sock.last_endpoint.decode()
        if self.kind == "ipc":
            os.chmod(self.endpoint[6:], 0o600)
        self.sock, self.monitor, self.peer = sock, monitor, False

    def close(self) -> None:
        """Unbind: the node's carrier drops (its ZeroMQ keeps trying to reconnect)."""
        if self.sock is None:
            return
        try:
            self.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self.monitor.close(linger=0)
        self.sock.close(linger=0)
        self.sock = self.monitor = None
        self.peer = False

    def unlink(self) -> None:
        """Remove an ipc port's socket file (libzmq leaves it behind a closed socket)."""
        if self.kind == "ipc":
            try:
                os.unlink(self.endpoint[6:])
            except FileNotFoundError:
                pass

    def send(self, frame: bytes) -> bool:
        """One frame toward the node; False when dropped (no node, or it stopped draining)."""
        try:
            self.sock.send(frame, zmq.NOBLOCK)
            return True
        except (zmq.Again, AttributeError):          # AttributeError: the port is closed
            return False

    def recv_ready(self) -> list[bytes]:
        """Up to BATCH frames waiting from the node, without blocking."""
        out, recv = [], self.sock.recv
        try:
            for _ in range(BATCH):
                out.append(recv(zmq.NOBLOCK))
        except zmq.Again:
            pass
        return out

    def peer_events(self) -> bool | None:
        """Drain the monitor: True if a node connected, False if it left, else None."""
        change = None
        while True:
            try:
                event = recv_monitor_message(self.monitor, zmq.NOBLOCK)["event"]
            except zmq.Again:
                return change
            if event == _PEER_UP:
                self.peer = change = True
            elif event == _PEER_DOWN:
                self.peer, change = False, False
