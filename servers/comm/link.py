"""One direction of a link between two comm servers: the sender's outbox and the
receiver's inbox. No sockets, no clocks of its own: times are passed in.

Each message sent to a peer gets the next transaction number (txn, from 1) of the
(my incarnation, its incarnation) pair. The outbox sends fragments while fewer than
WINDOW are unacknowledged, and on a retransmission timeout goes back to the first
unacknowledged fragment (go-back-N), doubling the timeout (to MAX_RTO). The inbox
delivers messages in txn order, exactly once: fragments are reassembled (bounded in
number and bytes, aged out), a message that completes ahead of a gap is held, one below
`next` is a duplicate. Its acknowledgement is cumulative (`ack_txn`: every txn below
arrived whole; `ack_frag`: fragments of ack_txn arrived in a row). A message the sender
gave up on is skipped by the receiver when the sender's `floor` passes it, so one loss
never stalls the link. docs/net.md, "Remote IPC".
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .wire import fragments

__all__ = ["Outbox", "Inbox", "OutMsg", "WINDOW", "MIN_RTO", "MAX_RTO", "MAX_TRIES"]

WINDOW = 48                   # fragments in flight per peer: within the NIC's RX ring
MIN_RTO, MAX_RTO = 0.05, 1.0  # seconds
MAX_TRIES = 12                # sends of one fragment before the message fails
MAX_AHEAD = 256               # txns past `next` an inbox takes at all
MAX_HELD_BYTES = 192 << 20    # partial and held messages, per peer
ACK_EVERY = WINDOW // 2       # a long message is acknowledged every this many fragments
AGE = 10.0                    # seconds a partial message may wait for its next fragment


@dataclass(eq=False)
class OutMsg:
    """A message on its way: its fragments, how far sent and acknowledged."""
    txn: int
    frags: list
    meta: tuple                      # what to say to whom if it fails (engine's)
    sent: int = 0                    # fragments sent (the next to send)
    acked: int = 0                   # fragments acknowledged in a row
    first: float = 0.0               # when fragment 0 was first sent
    deadline: float = 0.0            # retransmission due
    tries: int = 0
    retransmitted: bool = False


class Outbox:
    """The messages to one peer not yet acknowledged whole."""

    def __init__(self):
        self.next_txn = 1
        self.queue: OrderedDict[int, OutMsg] = OrderedDict()
        self.srtt: float | None = None
        self.retransmits = 0

    def add(self, message: bytes, meta: tuple) -> OutMsg:
        m = OutMsg(self.next_txn, fragments(message), meta)
        self.queue[m.txn] = m
        self.next_txn += 1
        return m

    @property
    def floor(self) -> int:
        """Every txn below this is settled (acknowledged or given up)."""
        return next(iter(self.queue), self.next_txn)

    def rto(self, tries: int) -> float:
        base = MIN_RTO if self.srtt is None else max(MIN_RTO, 3 * self.srtt)
        return min(MAX_RTO, base * (1 << min(tries, 5)))

    def ack(self, ack_txn: int, ack_frag: int, now: float) -> list[OutMsg]:
        """Take a cumulative acknowledgement; the messages it completes."""
        done = []
        while self.queue:
            txn, m = next(iter(self.queue.items()))
            if txn >= ack_txn:
                break
            del self.queue[txn]
            if not m.retransmitted and m.first and len(m.frags) == 1:
                # Karn: time only clean sends, and only of one frame (a long message's
                # time is its transfer's, not the round trip's)
                rtt = now - m.first
                self.srtt = rtt if self.srtt is None else 0.875 * self.srtt + 0.125 * rtt
            done.append(m)
        m = self.queue.get(ack_txn)
        if m is not None and ack_frag > m.acked:
            m.acked = min(ack_frag, len(m.frags))
            m.sent = max(m.sent, m.acked)
            m.deadline = now + self.rto(m.tries)
        return done

    def due(self, now: float) -> tuple[list[tuple[OutMsg, int]], list[OutMsg]]:
        """(fragments to send now as (message, index), messages that failed: sent
        MAX_TRIES times with no acknowledgement)."""
        out, failed, budget = [], [], WINDOW
        for m in list(self.queue.values()):
            if m.sent > m.acked and m.deadline <= now:       # timed out: go back
                m.tries += 1
                if m.tries > MAX_TRIES:
                    del self.queue[m.txn]
                    failed.append(m)
                    continue
                m.sent, m.retransmitted = m.acked, True
                self.retransmits += 1
            budget -= m.sent - m.acked
            start = m.sent
            while budget > 0 and m.sent < len(m.frags):
                out.append((m, m.sent))
                m.sent += 1
                budget -= 1
            if m.sent > start:
                m.first = m.first or now
                m.deadline = now + self.rto(m.tries)
            if budget <= 0:
                break
        return out, failed

    def next_deadline(self) -> float | None:
        waits = [m.deadline for m in self.queue.values() if m.sent > m.acked]
        return min(waits) if waits else None

    def pending(self) -> bool:
        """Some fragment waits to be sent for the first time, within the window."""
        inflight = sum(m.sent - m.acked for m in self.queue.values())
        return inflight < WINDOW and any(m.sent < len(m.frags) for m in self.queue.values())

    def drain(self) -> list[OutMsg]:
        """Give up every message (the peer is gone)."""
        out = list(self.queue.values())
        self.queue.clear()
        return out


@dataclass(eq=False)
class _Partial:
    nfrags: int
    parts: dict = field(default_factory=dict)
    size: int = 0
    touched: float = 0.0

    def run(self) -> int:
        """Fragments arrived in a row from 0."""
        n = 0
        while n in self.parts:
            n += 1
        return n


class Inbox:
    """The messages from one peer (one incarnation of it) on their way in."""

    def __init__(self):
        self.next = 1
        self.partial: dict[int, _Partial] = {}
        self.held: dict[int, bytes] = {}
        self.bytes = 0
        self.duplicates = 0
        self.dropped = 0

    def ack(self) -> tuple[int, int]:
        """(ack_txn, ack_frag) to send."""
        p = self.partial.get(self.next)
        return self.next, (p.run() if p else 0)

    def take(self, txn: int, floor: int, frag: int, nfrags: int, data: bytes,
             now: float) -> tuple[list[bytes], str]:
        """Messages now complete, in order, and what the frame was: "new" (acknowledge
        soon), "dup" (acknowledge at once: a duplicate, or ACK_EVERY fragments of a long
        message), "progress", "drop"."""
        out = self._skip_to(floor) if floor > self.next else []
        if txn < self.next or txn in self.held:
            self.duplicates += 1
            return out, "dup"
        if txn >= self.next + MAX_AHEAD:
            self.dropped += 1
            return out, "drop"
        p = self.partial.get(txn)
        if p is None:
            if self.bytes + nfrags * len(data) > MAX_HELD_BYTES:
                self.dropped += 1
                return out, "drop"
            p = self.partial[txn] = _Partial(nfrags)
        if p.nfrags != nfrags:
            self.dropped += 1
            return out, "drop"
        p.touched = now
        if frag in p.parts:
            self.duplicates += 1
            return out, "dup"
        p.parts[frag] = data
        p.size += len(data)
        self.bytes += len(data)
        if len(p.parts) < nfrags:
            return out, "progress" if len(p.parts) % ACK_EVERY else "dup"
        del self.partial[txn]
        self.held[txn] = b"".join(p.parts[i] for i in range(nfrags))
        return out + self._release(), "new"

    def _release(self) -> list[bytes]:
        out = []
        while self.next in self.held:
            m = self.held.pop(self.next)
            self.bytes -= len(m)
            out.append(m)
            self.next += 1
        return out

    def _skip_to(self, floor: int) -> list[bytes]:
        """The sender settled every txn below `floor`: those not here whole were given
        up (their callers told so), so they are dropped, even if held; go on."""
        for txn in [t for t in self.partial if t < floor]:
            self.bytes -= self.partial.pop(txn).size
        for txn in [t for t in self.held if t < floor]:
            self.bytes -= len(self.held.pop(txn))
        self.next = floor
        return self._release()

    def age(self, now: float) -> int:
        """Drop partial messages idle longer than AGE; how many."""
        old = [t for t, p in self.partial.items() if now - p.touched > AGE]
        for t in old:
            self.bytes -= self.partial.pop(t).size
        self.dropped += len(old)
        return len(old)
