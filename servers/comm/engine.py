"""The comm server's state and its rules, behind one lock: peers and their links, the
callers waiting on remote partners, the frames to send, what to deliver. No IPC here:
the lthreads (server.py) carry frames to and from the NIC driver and deliver.

A message between threads travels as msgpack, one of
    [MSG, sender, dest, words, strings, reply]    an IPC message; `reply`: it answers a
                                                  message dest sent (deliver only if dest
                                                  still waits: send timeout 0)
    [ERR, sender, dest, result]                   sender's node could not deliver dest's
                                                  message: end dest's wait with `result`
Bookkeeping that makes V2's errors hold end to end:
  * `calls`: (local caller, remote partner) after the caller's message left, until a
    message or an error from the partner is about to be delivered (not after: by then
    the caller may have called the partner again, under the same key); when the
    partner's node dies, each such caller is sent NOT_EXISTENT (the kernel ignores it
    if the caller no longer waits).
  * `served`: (local thread, remote client) from the moment the client's message is
    handed to the thread (before it can answer); the thread's next message to that
    client is marked `reply`.
"""
from __future__ import annotations

import errno
import random
import threading
import time
from collections import Counter, OrderedDict

import msgpack

from microkernel.abi import IpcCode, Phase, ThreadId, result_byte
from microkernel.abi.message import MAX_STRING, MAX_STRINGS, MAX_WORDS

from .deliver import Deliveries
from .peers import Peer, Peers
from .trace import FrameTrace
from .wire import BROADCAST, FRAG, Flag, Header, Kind, Malformed, frame, parse

__all__ = ["Comm", "MSG", "ERR", "ACK_DELAY"]

MSG, ERR = 0, 1
ACK_DELAY = 0.01              # an acknowledgement waits this long for a frame to ride on
MAX_BOOK = 4096               # entries of `calls` and of `served`
_GONE_SEND = result_byte(IpcCode.NOT_EXISTENT, Phase.SEND)
_GONE_RECV = result_byte(IpcCode.NOT_EXISTENT, Phase.RECEIVE)
_LOST = result_byte(IpcCode.TIMEOUT, Phase.SEND)
_WORD = 1 << 32


def _book(d: OrderedDict, key, value) -> None:
    d[key] = value
    d.move_to_end(key)
    if len(d) > MAX_BOOK:
        d.popitem(last=False)


