"""The 8254 programmable interval timer at 0x40-0x43; channel 0 drives IRQ0.

Why: it is the system tick. Kernels program it with a command byte to 0x43 and a divisor
to 0x40 (0x34 or 0x36, then 11932 for 100 Hz) and read the count back to measure short
intervals, so both the tick and the count must follow the clock exactly.

What is modelled (Intel 8254 datasheet; QEMU `hw/timer/i8254.c`): three channels clocked
at 1.193182 MHz; the command byte (channel, access lobyte/hibyte/lo-hi, mode, BCD), the
counter-latch command and the 8254 read-back command (count and status latches); modes
0 (interrupt on terminal count), 2 (rate generator), 3 (square wave) and 4 (software
strobe); modes 1 and 5 wait for a gate trigger that never comes (the gates are not
wired). A count of 0 means 65536 (10000 in BCD). Counts are not stored per tick: a read
derives the current count from `machine.clock` and the time the count was loaded.

Channel 0 pulses IRQ0 once per period (mode 0/4: once). Nothing is scheduled until a
count is written to channel 0. Deadlines are `load_time + k * N / FREQ`, computed from
the load time, so there is no drift. If the owner's loop falls behind (a `RealClock`
while the host was busy) the missed edges are coalesced: one pulse is delivered and the
next deadline is the first one still in the future. The PIC would merge a burst into
one IRR bit anyway; `missed` counts the edges dropped. On a `VirtualClock` every edge
fires at its own deadline. While IRQ0 holds a latched request that the PIC masks (a
tickless kernel leaves it so), a new edge could change nothing, so none is scheduled:
the channel sleeps until software unmasks the line, then goes on from its load time
(the edges in between count as `missed`), and an idle machine has no timer running.

Left out: gate inputs (channel 2's gate at port 0x61 belongs to another model; all gates
read as high), the one-clock delay between writing a count and loading it, and the
8254's rule that a new count written in modes 2/3 waits for the end of the current
period: as in QEMU, a new count restarts the channel at once. Ports are 8-bit.
"""
from __future__ import annotations

from .device import BadAccess, Device

__all__ = ["PIT", "FREQ"]

FREQ = 1_193_182                             # Hz: 14.31818 MHz / 12


def _from_bcd(v: int) -> int:
    digits = [(v >> s) & 0xF for s in (12, 8, 4, 0)]
    if any(d > 9 for d in digits):
        raise BadAccess(f"8254: count {v:#06x} is not BCD")
    return int("".join(map(str, digits)))


def _to_bcd(n: int) -> int:
    return int(f"{n % 10000:04d}", 16)


class _Channel:
    """One counter's programmed state; `load_time` is None while it is not counting."""

    def __init__(self) -> None:
        self.mode_bits = 3                   # as written (6/7 alias 2/3), for the status
        self.access = 3                      # 1 LSB, 2 MSB, 3 LSB then MSB
        self.bcd = False
        self.count = 0x10000                 # N, the initial count
        self.load_time: float | None = None
        self.null_count = True               # a count is written but not yet loaded
        self.write_msb_next = False
        self.low_byte = 0
        self.read_msb_next = False
        self.latch: list[int] = []           # latched count bytes still to be read
        self.status: int | None = None       # latched status byte, read first

    @property
    def mode(self) -> int:
        return self.mode_bits & 3 if self.mode_bits >= 6 else self.mode_bits

    def ticks(self, now: float) -> int:
        return int((now - self.load_time) * FREQ) if self.load_time is not None else 0

    def value(self, now: float) -> int:
        """The count register's current value (before BCD encoding), 16-bit."""
        n, mode = self.count, self.mode
        if self.load_time is None or mode in (1, 5):
            v = n
        else:
            d = self.ticks(now)
            if mode in (0, 4):
                v = n - d                    # keeps counting down past 0 (wraps)
            elif mode == 2:
                v = n - d % n                # N .. 1
            else:
                v = n - (2 * d) % n          # mode 3 decrements by 2, twice a period
        if self.bcd:
            return _to_bcd(v % 10000)
        return v & 0xFFFF

    def output(self, now: float) -> bool:
        """The OUT pin (datasheet waveforms)."""
        mode = self.mode
        if self.load_time is None:
            return mode != 0                 # a control word sets OUT low only in mode 0
        n, d = self.count, self.ticks(now)
        if mode == 0:
            return d >= n
        if mode == 2:
            return d % n != n - 1            # low for the one clock while the count is 1
        if mode == 3:
            return d % n < (n + 1) // 2      # high for ceil(N/2), low for floor(N/2)
        if mode == 4:
            return d != n                    # strobe: low for one clock at terminal count
        return True                          # modes 1/5, never triggered

    def status_byte(self, now: float) -> int:
        return (self.output(now) << 7 | self.null_count << 6 | self.access << 4
                | self.mode_bits << 1 | self.bcd)

    def latch_count(self, now: float) -> None:
        if self.latch:                       # a second latch before the read is ignored
            return
        v = self.value(now)
        self.latch = {1: [v & 0xFF], 2: [v >> 8], 3: [v & 0xFF, v >> 8]}[self.access]


