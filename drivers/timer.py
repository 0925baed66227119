"""The time service: the 8254 PIT's channel 0 as the system tick, NOW and SLEEP over IPC.

The driver programs channel 0 in mode 2 (rate generator) at HZ = 100 by port I/O only,
counts IRQ0 interrupts (empty messages from irq_id(0)) as ticks, and serves NOW and
SLEEP (drivers/protocol.py). A sleeper is not answered at once: it stays in its call's
receive phase while the driver keeps (deadline tick, seq, client) in a heap, and gets its
reply by `rt.send(client, reply, timeout=0)` at the first tick at or past the deadline.
One thread serves everyone, so any number of clients can sleep at the same time.

Why 100 Hz and mode 2: each tick is one IPC from the kernel to this task, ~10^4 times
dearer here than on a 486, so 1 kHz would spend a tenth of a host core on ticks for no
gain a caller could see through IPC latency; 100 Hz (Linux's classic HZ) gives 10 ms
sleep granularity. Mode 2 counts down linearly once per period (mode 3 twice), so a
latched count gives the position inside the tick and NOW has 1 ms resolution.
"""
from __future__ import annotations

import heapq
import itertools
import logging

from microkernel.abi import IpcCode, IpcError, Msg, irq_id

from .driver import start
from .protocol import E_INVAL, NOW, OK, SLEEP

__all__ = ["main", "Pit", "TimerService", "HZ", "FREQ", "DIVISOR", "MAX_SLEEP_MS"]

log = logging.getLogger("mk.timer")

FREQ = 1_193_182                      # the PIT's input clock, Hz
HZ = 100
DIVISOR = (FREQ + HZ // 2) // HZ      # 11932: 99.998 Hz, 10.00002 ms per tick
CH0, CMD = 0x40, 0x43
MODE2_LOHI = 0x34                     # channel 0, LSB then MSB, mode 2, binary
LATCH_CH0 = 0x00                      # counter-latch command for channel 0
READBACK_STATUS_CH0 = 0xE2            # read-back: status only, channel 0
MAX_SLEEP_MS = 0x7FFFFFFF             # ~24.8 days; anything larger is E_INVAL


class Pit:
    """Channel 0 of the 8254 through the granted ports: programming and the live count."""

    def __init__(self, rt, divisor: int = DIVISOR):
        self.rt = rt
        self.divisor = divisor

    def program(self) -> None:
        """Mode 2 with our divisor; checks by read-back that a PIT answered."""
        self.rt.outb(CMD, MODE2_LOHI)
        self.rt.outb(CH0, self.divisor & 0xFF)
        self.rt.outb(CH0, self.divisor >> 8)
        self.rt.outb(CMD, READBACK_STATUS_CH0)
        status = self.rt.inb(CH0)
        if status & 0x3F != MODE2_LOHI & 0x3F:
            raise RuntimeError(f"no 8254 at {CH0:#x}: status {status:#04x}")

    def count(self) -> int:
        """The latched count of channel 0 (divisor .. 1 counting down within a tick)."""
        self.rt.outb(CMD, LATCH_CH0)
        lo = self.rt.inb(CH0)
        hi = self.rt.inb(CH0)
        return (hi << 8 | lo) or 0x10000


class TimerService:
    """Ticks, the sleepers' heap, and the requests; knows nothing of IPC."""

    def __init__(self, divisor: int = DIVISOR, count=lambda: None):
        self.divisor = divisor
        self.count = count            # the live PIT count, or None when unknown
        self.ticks = 0
        self.last_ms = 0
        self.sleepers: list[tuple[int, int, int]] = []
        self._seq = itertools.count()

    def tick(self) -> list[int]:
        """One IRQ0: count it; returns the clients whose deadline has come, in order."""
        self.ticks += 1
        due = []
        while self.sleepers and self.sleepers[0][0] <= self.ticks:
            due.append(heapq.heappop(self.sleepers)[2])
        return due

    def now_ms(self) -> int:
        """Milliseconds since the first tick was counted, never going back. The position
        inside the current tick comes from the latched count; an edge the kernel has not
        delivered yet can make it look early, which the monotonic clamp hides."""
        clocks = self.ticks * self.divisor
        c = self.count()
        if c is not None and 0 < c <= self.divisor:
            clocks += self.divisor - c
        self.last_ms = max(self.last_ms, clocks * 1000 // FREQ)
        return self.last_ms

    def deadline(self, ms: int) -> int:
        """The first tick by which at least `ms` have passed (the current tick is partly
        gone, hence the + 1, as Linux's jiffies + timeout + 1)."""
        return self.ticks + -(-ms * FREQ // (1000 * self.divisor)) + 1

    def handle(self, words: tuple, client: int) -> Msg | None:
        """A request -> its reply now, or None when the client sleeps (reply comes later)."""
        op = words[0] if words else None
        if op == NOW and len(words) == 1:
            return Msg(words=(OK, self.now_ms() & 0xFFFFFFFF, self.ticks & 0xFFFFFFFF))
        if op == SLEEP and len(words) == 2 and 0 <= words[1] <= MAX_SLEEP_MS:
            if words[1] == 0:
                return Msg(words=(OK,))
            heapq.heappush(self.sleepers, (self.deadline(words[1]), next(self._seq), client))
            return None
        return Msg(words=(E_INVAL,))

    def forget(self, client: int) -> None:
        """Drop the sleeps of a client that asked again (it gave up on the first)."""
        kept = [s for s in self.sleepers if s[2] != client]
        if len(kept) != len(self.sleepers):
            self.sleepers = kept
            heapq.heapify(kept)


def main(rt, name: str, names_id) -> None:
    """Serve the timer class protocol on the PIT until the task is deleted."""
    drv = start(rt, name, names_id)
    if drv.irq is None:
        raise RuntimeError("the timer needs IRQ 0")
    pit = Pit(rt)
    pit.program()
    svc = TimerService(pit.divisor, pit.count)
    irq = irq_id(drv.irq)
    log.info("%s: PIT channel 0 mode 2, divisor %d (%.3f Hz)", name, pit.divisor,
             FREQ / pit.divisor)
    msg = rt.wait()
    while True:
        reply = None
        if msg.sender == irq:
            for client in svc.tick():
                _send(rt, client, Msg(words=(OK,)))
        elif msg.sender.is_irq:
            pass                                   # not ours: nothing to answer
        else:
            if msg.words[:1] == (SLEEP,):
                svc.forget(int(msg.sender))
                _drain(rt, irq, svc)                # count a tick already due first
            reply = svc.handle(msg.words, int(msg.sender))
        msg = _next(rt, msg.sender, reply)


def _drain(rt, irq, svc: TimerService) -> None:
    """Take the interrupts the kernel holds for us now (a closed poll of the line)."""
    while True:
        try:
            rt.receive(irq, timeout=0)
        except IpcError:
            return
        for client in svc.tick():
            _send(rt, client, Msg(words=(OK,)))


def _send(rt, client: int, reply: Msg) -> None:
    """A deferred reply; a client that has stopped waiting is not our problem."""
    try:
        rt.send(client, reply, timeout=0)
    except IpcError as e:
        log.info("timer: sleeper %s did not wait for its reply: %s", client, e.code.name)


def _next(rt, sender, reply: Msg | None):
    """Reply (if there is one) and wait for the next message."""
    if reply is not None:
        try:
            return rt.reply_and_wait(sender, reply)
        except IpcError as e:
            if e.code != IpcCode.TIMEOUT:
                log.info("timer: reply to %s failed: %s", sender, e.code.name)
    return rt.wait()