class Comm:
    """One node's comm state; every method takes the lock itself."""

    def __init__(self, name: str, site: int, mac: bytes, interval: float):
        self.name, self.site, self.mac, self.interval = name, site, mac, interval
        self.boot = random.getrandbits(32) or 1
        self.lock = threading.Condition()
        self.peers = Peers(site, interval)
        self.calls: OrderedDict[tuple[int, int], int] = OrderedDict()
        self.served: OrderedDict[tuple[int, int], bool] = OrderedDict()
        self.deliveries = Deliveries()
        self.counts = Counter()
        self.next_announce = 0.0
        self.solicit = True                    # the first announcement asks for answers
        self._answer: list[Peer] = []          # peers that asked for our announcement
        self.started = time.monotonic()
        self.trace = FrameTrace()              # inert until server.py watches the kernel

    # -- from this node's threads (lthread 0) -------------------------------------------

    def send(self, sender: int, dest: int, words, strings) -> tuple[int | None, list]:
        """Ship `sender`'s message to remote `dest`: (a V2 result byte if it cannot go,
        the frames due now). A message of one fragment is the caller's to transmit at
        once (no hand-off to the sending lthread); a longer one streams from there."""
        site = ThreadId(dest).site
        with self.lock:
            p = self.peers.by_site.get(site)
            if p is None or not p.alive:
                self.counts["no_node"] += 1
                return _GONE_SEND, []
            reply = self.served.pop((sender, dest), None) is not None
            if not reply:
                _book(self.calls, (sender, dest), site)
            body = msgpack.packb([MSG, sender, dest, list(words), list(strings), reply])
            m = p.out.add(body, (sender, dest, reply))
            if len(m.frags) == 1:
                return None, self._due(time.monotonic())
            self.lock.notify()
        return None, []

    def datagram(self, sender: int, dests: list[int], words, strings) -> tuple[list, int]:
        """`sender`'s message to each remote thread of `dests` as one DGRAM frame,
        outside the link: no number, no acknowledgement, no retransmission, so it costs
        one frame where a one-way message costs two (its own and, unless something goes
        back soon, a pure ACK). It may be lost or overtaken; the sender must not mind.
        (the frames, a mask of the dests whose node lives: bit i for dests[i]).
        OSError EMSGSIZE: more than one frame."""
        frames, sent = [], 0
        with self.lock:
            for i, dest in enumerate(dests):
                body = msgpack.packb([MSG, sender, dest, list(words), list(strings), False])
                if len(body) > FRAG:
                    raise OSError(errno.EMSGSIZE, f"a datagram is one frame: {len(body)} bytes")
                p = self.peers.by_site.get(ThreadId(dest).site)
                if p is None or not p.alive:
                    self.counts["no_node"] += 1
                    continue
                self.counts["datagrams_out"] += 1
                frames.append(self._frame(p, Kind.DGRAM, 0, body))
                sent |= 1 << i
        return frames, sent

    def delivering(self, sender: int, dest: int, reply: bool) -> None:
        """Remote `sender`'s message is about to reach local `dest`: it ends dest's
        call to sender, if any (V2: any message from the partner does), and the call is
        remembered as served first, for `dest` may answer before the deliverer runs
        again."""
        with self.lock:
            self.calls.pop((dest, sender), None)
            if not reply:
                _book(self.served, (dest, sender), True)

    def delivered(self, sender: int, dest: int, reply: bool, result: int | None) -> None:
        """A worker's outcome for remote `sender`'s message to local `dest`: an error
        goes back to the sender's node (and the call was not served after all)."""
        if result is None:
            return
        with self.lock:
            self.served.pop((dest, sender), None)
            self.counts["undeliverable"] += 1
            p = self.peers.by_site.get(ThreadId(sender).site)
            if reply or p is None or not p.alive:
                return                           # a caller that gave up: nothing to say
            p.out.add(msgpack.packb([ERR, dest, sender, result]), (dest, sender, True))
            self.lock.notify()

    def noticing(self, waiter: int, partner: int) -> None:
        """`waiter` is about to be told its remote partner's error: its call ends."""
        with self.lock:
            self.calls.pop((waiter, partner), None)

    # -- from the wire (the receiving lthread) -----------------------------------------

    def received(self, raw: bytes) -> list[tuple]:
        """Take one frame from net0: count what is wrong; what is to deliver is queued,
        or returned, for the caller to try at once, when no queue holds its thread's."""
        now = time.monotonic()
        try:
            mac, h, payload = parse(raw)
        except Malformed:
            self.counts["malformed"] += 1
            return []
        with self.lock:
            if h.kind == Kind.ANNOUNCE:
                self._announced(mac, h, payload, now)
                return []
            p = self.peers.by_site.get(h.src_site)
            if (p is None or p.boot != h.src_boot or p.mac != mac
                    or h.dst_site != self.site or h.dst_boot != self.boot):
                self.counts["stale"] += 1     # an earlier incarnation's, or not for me
                return []
            p.heard, p.alive = now, True
            p.frames_in += 1
            if h.ack_txn:
                p.out.ack(h.ack_txn, h.ack_frag, now)
                self.lock.notify()                # the window may have room again
            if h.kind == Kind.DGRAM:
                self.counts["datagrams_in"] += 1
                item = self._arrived(p, payload, dgram=True)
                return [item] if item is not None else []
            if h.kind != Kind.DATA:
                return []
            msgs, what = p.inn.take(h.txn, h.floor, h.frag, h.nfrags, payload, now)
            if what == "dup":
                p.ack_due = now
            elif what == "new" and p.ack_due is None:
                p.ack_due = now + ACK_DELAY
            self.lock.notify()
            return [item for m in msgs if (item := self._arrived(p, m)) is not None]

    def _announced(self, mac: bytes, h: Header, payload: bytes, now: float) -> None:
        try:
            name = msgpack.unpackb(payload)
            if type(name) is not str or not 0 < len(name) <= 64 or not h.src_boot:
                raise ValueError(name)
        except Exception:
            self.counts["malformed"] += 1
            return
        p, failed = self.peers.heard(name, h.src_site, mac, h.src_boot, now)
        if p is None:
            self.counts["refused"] += 1
            return
        p.frames_in += 1
        if h.flags & Flag.LEAVING:               # it stops now: do not wait 3 intervals
            self.counts["left"] += 1
            p.alive = False
            self._failed(p, (failed or []) + p.out.drain(), restarted=True)
            return
        if failed is not None:                   # its comm server, or its node, is new
            self.counts["restarts"] += 1
            self._failed(p, failed, restarted=True)
        if h.flags & Flag.SOLICIT and p not in self._answer:
            self._answer.append(p)               # answered by work(), unicast
        self.lock.notify()

    def _arrived(self, p: Peer, body: bytes, dgram: bool = False) -> tuple | None:
        """One whole message from peer `p`: checked; returned if its thread has nothing
        queued (to be tried at once), else queued behind the rest. A datagram's item is
        "dgram": delivered the same, but no call is booked and no error goes back."""
        try:
            m = msgpack.unpackb(body, raw=False)
            kind, sender, dest = m[0], m[1], m[2]
            ok = (type(sender) is int and type(dest) is int
                  and ThreadId(sender).site == p.site and ThreadId(dest).site == self.site)
            if kind == MSG and len(m) == 6:
                words, strings, reply = m[3], m[4], m[5]
                ok = ok and (type(words) is list and len(words) <= MAX_WORDS
                             and all(type(w) is int and 0 <= w < _WORD for w in words)
                             and type(strings) is list and len(strings) <= MAX_STRINGS
                             and all(type(s) is bytes and len(s) <= MAX_STRING for s in strings))
                item = ("dgram" if dgram else "msg", sender, dest, tuple(words), strings,
                        bool(reply) and not dgram)
            elif kind == ERR and len(m) == 4 and not dgram:
                ok = ok and type(m[3]) is int and 0 < m[3] <= 0xFF
                item = ("notice", dest, sender, m[3])
            else:
                ok = False
        except Exception:
            ok = False
        if not ok:
            self.counts["forged"] += 1
            return None
        if self.deliveries.idle((sender, dest)):
            return item
        self.queue((sender, dest), item)
        return None

    def queue(self, pair: tuple, item: tuple) -> None:
        """`item` for the (remote sender, local thread) `pair`, to a delivering lthread
        (dropped and counted when the queues are full)."""
        if not self.deliveries.put(pair, item):
            self.counts["overflow"] += 1

    # -- the clock and the sending lthread ---------------------------------------------

    def work(self, wait: bool = True) -> list[bytes]:
        """The frames due now (blocks until some are, when `wait`): announcements,
        acknowledgements, first sends and retransmissions; deaths and ageing done."""
        with self.lock:
            while True:
                now = time.monotonic()
                out = self._due(now)
                if out or not wait:
                    return out
                self.lock.wait(max(0.0, self._next_wake(now) - now))

    def _due(self, now: float) -> list[bytes]:
        out = []
        for p in self.peers.deaths(now):
            self.counts["deaths"] += 1
            self._failed(p, p.out.drain(), restarted=True)
        if now >= self.next_announce:
            flags = Flag.SOLICIT if self.solicit else 0
            out.append(self._frame(None, Kind.ANNOUNCE, flags, msgpack.packb(self.name)))
            self.solicit, self.next_announce = False, now + self.interval
            for p in self.peers.by_site.values():
                p.inn.age(now)
        answer, self._answer = self._answer, []
        for p in answer:
            out.append(self._frame(p, Kind.ANNOUNCE, 0, msgpack.packb(self.name)))
        for p in self.peers.by_site.values():
            if not p.alive:
                continue
            sends, failed = p.out.due(now)
            self._failed(p, failed, restarted=False)
            for m, i in sends:
                out.append(self._frame(p, Kind.DATA, 0, m.frags[i], m.txn, i, len(m.frags)))
            if p.ack_due is not None and p.ack_due <= now:
                out.append(self._frame(p, Kind.ACK, 0))
        return out

    def goodbye(self) -> list[bytes]:
        """The announcement that this node leaves (sent twice: frames may be lost)."""
        with self.lock:
            raw = self._frame(None, Kind.ANNOUNCE, Flag.LEAVING, msgpack.packb(self.name))
            self.next_announce = float("inf")      # and no more announcements after it
            return [raw, raw]

    def _frame(self, p: Peer | None, kind: int, flags: int, payload: bytes = b"",
               txn: int = 0, frag: int = 0, nfrags: int = 0) -> bytes:
        if p is None:
            return frame(BROADCAST, self.mac, Header(kind, flags, self.site, 0, self.boot, 0),
                         payload)
        ack_txn, ack_frag = p.inn.ack() if kind != Kind.ANNOUNCE else (0, 0)
        if kind != Kind.ANNOUNCE:
            p.ack_due = None
        p.frames_out += 1
        h = Header(kind, flags, self.site, p.site, self.boot, p.boot, txn, p.out.floor,
                   frag, nfrags, ack_txn, ack_frag)
        return frame(p.mac, self.mac, h, payload)

    def _next_wake(self, now: float) -> float:
        t = min(self.next_announce, now + self.interval / 4)
        for p in self.peers.by_site.values():
            if p.out.pending():
                return now
            for d in (p.ack_due, p.out.next_deadline()):
                if d is not None:
                    t = min(t, d)
        return t

    def _failed(self, p: Peer, failed: list, restarted: bool) -> None:
        """Messages to `p` that cannot arrive: their callers are told (NOT_EXISTENT if
        the node or its comm server is gone, else TIMEOUT in the send phase); with
        `restarted`, every caller still waiting on `p` is told NOT_EXISTENT too."""
        for m in failed:
            sender, dest, reply = m.meta
            if not reply:
                self._notice(sender, dest, _GONE_SEND if restarted else _LOST)
        if restarted:
            for (sender, dest), site in list(self.calls.items()):
                if site == p.site:
                    self._notice(sender, dest, _GONE_RECV)

    def _notice(self, waiter: int, partner: int, result: int) -> None:
        self.calls.pop((waiter, partner), None)
        self.deliveries.put((partner, waiter), ("notice", waiter, partner, result))

    # -- what `mk nodes` shows, and RESOLVE --------------------------------------------

    def resolve(self, name: str) -> int:
        """The site of node `name` (OSError ENOENT: never heard of; EHOSTDOWN: dead)."""
        if name == self.name:
            return self.site
        with self.lock:
            p = self.peers.named(name)
            if p is None:
                raise OSError(errno.ENOENT, f"no node {name!r}")
            if not p.alive:
                raise OSError(errno.EHOSTDOWN, f"node {name!r} is down")
            return p.site

    def table(self) -> dict:
        with self.lock:
            now = time.monotonic()
            return {"name": self.name, "site": self.site, "mac": self.mac.hex(":"),
                    "boot": self.boot, "interval": self.interval,
                    "peers": [p.row(now) for p in sorted(self.peers.by_site.values(),
                                                         key=lambda p: p.site)],
                    "counts": dict(self.counts)}
