"""Task code for the dsm tests (tests/integration/test_dsm.py): tasks on several nodes
that attach one segment and read, write, lock and wait at barriers. Arguments arrive as
strings; each task reports facts (microkernel.user.testing.report)."""
import time

from microkernel.user.testing import report
from protocols.client import ServiceError
from servers.dsm.segment import Segment, SegmentFault

ADDR = 0x3000_0000


def _attach(rt, name, size):
    return Segment.attach(rt, name, int(size), ADDR)


def write(rt, name, size, off, text):
    """Store `text` at `off`, then report it stored."""
    seg = _attach(rt, name, size)
    seg.write(int(off), text.encode())
    report(wrote=text)


def read(rt, name, size, off, n):
    """Report the `n` bytes at `off`."""
    seg = _attach(rt, name, size)
    report(read=seg.read(int(off), int(n)).decode(errors="replace"))


def hold(rt, name, size, off, text, seconds):
    """Store `text` at `off` (this node then holds the page's only copy), say so, live on."""
    seg = _attach(rt, name, size)
    seg.write(int(off), text.encode())
    report(holding=text)
    time.sleep(float(seconds))


def poll(rt, name, size, off, text, seconds):
    """Read `off` until it holds `text` (a write elsewhere reaches this node): the time."""
    seg = _attach(rt, name, size)
    t0, n = time.monotonic(), len(text)
    while time.monotonic() - t0 < float(seconds):
        if seg.read(int(off), n) == text.encode():
            report(seen=text, after=time.monotonic() - t0)
            return
        time.sleep(0.01)
    report(seen=None)


def count(rt, name, size, times, tasks):
    """Add 1 to the word at 0 `times` times under lock 0, then meet `tasks` tasks at
    barrier 0 and report the word."""
    seg = _attach(rt, name, size)
    for _ in range(int(times)):
        with seg.locked(0):
            seg.write_u32(0, seg.read_u32(0) + 1)
    seg.barrier(int(tasks))
    report(total=seg.read_u32(0))


def lock_and_die(rt, name, size):
    """Take lock 0 and end without unlocking."""
    seg = _attach(rt, name, size)
    seg.lock(0)
    report(locked=True)


def fault(rt, name, size, off):
    """Read `off`: report the SegmentFault's text, or what was read."""
    seg = _attach(rt, name, size)
    t0 = time.monotonic()
    try:
        report(read=seg.read(int(off), 4).hex())
    except SegmentFault as e:
        report(fault=str(e), after=time.monotonic() - t0)


def attach_error(rt, name, size, addr):
    """Report the errno of an attach that must fail."""
    try:
        Segment.attach(rt, name, int(size), int(addr, 0))
        report(errno=0)
    except ServiceError as e:
        report(errno=e.errno, text=str(e))
    except ValueError as e:
        report(errno=-1, text=str(e))
