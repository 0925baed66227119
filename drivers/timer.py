"""The time service: the 8254 PIT as tick and clock, NOW and SLEEP over IPC.

The driver programs the PIT by port I/O only: channel 0 in mode 2 (rate generator) at
HZ = 100 drives IRQ0, whose interrupts (empty messages from irq_id(0)) are the ticks;
channels 1 and 2 run free (mode 2, counts 65535 and 65536) as the clock source. It
serves NOW and SLEEP (protocols/timer.py) through `serve` and a Dispatch. A sleeper is
not answered at once: it stays in its call's receive phase while the driver keeps
(deadline, seq, client) in a heap, and gets its reply by `send_reply` at the first tick
at or past its deadline. One thread serves everyone, so any number of clients sleep at
once.

Tickless when idle: lthread 0 serves requests; lthread 1 owns IRQ0 and listens to it
only while someone sleeps. With nobody asleep it waits for lthread 0 instead, so the
kernel keeps the line masked and no tick costs an IPC (an idle node spent 7% of a CPU
on them, and a tick that lands in a kernel serving RPCs delays them). V2 delivers an
interrupt to its owner's open wait too, which is why the ticker is a thread of its own.

Why 100 Hz and mode 2: each tick is an IPC from the kernel to this task, far dearer
than an interrupt on a 486, so 1 kHz would cost ten times the CPU for a resolution no
caller sees through IPC latency; 100 Hz (Linux's classic HZ) gives 10 ms granularity.
Mode 2 is what PC kernels use for the tick (0x34), and its count falls linearly.

Why a clock source besides the ticks: on a busy host the kernel's loop or this task
runs late, and edges of IRQ0 are merged (by the PIT model or the masked PIC line), so
counting interrupts alone loses time (8% measured at load 6 on 2 cores). One read-back
latches all three counts; channels 1 and 2 give the clocks elapsed since the last
reading modulo 65535 and 65536, and since 65536 = 1 (mod 65535) the Chinese remainder
theorem joins them modulo 65535 * 65536 (one hour). The model truncates each channel's
count on its own, so the two residues may disagree by one clock, which moves the CRT
answer by a multiple of 65536; channel 0's residue (mod 11932) picks the right one. So
the clock is exact while readings are less than an hour apart: it is read on every
request, every IDLE_READ_S when no request comes, and while someone sleeps every 5th
tick and every tick once the earliest deadline is near. Deadlines are in clocks, so a
sleeper wakes at the first tick past its deadline, or, when ticks were lost, within 5
ticks.
"""
from __future__ import annotations

import errno
import heapq
import itertools
import logging
import threading

from microkernel.abi import IpcError, Msg, irq_id
from protocols.server import Dispatch, send_reply, serve
from protocols.timer import MAX_SLEEP_MS, TIMER, Op

from .driver import attach_irq, start

__all__ = ["main", "Pit", "Clock", "TimerService", "Ticker", "TimerServer", "HZ", "FREQ",
           "DIVISOR", "MAX_SLEEP_MS"]

log = logging.getLogger("mk.timer")

