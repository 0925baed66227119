"""The switch's forwarding: a learning bridge (IEEE 802.1D without spanning tree).

Pure logic, no sockets: the switch process (cluster/switch.py) hands every frame that a
port's socket delivers to `Bridge.ingress`, and gives the bridge two callbacks, `send`
(put a frame on a port's socket: False when it could not) and `schedule` (a timer).

A frame crosses the port's inbound lane (its impairment, cluster/impair.py), then the
bridge learns its source address on that port and forwards it: a unicast destination
learned on another port goes there only; a group address (broadcast, multicast: first
byte odd) or an unknown one is flooded to every other port that is up; a destination
learned on the port it came from is filtered (dropped, as a bridge does). Each copy
crosses the outbound lane of its port. Learned addresses age out after AGEING seconds
and are forgotten when their port goes down, loses its node or is removed.

Per-port counters: `rx_frames`/`rx_bytes` (from the node), `tx_frames`/`tx_bytes` (to
the node), `drops` (every frame the port let go: lost by its impairment, or not
deliverable because the port was down or its node absent or not draining), and, of
those, `lost`; `duplicated` and `reordered` count what the impairment did.
"""
from __future__ import annotations

import time
from typing import Callable

from hw.nic_cable import ETH_MAX, ETH_MIN, format_mac

from .impair import Impairment, Lane

__all__ = ["Bridge", "BridgePort", "AGEING", "COUNTERS"]

AGEING = 300.0              # seconds a learned address lives without traffic (802.1D)
COUNTERS = ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drops", "lost",
            "duplicated", "reordered")


class BridgePort:
    """One port: its state, counters, impairment and two lanes."""

    def __init__(self, bridge: "Bridge", name: str, site: int, seed: int):
        self.name, self.site = name, site
        self.up = True                      # administratively: `mk link NAME up|down`
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.impairment = Impairment(seed=seed)
        self.inbound = Lane("in", lambda f: bridge.forward(self, f), bridge.schedule,
                            self.counters)
        self.outbound = Lane("out", self._deliver, bridge.schedule, self.counters)
        self._send = bridge.send

    def impair(self, imp: Impairment) -> None:
        """New settings for both lanes (their random streams restart from the seed)."""
        self.impairment = imp
        self.inbound.set(imp)
        self.outbound.set(imp)

    def _deliver(self, frame: bytes) -> None:
        c = self.counters
        if self.up and self._send(self.name, frame):
            c["tx_frames"] += 1
            c["tx_bytes"] += len(frame)
        else:
            c["drops"] += 1

    def describe(self) -> dict:
        return {"name": self.name, "site": self.site, "up": self.up,
                "counters": dict(self.counters), "impairment": self.impairment.describe()}


class Bridge:
    """The learning bridge over named ports."""

    def __init__(self, send: Callable[[str, bytes], bool],
                 schedule: Callable[[float, Callable[[], None]], None],
                 capture: Callable[[bytes], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.send, self.schedule, self.capture, self.clock = send, schedule, capture, clock
        self.ports: dict[str, BridgePort] = {}
        self.table: dict[bytes, tuple[BridgePort, float]] = {}   # MAC -> (port, last seen)
        self.filtered = 0                   # frames for the port they came from
        self.malformed = 0                  # not 14..1514 bytes

    def add(self, name: str, site: int, seed: int) -> BridgePort:
        port = self.ports[name] = BridgePort(self, name, site, seed)
        return port

    def remove(self, name: str) -> None:
        """Take port `name` away; its frames still on a timer go nowhere."""
        self.forget(name)
        self.ports.pop(name).up = False

    def forget(self, name: str) -> None:
        """Drop every address learned on port `name` (it went down or lost its node)."""
        for mac in [m for m, (p, _) in self.table.items() if p.name == name]:
            del self.table[mac]

    def ingress(self, name: str, frame: bytes) -> None:
        """A frame from port `name`'s node."""
        port = self.ports[name]
        c = port.counters
        c["rx_frames"] += 1
        c["rx_bytes"] += len(frame)
        if not port.up:
            c["drops"] += 1
        elif not ETH_MIN <= len(frame) <= ETH_MAX:
            self.malformed += 1
            c["drops"] += 1
        else:
            port.inbound.offer(frame)

    def forward(self, port: BridgePort, frame: bytes) -> None:
        """A frame past its inbound lane: learn, capture, forward or flood."""
        if self.ports.get(port.name) is not port:
            return                          # (delayed) from a port since removed
        now = self.clock()
        dst = frame[:6]
        if not frame[6] & 1:                # a group address is never a source
            self.table[frame[6:12]] = (port, now)
        if self.capture is not None:
            self.capture(frame)
        if not dst[0] & 1:
            entry = self.table.get(dst)
            if entry is not None and now - entry[1] <= AGEING:
                out = entry[0]
                if out is port:
                    self.filtered += 1
                elif out.up:
                    out.outbound.offer(frame)
                else:
                    out.counters["drops"] += 1
                return
        for out in self.ports.values():
            if out is not port and out.up:
                out.outbound.offer(frame)

    def learned(self) -> dict[str, str]:
        """The address table as text: MAC -> port name (entries not yet aged out)."""
        now = self.clock()
        return {format_mac(mac): p.name for mac, (p, seen) in sorted(self.table.items())
                if now - seen <= AGEING}
