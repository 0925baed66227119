"""The net driver: mkNIC, the bus-master card of docs/hardware.md, behind the net protocol.

The card DMAs descriptors and buffers from PHYSICAL memory, so the driver asks sigma0
(through root, its chief) for one 128 KiB aligned region (protocols.sigma0.grab) mapped
at VBASE: it writes rings and buffers through `rt.mem` at VBASE + off and gives the card
phys + off. Layout: TX ring (16 descriptors), RX ring (64), then 1536-byte buffers, one
per descriptor, so every frame (<= 1514 bytes) fits one buffer.

The protocol is protocols/net.py; its handlers are NetService's `info`, `send`, `recv`:

    SEND | frame    frame -> the next TX slot, doorbell (TX_TAIL); the card sends at once,
                    so the reply carries the outcome: sent or queued; EIO with the card's
                    error code as detail (3 NOCARRIER: no link), the frame dropped; EINVAL
                    (not 14..1514 bytes); EBUSY (all TX slots still held by the card).
    RECV etype      -> | frame; the next frame of EtherType `etype`, blocking until one
                    comes; etype 0: of any type no client has asked for. A client that
                    asks for a type claims it (the comm server claims 0x88B5), so protocols
                    share the card as packet sockets share a host's. Every frame leaves the
                    ring when its interrupt comes, for a waiting client of its type or its
                    type's queue (63 frames, as many as the ring holds; past that it is
                    dropped and counted as missed, as the card counts RXOVF). A waiting
                    client that gave up is skipped, the frame kept.
    INFO            -> the MAC, the link and the counters.

One thread serves clients and IRQ 9 (open wait; the interrupt comes through Dispatch's
`irq` kind): it acknowledges ISR, hands ring frames to waiting clients and refills the
ring, reclaims TX, follows the link, and on a bus error (ERR) resets and re-initialises
the card.
"""
from __future__ import annotations

import errno
import logging
import struct
from collections import deque

from microkernel.abi import irq_id
from protocols.interface import error
from protocols.net import ETH_MAX, ETH_MIN, MAX_BATCH, NET, NO_CARRIER, Op
from protocols.server import Dispatch, send_reply, serve
from protocols.root import Root

from .driver import start

__all__ = ["main", "Card", "Rings", "NetService", "VBASE", "REGION_LOG2", "TX_N", "RX_N",
           "BUF"]

log = logging.getLogger("mk.nic")

VBASE = 0x4000_0000                   # where the DMA region is mapped in our space
REGION_LOG2 = 17                      # 128 KiB
TX_N, RX_N, BUF = 16, 64, 1536
QUEUE = RX_N - 1                      # frames kept per EtherType queue, as the ring holds
TX_RING, RX_RING, BUFS = 0x000, 0x100, 0x1000

# registers (offsets from the card's base port)
ID, CTRL, STATUS, ISR, IMR, MAC, MISSED = 0x00, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0E
TX_BASE, TX_SIZE, TX_HEAD, TX_TAIL = 0x10, 0x14, 0x15, 0x16
RX_BASE, RX_SIZE, RX_HEAD, RX_TAIL = 0x18, 0x1C, 0x1D, 0x1E
NIC_ID = 0x014E4B4D
RESET, RXEN, TXEN = 0x01, 0x02, 0x04
LINK = 0x01
I_RX, I_TX, I_RXOVF, I_LINK, I_ERR = 0x01, 0x02, 0x04, 0x08, 0x10
OWN, ERR, EOP = 0x8000, 0x4000, 0x0001
DESC = struct.Struct("<IHHHHB3x")     # buffer, length, flags, count, frame_len, error