FREQ = 1_193_182                      # the PIT's input clock, Hz
HZ = 100
DIVISOR = (FREQ + HZ // 2) // HZ      # 11932: 99.998 Hz, 10.00002 ms per tick
N1, N2 = 0xFFFF, 0x10000              # channel 1 and 2 periods: coprime, 65536 = 1 mod N1
CH0, CH1, CH2, CMD = 0x40, 0x41, 0x42, 0x43
MODE2_LOHI = 0x34                     # channel 0, LSB then MSB, mode 2, binary
READBACK_STATUS_CH0 = 0xE2            # read-back: status only, channel 0
READBACK_COUNTS = 0xDE               # read-back: counts only, channels 0, 1 and 2
IDLE_READ_S = 600                     # with no request for this long, read the clock
GO = 0x6001                           # lthread 0 -> the ticker: someone sleeps now
                                      # (the ticker -> lthread 0 is the protocol's DUE)
RECHECK, NEAR = 5, 2                  # while someone sleeps: read every 5th tick, and
                                      # every tick once a deadline is 2 ticks away


class Pit:
    """The 8254 through the granted ports: programming, and the free-running phases."""

    def __init__(self, rt):
        self.rt = rt

    def program(self) -> None:
        """Channel 0 at HZ (mode 2), channels 1 and 2 free-running; checks a PIT answered."""
        out = self.rt.outb
        for ch, count in ((0, DIVISOR), (1, N1), (2, N2)):
            out(CMD, MODE2_LOHI | ch << 6)
            out(CH0 + ch, count & 0xFF)
            out(CH0 + ch, count >> 8 & 0xFF)
        out(CMD, READBACK_STATUS_CH0)
        status = self.rt.inb(CH0)
        if status & 0x3F != MODE2_LOHI & 0x3F:
            raise RuntimeError(f"no 8254 at {CH0:#x}: status {status:#04x}")

    def phases(self) -> tuple[int, int, int]:
        """Clocks elapsed since each channel loaded, modulo its period (one latch)."""
        self.rt.outb(CMD, READBACK_COUNTS)
        inb = self.rt.inb
        return tuple((n - ((inb(port) | inb(port) << 8) or N2)) % n
                     for port, n in ((CH0, DIVISOR), (CH1, N1), (CH2, N2)))


class Clock:
    """Clocks since the first reading, from the phases (CRT over N1 * N2, checked by N0)."""

    def __init__(self, phases):
        self.phases = phases
        self.last = phases()
        self.clocks = 0

    def read(self) -> int:
        now = self.phases()
        d0, d1, d2 = ((e - p) % n for e, p, n in zip(now, self.last, (DIVISOR, N1, N2)))
        self.last = now
        self.clocks += min((d2 + N2 * ((d1 - d2 + j) % N1) for j in (0, -1, 1)),
                           key=lambda c: _off((c - d0) % DIVISOR))
        return self.clocks


def _off(r: int) -> int:
    """How far a residue mod DIVISOR is from 0, either way."""
    return min(r, DIVISOR - r)


class TimerService:
    """Ticks, the clock, the sleepers' heap, and the requests; knows nothing of IPC.
    `listening` says whether the tick should run: from the first sleeper on until a
    tick finds nobody asleep."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.ticks = 0                # IRQ0 interrupts counted
        self.read_tick = 0            # self.ticks when the clock was last read
        self.sleepers: list[tuple[int, int, int]] = []
        self._seq = itertools.count()
        self.listening = False
        self.listened = 0             # clocks spent listening before the current span
        self.listen_from = 0          # the clock when the current span began

    def tick(self) -> list[int]:
        """One IRQ0: count it; returns the clients whose deadline has come, in order."""
        self.ticks += 1
        since = self.ticks - self.read_tick
        if (self.sleepers and since < RECHECK and
                self.clock.clocks + (since + NEAR) * DIVISOR < self.sleepers[0][0]):
            return []                 # the guess from ticks: nobody is near due yet
        now, due = self.now(), []
        while self.sleepers and self.sleepers[0][0] <= now:
            due.append(heapq.heappop(self.sleepers)[2])
        if not self.sleepers and self.listening:      # nobody left: the tick may stop
            self.listened += now - self.listen_from
            self.listening = False
        return due

    def now(self) -> int:
        """Read the clock (7 port accesses): clocks since the driver started."""
        self.read_tick = self.ticks
        return self.clock.read()

    def lost(self) -> int:
        """Ticks the clock says happened while the tick ran but no interrupt brought
        (merged edges)."""
        span = self.listened + (self.clock.clocks - self.listen_from if self.listening else 0)
        return max(0, span // DIVISOR - self.ticks)

    def stamp(self) -> tuple[int, int, int]:
        """NOW's reply: (ms, ticks, lost) since the driver started, from the clock."""
        now = self.now()
        return (now * 1000 // FREQ & 0xFFFFFFFF, now // DIVISOR & 0xFFFFFFFF,
                self.lost() & 0xFFFFFFFF)

    def sleep(self, ms: int, client: int) -> bool:
        """Put `client` to sleep for `ms`; False when it is due at once (ms 0). Every
        request reads the clock, so readings are never far apart."""
        if ms > MAX_SLEEP_MS:
            raise OSError(errno.EINVAL, f"a sleep of {ms} ms")
        now = self.now()
        if ms == 0:
            return False
        self.forget(client)
        deadline = now + -(-ms * FREQ // 1000)
        heapq.heappush(self.sleepers, (deadline, next(self._seq), client))
        if not self.listening:
            self.listening, self.listen_from = True, now
        return True

    def forget(self, client: int) -> None:
        """Drop the sleep of a client that asks again (it gave up on the first)."""
        kept = [s for s in self.sleepers if s[2] != client]
        if len(kept) != len(self.sleepers):
            heapq.heapify(kept)
            self.sleepers = kept


class Ticker:
    """lthread 1: owns IRQ0 and receives from it while `svc.listening`; otherwise it is
    parked in a closed receive from lthread 0, which sends GO when the first sleeper
    comes. Due sleepers are handed to lthread 0 (DUE), which replies. `lock` guards
    `svc` and the flags (a clock reading is 7 port accesses that must not interleave)."""

    def __init__(self, rt, svc: TimerService, irq: int):
        self.svc, self.irq = svc, irq
        self.lock = threading.Lock()
        self.parked = True
        self.due: list[int] = []
        self.server = rt.myself()
        self.tid = self.server.lthread_id(1)
        self._attached = threading.Event()
        self._error: Exception | None = None
        rt.lthread_ex_regs(1, self._run)
        if not self._attached.wait(10) or self._error is not None:
            raise RuntimeError(f"the ticker could not take IRQ {irq}: {self._error}")

    def wake_if_needed(self, rt) -> None:
        """After a request (lthread 0): start the ticker if a sleeper now waits for it."""
        with self.lock:
            go = self.svc.listening and self.parked
            if go:
                self.parked = False
        if go:                   # a rendezvous: the ticker is in, or about to be in, its receive
            try:
                rt.send(self.tid, Msg(words=(GO,)), timeout=5)
            except IpcError as e:
                log.warning("timer: the ticker did not take GO: %s", e.code.name)

    def _run(self, rt1) -> None:
        try:
            attach_irq(rt1, self.irq)
        except Exception as e:   # told to lthread 0, which fails the driver
            self._error = e
        self._attached.set()
        if self._error is not None:
            return
        irq = irq_id(self.irq)
        while True:
            try:
                rt1.receive(self.server)                 # parked until GO
            except IpcError:
                continue
            while not self._one_tick(rt1, irq):
                pass

    def _one_tick(self, rt1, irq) -> bool:
        """Take one interrupt; clients now due go to `due` and lthread 0 is told, for
        their replies must come from the thread they called. True: park now."""
        try:
            rt1.receive(irq)
        except IpcError:
            return False
        with self.lock:
            self.due += self.svc.tick()
            tell = bool(self.due)
        if tell:
            try:
                rt1.send(self.server, TIMER.request(Op.DUE), timeout=5)
            except IpcError as e:
                log.warning("timer: lthread 0 did not take DUE: %s", e.code.name)
        with self.lock:             # parked only after DUE went: lthread 0 never waits on us
            self.parked = park = not self.svc.listening
        return park

    def take_due(self) -> list[int]:
        """The clients whose sleep is over (lthread 0, on DUE)."""
        with self.lock:
            due, self.due = self.due, []
        return due


class TimerServer:
    """lthread 0's handlers of protocols.timer (Dispatch calls them by name): NOW and
    SLEEP from clients, DUE from the ticker."""

    def __init__(self, rt, svc: TimerService, ticker: Ticker):
        self.rt, self.svc, self.ticker = rt, svc, ticker

    def now(self, req, msg) -> tuple:
        """NOW: (ms, ticks, lost)."""
        with self.ticker.lock:
            return self.svc.stamp()

    def sleep(self, req, msg) -> tuple | None:
        """SLEEP: answered now for 0 ms, else by `due` once the time has come; the first
        sleeper starts the ticker."""
        with self.ticker.lock:
            asleep = self.svc.sleep(req.ms, int(msg.sender))
        if not asleep:
            return ()
        self.ticker.wake_if_needed(self.rt)
        return None

    def due(self, req, msg) -> None:
        """DUE (from the ticker): the sleepers whose time has come get their replies; a
        sleeper that no longer waits is not our problem."""
        for client in self.ticker.take_due():
            if not send_reply(self.rt, client, TIMER.reply(Op.SLEEP)):
                log.info("timer: sleeper %s did not wait for its reply", client)
        return None

    def idle(self) -> None:
        """No request for IDLE_READ_S: read the clock, so readings stay < 1 hour apart."""
        with self.ticker.lock:
            self.svc.now()


def main(rt, name: str, names_id) -> None:
    """Serve the timer class protocol on the PIT until the task is deleted."""
    drv = start(rt, name, names_id, attach=False)
    if drv.irq is None:
        raise RuntimeError("the timer needs IRQ 0")
    pit = Pit(rt)
    pit.program()
    svc = TimerService(Clock(pit.phases))
    server = TimerServer(rt, svc, Ticker(rt, svc, drv.irq))
    drv.register(rt)
    serve(rt, Dispatch(TIMER, server, rt), timeout=IDLE_READ_S, on_idle=server.idle)
