"""The CMOS real-time clock (Motorola MC146818) at 0x70 (index) / 0x71 (data), IRQ8.

Why: kernels read the date at boot and some use the RTC's periodic interrupt as a second
time base; the battery-backed RAM is where PC firmware keeps its configuration.

What is modelled (MC146818A datasheet; Bochs `iodev/cmos.cc`, QEMU `hw/rtc/mc146818rtc.c`):
- Index register at 0x70; bit 7 (NMI disable on the AT) is recorded and otherwise ignored.
  The chip decodes 64 bytes, so indexes 0x40-0x7F alias 0x00-0x3F.
- Time and date (0x00 s, 0x02 min, 0x04 h, 0x06 day of week 1=Sunday, 0x07 day, 0x08 month,
  0x09 year, 0x32 century) come from the host's clock in UTC at the moment of the read,
  plus an offset the guest sets by writing them. Encoding follows register B: BCD or
  binary (DM), 24 h or 12 h with bit 7 = PM. With SET=1 the time is frozen and writes
  collect the new date, which takes effect when SET is cleared (the datasheet's way);
  with SET=0 a write takes effect at once. Day of week is derived, writes to it are ignored.
- Register A: UIP (set during the last 244 us of each second, the datasheet's t_BUC;
  0 while SET=1), divider DV (only 010, the AT's 32.768 kHz, runs) and rate RS.
  Register B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE (stored; PIE acts, see below).
  Register C: IRQF, PF, AF, UF; reading it clears them and lowers IRQ8. Register D: VRT=1.
- Periodic interrupt: PF is set at every period boundary (32768 >> (RS-1) Hz; RS 1 and 2
  give 256 and 128 Hz, RS 0 none), boundaries being multiples of the period on
  `machine.clock`. With PIE=1 a boundary raises IRQF and IRQ8 and the line stays high
  until register C is read: a handler that does not read C gets no further IRQ8.
  A timer runs only while PIE=1 and the line is low; PF without PIE is computed lazily.
- 50 bytes of general RAM (0x0E-0x3F except the century byte) and the alarm bytes read
  back what was written. At plug time the memory-size bytes (0x15-0x18, 0x30-0x31) and
  the checksum (0x2E-0x2F) are filled in from the machine's memory, as POST would.

Left out: the alarm and update-ended interrupts (AIE/UIE are stored, AF/UF never set),
the square-wave output, daylight-saving, and the divider chain's sub-second phase.
"""
from __future__ import annotations

import calendar
import math
import time
from typing import Callable

from .device import BadAccess, Device

__all__ = ["RTC"]

REG_A, REG_B, REG_C, REG_D, CENTURY = 0x0A, 0x0B, 0x0C, 0x0D, 0x32
UIP, DV_MASK, DV_32K = 0x80, 0x70, 0x20
SET, PIE, AIE, UIE, DM_BINARY, H24 = 0x80, 0x40, 0x20, 0x10, 0x04, 0x02
IRQF, PF, AF, UF = 0x80, 0x40, 0x20, 0x10
T_BUC = 244e-6                               # update cycle: UIP leads it by 244 us

# time fields, in the order of the list kept while SET=1
_YEAR, _MONTH, _DAY, _HOUR, _MIN, _SEC = range(6)
_FIELD_OF = {0x00: _SEC, 0x02: _MIN, 0x04: _HOUR, 0x07: _DAY, 0x08: _MONTH}
_LIMITS = {_SEC: (0, 59), _MIN: (0, 59), _HOUR: (0, 23), _DAY: (1, 31), _MONTH: (1, 12)}