class Card:
    """The card's registers through the granted ports."""

    def __init__(self, rt, base: int):
        self.rt, self.base = rt, base

    def rb(self, off: int) -> int: return self.rt.inb(self.base + off)
    def wb(self, off: int, v: int) -> None: self.rt.outb(self.base + off, v)
    def wl(self, off: int, v: int) -> None: self.rt.outl(self.base + off, v)

    def reset(self) -> bytes:
        """RESET, check the ID, return the factory MAC."""
        self.wb(CTRL, RESET)
        ident = self.rt.inl(self.base + ID)
        if ident != NIC_ID:
            raise RuntimeError(f"no mkNIC at {self.base:#x} (id {ident:#010x})")
        return (self.rt.inl(self.base + MAC).to_bytes(4, "little")
                + self.rt.inw(self.base + MAC + 4).to_bytes(2, "little"))

    def link(self) -> bool:
        return bool(self.rb(STATUS) & LINK)

    def missed(self) -> int:
        return self.rt.inw(self.base + MISSED)


class Rings:
    """Descriptor rings and buffers in the DMA region: virtual `va` + off for us,
    physical `pa` + off for the card."""

    def __init__(self, mem, va: int, pa: int):
        self.mem, self.va, self.pa = mem, va, pa

    def buf(self, ring: str, i: int) -> int:
        return BUFS + ((0 if ring == "tx" else TX_N) + i) * BUF

    def desc_off(self, ring: str, i: int) -> int:
        return (TX_RING if ring == "tx" else RX_RING) + 16 * i

    def put(self, ring: str, i: int, length: int, flags: int) -> None:
        self.mem.write(self.va + self.desc_off(ring, i),
                       DESC.pack(self.pa + self.buf(ring, i), length, flags, 0, 0, 0))

    def get(self, ring: str, i: int) -> tuple[int, ...]:
        return DESC.unpack(self.mem.read(self.va + self.desc_off(ring, i), 16))

    def write_buf(self, ring: str, i: int, data: bytes) -> None:
        self.mem.write(self.va + self.buf(ring, i), data)

    def read_buf(self, ring: str, i: int, n: int) -> bytes:
        return self.mem.read(self.va + self.buf(ring, i), n)