class PIT(Device):
    """An 8254 PIT; channel 0's output is IRQ0."""

    name = "pit"
    port_ranges = ((0x40, 4),)
    irqs = (0,)

    def __init__(self) -> None:
        super().__init__()
        self.channels = [_Channel() for _ in range(3)]
        self._edge = 0                       # index k of the next channel-0 edge
        self.missed = 0                      # channel-0 edges coalesced away

    # -- lifecycle ------------------------------------------------------------------

    def unplugged(self) -> None:
        """Unplugging removes power: timers stop and the channels return to reset state."""
        self.cancel_timer()
        self.channels = [_Channel() for _ in range(3)]
        super().unplugged()

    def output(self, channel: int) -> bool:
        """The OUT pin of `channel` now (channel 2's goes to the speaker logic)."""
        return self.channels[channel].output(self._now())

    def _now(self) -> float:
        if self.machine is None:
            raise BadAccess("8254: not plugged into a machine")
        return self.machine.clock.now()

    # -- port I/O ---------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        self._check(port, size)
        if port == 0x43:
            return 0xFF                      # write-only: the data bus floats
        ch = self.channels[port - 0x40]
        if ch.status is not None:
            s, ch.status = ch.status, None
            return s
        if ch.latch:
            return ch.latch.pop(0)
        v = ch.value(self._now())
        if ch.access == 1:
            return v & 0xFF
        if ch.access == 2:
            return v >> 8
        msb, ch.read_msb_next = ch.read_msb_next, not ch.read_msb_next
        return v >> 8 if msb else v & 0xFF

    def io_write(self, port: int, size: int, value: int) -> None:
        self._check(port, size)
        value &= 0xFF
        if port == 0x43:
            self._command(value)
            return
        index = port - 0x40
        ch = self.channels[index]
        if ch.access == 1:
            self._load(index, value)
        elif ch.access == 2:
            self._load(index, value << 8)
        elif not ch.write_msb_next:
            ch.low_byte, ch.write_msb_next = value, True
            if ch.mode == 0 and ch.load_time is not None:
                self._stop(index)            # mode 0: the first byte stops the count
        else:
            ch.write_msb_next = False
            self._load(index, ch.low_byte | value << 8)

    def _check(self, port: int, size: int) -> None:
        if size != 1:
            raise BadAccess(f"8254 port {port:#x} is 8-bit (got a {size}-byte access)")

    def _command(self, value: int) -> None:
        sc, rw = value >> 6, (value >> 4) & 3
        now = self._now()
        if sc == 3:                          # read-back: 1 1 /COUNT /STATUS C2 C1 C0 0
            for i in range(3):
                if value & (2 << i):
                    ch = self.channels[i]
                    if not value & 0x20:
                        ch.latch_count(now)
                    if not value & 0x10 and ch.status is None:
                        ch.status = ch.status_byte(now)
            return
        ch = self.channels[sc]
        if rw == 0:                          # counter-latch command
            ch.latch_count(now)
            return
        self._stop(sc)
        ch.access, ch.mode_bits, ch.bcd = rw, (value >> 1) & 7, bool(value & 1)
        ch.null_count, ch.write_msb_next, ch.read_msb_next = True, False, False
        ch.latch, ch.status = [], None

    def _stop(self, index: int) -> None:
        self.channels[index].load_time = None
        if index == 0:
            self.cancel_timer()

    def _load(self, index: int, raw: int) -> None:
        """A complete count was written: it loads and the channel (re)starts now."""
        ch = self.channels[index]
        n = _from_bcd(raw) if ch.bcd else raw
        if n == 0:
            n = 10000 if ch.bcd else 0x10000
        if n == 1 and ch.mode in (2, 3):
            raise BadAccess(f"8254: a count of 1 is illegal in mode {ch.mode}")
        ch.count, ch.null_count = n, False
        ch.load_time = self._now()
        if index == 0:
            self._edge = 1
            self._arm()

    # -- channel 0 -> IRQ0 ------------------------------------------------------------

    def _arm(self) -> None:
        self.cancel_timer()
        ch = self.channels[0]
        if self.machine is None or ch.load_time is None:
            return
        mode = ch.mode
        if mode in (2, 3):
            ticks = self._edge * ch.count
        elif mode in (0, 4) and self._edge == 1:
            ticks = ch.count + (mode == 4)   # mode 4 rises after its one-clock strobe
        else:
            return                           # one-shot done, or waiting for a gate
        when = ch.load_time + ticks / FREQ
        self._timer = self.machine.clock.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        line = self.irq_lines.get(0)
        if line is not None:
            line.pulse()
        self._catch_up(self._edge + 1)
        if line is not None and line.held():
            # IRQ0 is latched and masked: the edges to come would only merge into that
            # IRR bit, so none is scheduled until software unmasks the line
            line.when_unmasked(self._unmasked)
            return
        self._arm()

    def _unmasked(self) -> None:
        self._catch_up(self._edge)
        self._arm()

    def _catch_up(self, first: int) -> None:
        """The next edge is the first still to come from edge `first` on; the ones due by
        now (from the load time, never from the last firing) count as `missed`."""
        self._edge = first
        ch = self.channels[0]
        if ch.load_time is None or self.machine is None or ch.mode not in (2, 3):
            return
        due = int((self.machine.clock.now() - ch.load_time) * FREQ / ch.count)
        if due >= first:
            self.missed += due - first + 1
            self._edge = due + 1

    def describe(self) -> dict:
        d = super().describe()
        ch = self.channels[0]
        d.update(mode=ch.mode, divisor=ch.count, running=ch.load_time is not None,
                 hz=FREQ / ch.count if ch.load_time is not None else None)
        return d
