"""Physical memory of the simulated PC: one POSIX shared-memory segment.

The kernel process creates the segment; every task's runtime attaches it by name and
reads and writes guest memory in place, so a page mapped into two tasks is the same
host memory. The segment is a file in /dev/shm opened with `os.open` and mapped with
`mmap`, not `multiprocessing.shared_memory`: that module's resource tracker unlinks a
segment when a process that merely attached it exits.

Lifetime: the creating process owns the name. `unlink()` (or leaving a `with` block, or
the creator's object being collected or the creator exiting) removes the name; processes
that already attached keep their mapping until they `close()`. Attachers never unlink.

Addresses are physical byte addresses. An access that does not lie wholly inside the
segment raises `BadAccess` and touches nothing. `regions()` gives the AT memory map;
the 0xA0000-0xFFFFF hole is backed by the segment like any other byte, the map only
says that it is reserved (VGA, option ROMs, BIOS), not usable RAM.
"""
from __future__ import annotations

import mmap
import os
import re
import struct
import weakref

from .device import BadAccess

__all__ = ["PhysicalMemory", "FRAME_SIZE", "MIN_SIZE", "MAX_SIZE", "DEFAULT_SIZE",
           "CONVENTIONAL_BASE", "HOLE_BASE", "EXTENDED_BASE", "SHM_DIR"]

FRAME_SIZE = 4096
MIN_SIZE = 1 << 20
MAX_SIZE = 256 << 20
DEFAULT_SIZE = 16 << 20

CONVENTIONAL_BASE = 0x00000   # 640 KiB of conventional memory: 0x00000-0x9FFFF
HOLE_BASE = 0xA0000           # reserved: VGA memory, option ROMs, system BIOS: 0xA0000-0xFFFFF
EXTENDED_BASE = 0x100000      # extended memory: 1 MiB up to the end of the segment

SHM_DIR = "/dev/shm"

_U32 = struct.Struct("<I")
_unpack_u32 = _U32.unpack_from
_pack_u32 = _U32.pack_into
_ZEROS = bytes(1 << 16)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\Z")


class PhysicalMemory:
    """`size` bytes of physical memory in a shared segment, created or attached by name."""

    def __init__(self, size: int = DEFAULT_SIZE, name: str | None = None):
        _check_size(size)
        if name is None:
            name = f"mk-{os.getpid()}-{os.urandom(6).hex()}"
        path = _path(name)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, size)
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)
        self._setup(mm, path, size, owner=True)

    @classmethod
    def attach(cls, name: str) -> "PhysicalMemory":
        """Map an existing segment (created by another process) by its name."""
        path = _path(name)
        fd = os.open(path, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            _check_size(size)
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self = cls.__new__(cls)
        self._setup(mm, path, size, owner=False)
        return self

    def _setup(self, mm: mmap.mmap, path: str, size: int, owner: bool) -> None:
        self._mm = mm
        self._path = path
        self.name = os.path.basename(path)
        self.size = size
        self.owner = owner
        self.closed = False
        self.view = memoryview(mm)          # the whole segment, zero-copy
        self._last_u32 = size - 4
        # The creator removes the name when its object dies or the interpreter exits,
        # but only in the creating process (a forked child inherits this finalizer).
        self._finalizer = (weakref.finalize(self, _unlink_if, path, os.getpid())
                           if owner else None)

    # -- access --------------------------------------------------------------------------

    def read(self, paddr: int, n: int) -> bytes:
        """A copy of the `n` bytes at `paddr`."""
        self._check(paddr, n)
        return self._mm[paddr:paddr + n]

    def write(self, paddr: int, data) -> None:
        """Store the bytes of `data` (any bytes-like object) at `paddr`."""
        if not isinstance(data, (bytes, bytearray)):
            data = memoryview(data).cast("B")
        n = len(data)
        self._check(paddr, n)
        self._mm[paddr:paddr + n] = data

    def read_u32(self, paddr: int) -> int:
        """The little-endian 32-bit word at `paddr` (any alignment)."""
        if not 0 <= paddr <= self._last_u32:
            raise BadAccess(f"physical address {paddr!r}+4 outside 0..{self.size:#x}")
        return _unpack_u32(self._mm, paddr)[0]

    def write_u32(self, paddr: int, value: int) -> None:
        """Store `value` (0..2**32-1) as a little-endian 32-bit word at `paddr`."""
        if not 0 <= paddr <= self._last_u32:
            raise BadAccess(f"physical address {paddr!r}+4 outside 0..{self.size:#x}")
        if not 0 <= value <= 0xFFFFFFFF:
            raise BadAccess(f"value {value!r} does not fit 32 bits")
        _pack_u32(self._mm, paddr, value)

    def zero(self, paddr: int, n: int) -> None:
        """Clear `n` bytes from `paddr`."""
        self._check(paddr, n)
        mm, end, step = self._mm, paddr + n, len(_ZEROS)
        while paddr < end:
            k = min(step, end - paddr)
            mm[paddr:paddr + k] = _ZEROS if k == step else _ZEROS[:k]
            paddr += k

    def _check(self, paddr: int, n: int) -> None:
        if not (0 <= paddr and 0 <= n and paddr + n <= self.size):
            raise BadAccess(f"physical range {paddr!r}+{n!r} outside 0..{self.size:#x}")

    # -- the AT memory map ---------------------------------------------------------------

    def regions(self) -> list[dict]:
        """The memory map as [{start, end, kind}], `end` exclusive, in address order."""
        out = [{"start": CONVENTIONAL_BASE, "end": HOLE_BASE, "kind": "conventional"},
               {"start": HOLE_BASE, "end": EXTENDED_BASE, "kind": "hole"}]
        if self.size > EXTENDED_BASE:
            out.append({"start": EXTENDED_BASE, "end": self.size, "kind": "extended"})
        return out

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Unmap this process's view. Memoryviews still held elsewhere keep it mapped."""
        if self.closed:
            return
        self.closed = True
        self.view.release()
        try:
            self._mm.close()
        except BufferError:
            pass                             # slices of `view` alive: unmapped when they go
        self._mm = _CLOSED

    def unlink(self) -> None:
        """Remove the segment's name; attached processes keep their mappings. Idempotent."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "PhysicalMemory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if self.owner:
            self.unlink()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<PhysicalMemory {self.name} {self.size >> 10} KiB{state}>"


def _check_size(size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValueError(f"memory size must be an int, not {type(size).__name__}")
    if size % FRAME_SIZE:
        raise ValueError(f"memory size {size:#x} is not a multiple of 4 KiB")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"memory size {size >> 10} KiB outside 1 MiB..256 MiB")


def _path(name: str) -> str:
    name = name[1:] if name.startswith("/") else name
    if not _NAME_RE.match(name):
        raise ValueError(f"bad shared-memory name {name!r} (letters, digits, '.', '_', '-')")
    return os.path.join(SHM_DIR, name)


def _unlink_if(path: str, pid: int) -> None:
    if os.getpid() == pid:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _closed_map() -> mmap.mmap:
    mm = mmap.mmap(-1, mmap.PAGESIZE)
    mm.close()
    return mm


_CLOSED = _closed_map()   # stands in after close(): any access raises ValueError