class RTC(Device):
    """An MC146818 RTC with 64 bytes of CMOS; `wall` is the host clock (for tests)."""

    name = "rtc"
    port_ranges = ((0x70, 2),)
    irqs = (8,)

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.wall = wall
        self.ram = bytearray(64)
        self.index = 0
        self.nmi_disabled = False
        self.reg_a, self.reg_b, self.flags = 0x26, H24, 0   # rate 6 (1024 Hz), BCD, 24 h
        self.offset = 0.0                    # guest time minus host time, seconds
        self._set_fields: list[int] | None = None
        self._pf_since = 0.0                 # clock time of the last register C read

    # -- lifecycle ------------------------------------------------------------------

    def plugged(self, machine, lines) -> None:
        super().plugged(machine, lines)
        self._pf_since = machine.clock.now()
        size = getattr(getattr(machine, "memory", None), "size", None)
        if isinstance(size, int) and size >= 1 << 20:
            self._post_memory_bytes(size)
        self._arm()

    def unplugged(self) -> None:
        self.cancel_timer()
        self.flags = 0
        super().unplugged()

    def _post_memory_bytes(self, size: int) -> None:
        ext = min((size >> 10) - 1024, 0xFFFF)
        ram = self.ram
        ram[0x15:0x17] = (640).to_bytes(2, "little")
        ram[0x17:0x19] = ram[0x30:0x32] = ext.to_bytes(2, "little")
        ram[0x2E:0x30] = sum(ram[0x10:0x2E]).to_bytes(2, "big")   # checksum, high byte first

    # -- time -------------------------------------------------------------------------

    def _fields(self) -> list[int]:
        """[year, month, day, hour, minute, second] of the guest's clock now."""
        if self._set_fields is not None:
            return list(self._set_fields)
        t = time.gmtime(math.floor(self.wall() + self.offset))
        return [t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec]

    @staticmethod
    def _epoch(f: list[int]) -> int:
        for i, (lo, hi) in _LIMITS.items():
            if not lo <= f[i] <= hi:
                raise BadAccess(f"RTC: time field {i} = {f[i]} outside {lo}..{hi}")
        return calendar.timegm((f[_YEAR], f[_MONTH], f[_DAY], f[_HOUR], f[_MIN], f[_SEC]))

    def _enc(self, v: int) -> int:
        return v if self.reg_b & DM_BINARY else int(f"{v % 100:02d}", 16)

    def _dec(self, v: int) -> int:
        if self.reg_b & DM_BINARY:
            return v
        if (v >> 4) > 9 or (v & 0xF) > 9:
            raise BadAccess(f"RTC: {v:#04x} is not BCD (register B selects BCD)")
        return (v >> 4) * 10 + (v & 0xF)

    def _read_time(self, reg: int) -> int:
        f = self._fields()
        if reg == 0x06:
            try:
                return self._enc((calendar.weekday(f[_YEAR], f[_MONTH], f[_DAY]) + 1) % 7 + 1)
            except ValueError:               # an impossible date written under SET
                return self._enc(1)
        if reg == 0x09:
            return self._enc(f[_YEAR] % 100)
        if reg == CENTURY:
            return self._enc(f[_YEAR] // 100)
        v = f[_FIELD_OF[reg]]
        if reg == 0x04 and not self.reg_b & H24:
            return self._enc(v % 12 or 12) | (0x80 if v >= 12 else 0)
        return self._enc(v)

    def _write_time(self, reg: int, value: int) -> None:
        if reg == 0x06:
            return                           # day of week is derived from the date
        f = self._fields()
        old = None if self._set_fields is not None else self._epoch(f)
        if reg == 0x04 and not self.reg_b & H24:
            f[_HOUR] = self._dec(value & 0x7F) % 12 + (12 if value & 0x80 else 0)
        elif reg == 0x09:
            f[_YEAR] = f[_YEAR] // 100 * 100 + self._dec(value)
        elif reg == CENTURY:
            f[_YEAR] = self._dec(value) * 100 + f[_YEAR] % 100
        else:
            f[_FIELD_OF[reg]] = self._dec(value)
        if old is None:
            self._set_fields = f             # SET=1: applied when SET clears
        else:
            self.offset += self._epoch(f) - old

    def _write_b(self, value: int) -> None:
        if value & SET:
            value &= ~UIE                    # datasheet: SET=1 clears UIE
            if self._set_fields is None:
                self._set_fields = self._fields()
        elif self._set_fields is not None:    # a bad date leaves SET on, nothing changed
            self.offset = self._epoch(self._set_fields) - math.floor(self.wall())
            self._set_fields = None
        self._collect_pf()
        self.reg_b = value
        self._update_irq()
        self._arm()

    # -- periodic interrupt -------------------------------------------------------------

    def period(self) -> float | None:
        """Seconds between periodic flags per register A, or None when it does not run."""
        rate = self.reg_a & 0x0F
        if rate == 0 or self.reg_a & DV_MASK != DV_32K:
            return None
        if rate < 3:
            rate += 7                        # RS 1, 2 equal RS 8, 9 on a 32.768 kHz base
        return (1 << (rate - 1)) / 32768

    def _collect_pf(self) -> None:
        """Set PF if a period boundary passed since register C was last read."""
        p = self.period()
        if p is None or self.machine is None:
            return
        now = self.machine.clock.now()
        if math.floor(now / p) > math.floor(self._pf_since / p):
            self.flags |= PF
        self._pf_since = now

    def _update_irq(self) -> None:
        """IRQF = PF.PIE + AF.AIE + UF.UIE (flag and enable bits line up); IRQ8 follows it."""
        on = bool(self.flags & self.reg_b & (PF | AF | UF))
        self.flags = self.flags | IRQF if on else self.flags & ~IRQF
        line = self.irq_lines.get(8)
        if line is not None:
            line.set(on)

    def _arm(self) -> None:
        self.cancel_timer()
        p = self.period()
        if self.machine is None or p is None or not self.reg_b & PIE or self.flags & IRQF:
            return
        clock = self.machine.clock
        self._timer = clock.call_at((math.floor(clock.now() / p) + 1) * p, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._collect_pf()
        self._update_irq()
        self._arm()

    # -- port I/O ---------------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        self._check(port, size)
        if port == 0x70:
            return 0xFF                      # the index register is write-only
        reg = self.index
        if reg == REG_A:
            w = self.wall() + self.offset
            uip = self._set_fields is None and w - math.floor(w) >= 1 - T_BUC
            return self.reg_a | (UIP if uip else 0)
        if reg == REG_B:
            return self.reg_b
        if reg == REG_C:
            self._collect_pf()
            self._update_irq()
            v, self.flags = self.flags, 0
            self._update_irq()               # lowers IRQ8
            self._arm()
            return v
        if reg == REG_D:
            return 0x80                      # VRT: the battery is good
        if reg in _FIELD_OF or reg in (0x06, 0x09, CENTURY):
            return self._read_time(reg)
        return self.ram[reg]

    def io_write(self, port: int, size: int, value: int) -> None:
        self._check(port, size)
        if port == 0x70:
            self.nmi_disabled = bool(value & 0x80)
            self.index = value & 0x3F
            return
        reg = self.index
        if reg == REG_A:
            self._collect_pf()
            self.reg_a = value & 0x7F        # UIP is read-only
            self._arm()
        elif reg == REG_B:
            self._write_b(value)
        elif reg in (REG_C, REG_D):
            pass                             # read-only
        elif reg in _FIELD_OF or reg in (0x06, 0x09, CENTURY):
            self._write_time(reg, value)
        else:
            self.ram[reg] = value

    def _check(self, port: int, size: int) -> None:
        if size != 1:
            raise BadAccess(f"RTC port {port:#x} is 8-bit (got a {size}-byte access)")

    def describe(self) -> dict:
        d = super().describe()
        d.update(periodic_hz=(1 / p if (p := self.period()) else None),
                 pie=bool(self.reg_b & PIE))
        return d
