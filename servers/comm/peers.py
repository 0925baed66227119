"""The cluster as one comm server sees it: a peer per node heard from.

Every comm server announces its node (name, site, MAC, incarnation) when it starts
(asking the others to answer at once) and every INTERVAL seconds after; any frame from
a peer counts as hearing it. A peer not heard for DEAD_AFTER intervals is dead: what is
in flight to it fails, and IPC to it is NOT_EXISTENT until it is heard again. A peer
heard with a new incarnation (its comm server restarted, or its node rebooted) starts a
new link: what was in flight to the old one fails (at most once across a crash).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .link import Inbox, Outbox

__all__ = ["Peer", "Peers", "INTERVAL", "DEAD_AFTER", "MAX_PEERS"]

INTERVAL = 1.0                # seconds between announcements
DEAD_AFTER = 3                # intervals of silence
MAX_PEERS = 1024              # a flood of made-up announcements stops here


@dataclass(eq=False)
class Peer:
    name: str
    site: int
    mac: bytes
    boot: int
    heard: float
    alive: bool = True
    out: Outbox = field(default_factory=Outbox)
    inn: Inbox = field(default_factory=Inbox)
    frames_in: int = 0
    frames_out: int = 0
    ack_due: float | None = None          # a delayed acknowledgement waits until then

    def row(self, now: float) -> dict:
        """What `mk nodes` shows of it."""
        rtt = self.out.srtt
        return {"name": self.name, "site": self.site, "mac": self.mac.hex(":"),
                "alive": self.alive, "last_heard": round(now - self.heard, 3),
                "rtt_ms": None if rtt is None else round(rtt * 1e3, 3),
                "frames_in": self.frames_in, "frames_out": self.frames_out,
                "retransmits": self.out.retransmits,
                "duplicates": self.inn.duplicates, "in_flight": len(self.out.queue)}


class Peers:
    """Peers by site, and by name."""

    def __init__(self, site: int, interval: float = INTERVAL):
        self.site, self.interval = site, interval
        self.by_site: dict[int, Peer] = {}

    def named(self, name: str) -> Peer | None:
        return next((p for p in self.by_site.values() if p.name == name), None)

    def heard(self, name: str, site: int, mac: bytes, boot: int,
              now: float | None = None) -> tuple[Peer | None, list | None]:
        """An announcement: (the peer, or None if refused; None, or, when it is a new
        incarnation of a peer known before, the messages in flight to the earlier one,
        which have failed)."""
        now = time.monotonic() if now is None else now
        if site == self.site or not name:
            return None, None
        p = self.by_site.get(site)
        if p is None:
            if len(self.by_site) >= MAX_PEERS:
                return None, None
            p = self.by_site[site] = Peer(name, site, mac, boot, now)
            return p, None
        failed = None
        if p.boot != boot:                   # a new incarnation: a new link
            failed = p.out.drain()
            p.out, p.inn, p.boot, p.ack_due = Outbox(), Inbox(), boot, None
        p.name, p.mac, p.heard, p.alive = name, mac, now, True
        return p, failed

    def deaths(self, now: float) -> list[Peer]:
        """Peers that have just fallen silent for DEAD_AFTER intervals."""
        gone = [p for p in self.by_site.values()
                if p.alive and now - p.heard > DEAD_AFTER * self.interval]
        for p in gone:
            p.alive = False
        return gone