class NetService:
    """The driver's state: ring positions, waiting receivers, counters."""

    def __init__(self, rt, card: Card, rings: Rings):
        self.rt, self.card, self.rings = rt, card, rings
        self.claims: set[int] = set()               # EtherTypes a client asked for
        self.waiters: dict[int, deque] = {}         # (client, most, op) by type, or 0
        self.queues: dict[int, deque[bytes]] = {}   # frames no client waited for, likewise
        self.stats = dict.fromkeys(("tx_frames", "tx_dropped", "tx_errors", "rx_frames",
                                    "rx_errors", "rx_missed"), 0)
        self.mac = b""
        self.up = False
        self.init()

    def init(self) -> None:
        """The driver sequence of docs/hardware.md: reset, rings, RX slots, IRQs on."""
        c, r = self.card, self.rings
        self.mac = c.reset()
        r.mem.write(r.va, bytes(BUFS))                          # both rings empty
        c.wl(TX_BASE, r.pa + TX_RING)
        c.wb(TX_SIZE, TX_N)
        c.wl(RX_BASE, r.pa + RX_RING)
        c.wb(RX_SIZE, RX_N)
        self.tx_tail = self.tx_clean = 0
        self.rx_next = 0
        for i in range(RX_N - 1):
            r.put("rx", i, BUF, OWN)
        self.rx_tail = RX_N - 1
        c.wb(RX_TAIL, self.rx_tail)
        self.missed_base = 0
        c.wb(ISR, 0xFF)
        c.wb(IMR, I_RX | I_TX | I_RXOVF | I_LINK | I_ERR)
        c.wb(CTRL, RXEN | TXEN)
        self.up = c.link()

    # -- requests (protocols.net; Dispatch calls them by name) -----------------------

    def info(self, req, msg) -> tuple:
        """INFO: the MAC (first 2 bytes, last 4), the link, the counters."""
        self.up = self.card.link()
        s = self.stats
        return (int.from_bytes(self.mac[:2], "big"), int.from_bytes(self.mac[2:], "big"),
                int(self.up), s["tx_frames"], s["tx_dropped"], s["rx_frames"],
                s["rx_missed"], s["rx_errors"], s["tx_errors"])

    def recv(self, req, msg):
        """RECV: the next frame of EtherType `etype` (0: of a type nobody claimed), now
        if one is queued, else when it comes (answered by `deliver`)."""
        return self._take(req.etype, 1, Op.RECV, msg.sender)

    def recvv(self, req, msg):
        """RECVV: as RECV, but every queued frame of the type up to `max` at once."""
        if not 1 <= req.max <= MAX_BATCH:
            raise OSError(errno.EINVAL, f"max {req.max} is not 1..{MAX_BATCH}")
        return self._take(req.etype, req.max, Op.RECVV, msg.sender)

    def _take(self, key: int, most: int, op: int, client: int):
        if key:
            self.claims.add(key)
        for waiting in self.waiters.values():       # it gave up on an earlier RECV
            for w in [w for w in waiting if w[0] == client]:
                waiting.remove(w)
        queue = self.queues.get(key)
        if queue:
            frames = [queue.popleft() for _ in range(min(most, len(queue)))]
            self.stats["rx_frames"] += len(frames)
            return (frames[0],) if op == Op.RECV else (tuple(frames),)
        self.waiters.setdefault(key, deque()).append((client, most, op))
        return None

    def send(self, req, msg):
        """SEND: the frame to the next TX slot; the card's outcome is the reply."""
        sent, err = self._transmit([req.frame])
        return () if err is None else error(*err)

    def sendv(self, req, msg):
        """SENDV: up to MAX_BATCH frames, in order, with one doorbell per run of free
        TX slots; how many the card took (it stops at the first it refused)."""
        if not 1 <= len(req.frames) <= MAX_BATCH:
            raise OSError(errno.EINVAL, f"{len(req.frames)} frames is not 1..{MAX_BATCH}")
        sent, err = self._transmit(req.frames)
        return (sent,) if err is None or sent else error(*err)

    def _transmit(self, frames) -> tuple[int, tuple | None]:
        """Frames into TX slots, a doorbell (TX_TAIL) for each run of free slots; (how
        many the card sent or queued, the error (errno, detail...) that stopped the
        rest: EIO with the card's error code, EBUSY, EINVAL)."""
        if any(not ETH_MIN <= len(f) <= ETH_MAX for f in frames):
            return 0, (errno.EINVAL,)
        done = 0
        while done < len(frames):
            self.reclaim()
            first = i = self.tx_tail
            while done < len(frames) and (i + 1) % TX_N != self.tx_clean:
                self.rings.write_buf("tx", i, frames[done])
                self.rings.put("tx", i, len(frames[done]), OWN | EOP)
                i, done = (i + 1) % TX_N, done + 1
            if i == first:
                return done, (errno.EBUSY,)           # every TX slot still the card's
            self.tx_tail = i
            self.card.wb(TX_TAIL, i)                # the card sends them now
            j, start = first, done - (i - first) % TX_N
            while j != i:
                d = self.rings.get("tx", j)
                if d[2] & OWN:
                    return done, None               # queued: the card has not got to it
                if d[2] & ERR:
                    self.reclaim()
                    return start, (errno.EIO, d[5])
                j, start = (j + 1) % TX_N, start + 1
        self.reclaim()
        return done, None

    def reclaim(self) -> None:
        """Count and free the TX slots the card has finished."""
        while self.tx_clean != self.tx_tail:
            d = self.rings.get("tx", self.tx_clean)
            if d[2] & OWN:
                return
            if d[2] & ERR:
                self.stats["tx_dropped" if d[5] == NO_CARRIER else "tx_errors"] += 1
            elif d[2] & EOP:
                self.stats["tx_frames"] += 1
            self.tx_clean = (self.tx_clean + 1) % TX_N

    # -- receive -----------------------------------------------------------------------

    def _frame(self) -> tuple[list[int], bytes, bool] | None:
        """The oldest complete frame in the RX ring: (slots, bytes, good), or None."""
        slots, parts, good, i = [], [], True, self.rx_next
        while i != self.rx_tail:
            d = self.rings.get("rx", i)
            if d[2] & OWN:
                return None                         # not (yet) filled by the card
            slots.append(i)
            good = good and not d[2] & ERR
            if good:
                parts.append(self.rings.read_buf("rx", i, min(d[3], BUF)))
            if d[2] & EOP:
                return slots, b"".join(parts), good
            i = (i + 1) % RX_N
        return None

    def deliver(self) -> None:
        """Take every frame out of the ring, oldest first, into its type's queue (its
        claimed type, else 0; full: dropped, counted as missed; bad frames dropped and
        counted), give the slots back with one doorbell, then answer the waiters."""
        took = False
        while (got := self._frame()) is not None:
            slots, frame, good = got
            self.rx_next = (slots[-1] + 1) % RX_N
            for _ in slots:                         # as many slots back, at the tail
                self.rings.put("rx", self.rx_tail, BUF, OWN)
                self.rx_tail = (self.rx_tail + 1) % RX_N
            took = True
            if not good:
                self.stats["rx_errors"] += 1
                continue
            etype = int.from_bytes(frame[12:14], "big")
            queue = self.queues.setdefault(etype if etype in self.claims else 0, deque())
            if len(queue) < QUEUE:
                queue.append(frame)
            else:
                self.stats["rx_missed"] += 1
        if took:
            self.card.wb(RX_TAIL, self.rx_tail)
        for key, waiting in self.waiters.items():
            queue = self.queues.get(key)
            while waiting and queue:
                client, most, op = waiting.popleft()
                frames = [queue.popleft() for _ in range(min(most, len(queue)))]
                reply = (frames[0],) if op == Op.RECV else (tuple(frames),)
                if send_reply(self.rt, client, NET.reply(op, reply)):
                    self.stats["rx_frames"] += len(frames)
                else:                               # gave up or died: keep the frames
                    queue.extendleft(reversed(frames))

    # -- the interrupt -------------------------------------------------------------------

    def interrupt(self) -> None:
        """Acknowledge and handle every cause the card reports in ISR."""
        s = self.card.rb(ISR)
        self.card.wb(ISR, s)
        if s & I_ERR:
            log.warning("nic: bus error; resetting the card (frames in the ring are lost)")
            self.init()
            return
        if s & I_LINK:
            self.up = self.card.link()
            log.warning("nic: link %s", "up" if self.up else "down")
        if s & I_RXOVF:
            m = self.card.missed()
            self.stats["rx_missed"] += max(0, m - self.missed_base)
            self.missed_base = m
        if s & I_TX:
            self.reclaim()
        if s & I_RX:
            self.deliver()


def dma_region(rt) -> tuple[int, int]:
    """Ask root for the DMA region (protocols.root MEMORY); (virtual, physical) base."""
    pa = Root(rt).memory(REGION_LOG2, VBASE)
    if pa is None:
        raise RuntimeError("root has no memory left for the NIC's rings")
    return VBASE, pa


def main(rt, name: str, names_id) -> None:
    """Drive the card at our granted ports; serve the net class protocol."""
    drv = start(rt, name, names_id)
    base = min(b for b, _ in drv.ports)
    va, pa = dma_region(rt)
    svc = NetService(rt, Card(rt, base), Rings(rt.mem, va, pa))
    log.warning("%s: mkNIC at %#x irq %s mac %s, rings at phys %#x, link %s", name, base,
                drv.irq, svc.mac.hex(":"), pa, "up" if svc.up else "down")
    line = irq_id(drv.irq) if drv.irq is not None else None

    def interrupt(msg) -> None:
        if msg.sender == line:
            svc.interrupt()
    drv.register(rt)
    serve(rt, Dispatch(NET, svc, rt, irq=interrupt))
