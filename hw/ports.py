"""The ISA I/O port bus (64 Ki ports) and the 486 TSS I/O permission bitmap.

Port reads and writes are 1, 2 or 4 bytes wide. A port no device claims floats high and
reads as all ones; writes to it vanish, as on a real ISA bus. A device claims whole
ranges; a 16- or 32-bit access goes to the device that owns its first port.
`insw`/`outsw` move many words in one call (the `rep insw` a driver uses for a sector).
"""
from __future__ import annotations

from .device import BadAccess, Device

__all__ = ["PortBus", "IOPermissionBitmap", "NPORTS"]

NPORTS = 0x10000
_MASK = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFFFFFF}


class PortBus:
    """Routes port accesses to the devices that claimed them."""

    def __init__(self) -> None:
        self._owner: list[Device | None] = [None] * NPORTS

    def register(self, device: Device, base: int, count: int) -> None:
        """Claim ports base..base+count-1 for `device`; a port has one owner."""
        if not (0 <= base and count > 0 and base + count <= NPORTS):
            raise BadAccess(f"port range {base:#x}+{count} outside 0..0xffff")
        clash = {self._owner[p] for p in range(base, base + count)} - {None}
        if clash:
            names = ", ".join(d.name for d in clash)
            raise BadAccess(f"ports {base:#x}-{base + count - 1:#x} already claimed by {names}")
        for p in range(base, base + count):
            self._owner[p] = device

    def unregister(self, device: Device) -> None:
        """Release every port `device` holds."""
        self._owner = [None if d is device else d for d in self._owner]

    def owner(self, port: int) -> Device | None:
        return self._owner[port]

    def read(self, port: int, size: int) -> int:
        _check(port, size)
        dev = self._owner[port]
        if dev is None:
            return _MASK[size]
        return dev.io_read(port, size) & _MASK[size]

    def write(self, port: int, size: int, value: int) -> None:
        _check(port, size)
        if not isinstance(value, int) or not 0 <= value <= _MASK[size]:
            raise BadAccess(f"value {value!r} does not fit {size * 8} bits")
        dev = self._owner[port]
        if dev is not None:
            dev.io_write(port, size, value)

    def inb(self, port: int) -> int: return self.read(port, 1)
    def inw(self, port: int) -> int: return self.read(port, 2)
    def inl(self, port: int) -> int: return self.read(port, 4)
    def outb(self, port: int, value: int) -> None: self.write(port, 1, value)
    def outw(self, port: int, value: int) -> None: self.write(port, 2, value)
    def outl(self, port: int, value: int) -> None: self.write(port, 4, value)

    def insw(self, port: int, count: int) -> bytes:
        """`rep insw`: read `count` 16-bit words from one port, little-endian bytes."""
        _check(port, 2)
        if not 0 <= count <= 0x10000:
            raise BadAccess(f"insw count {count} out of range")
        dev = self._owner[port]
        if dev is None:
            return b"\xff" * (2 * count)
        fast = getattr(dev, "io_read_string", None)
        if fast is not None:
            return fast(port, count)
        return b"".join(dev.io_read(port, 2).to_bytes(2, "little") for _ in range(count))

    def outsw(self, port: int, data: bytes) -> None:
        """`rep outsw`: write the 16-bit little-endian words of `data` to one port."""
        _check(port, 2)
        if len(data) % 2:
            raise BadAccess("outsw needs an even number of bytes")
        dev = self._owner[port]
        if dev is None:
            return
        fast = getattr(dev, "io_write_string", None)
        if fast is not None:
            fast(port, bytes(data))
            return
        mv = memoryview(data).cast("H")
        for word in mv:
            dev.io_write(port, 2, word)


def _check(port: int, size: int) -> None:
    if size not in _MASK:
        raise BadAccess(f"access width {size} (must be 1, 2 or 4 bytes)")
    if not isinstance(port, int) or not 0 <= port <= NPORTS - size:
        raise BadAccess(f"port {port!r} outside 0..0xffff")


class IOPermissionBitmap:
    """The TSS I/O permission bitmap: a set bit *denies* the port (486 semantics).

    A multi-byte access is allowed only when every byte's port is allowed, as the 486
    checks all bits covering the access.
    """

    def __init__(self) -> None:
        self.bits = bytearray(b"\xff" * (NPORTS // 8))   # all denied

    def allow(self, base: int, count: int = 1) -> None:
        for p in range(base, base + count):
            self.bits[p >> 3] &= ~(1 << (p & 7)) & 0xFF

    def deny(self, base: int, count: int = 1) -> None:
        for p in range(base, base + count):
            self.bits[p >> 3] |= 1 << (p & 7)

    def allowed(self, port: int, size: int = 1) -> bool:
        if not 0 <= port <= NPORTS - size:
            return False
        bits = self.bits
        return all(not bits[p >> 3] >> (p & 7) & 1 for p in range(port, port + size))

    def ranges(self) -> list[tuple[int, int]]:
        """Allowed ports as (base, count) runs."""
        out, start = [], None
        for p in range(NPORTS + 1):
            ok = p < NPORTS and self.allowed(p)
            if ok and start is None:
                start = p
            elif not ok and start is not None:
                out.append((start, p - start))
                start = None
        return out
