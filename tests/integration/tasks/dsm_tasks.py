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


def write_and_pass(rt, name, size, off, text):
    """Store `text` at `off`, pass a barrier of one (its write-back), report it stored."""
    seg = _attach(rt, name, size)
    seg.write(int(off), text.encode())
    seg.barrier(1, 7)
    report(wrote=text)


def hold(rt, name, size, off, text, seconds):
    """Store `text` at `off` (this node then holds the page's only copy), say so, live on.
    One page a fault: no untouched page is granted along with it."""
    seg = Segment.attach(rt, name, int(size), ADDR, ahead=1)
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


def stranger(rt, name, size):
    """Call every dsm operation as a stranger would: a task, not a dsm server, with
    malformed and forged requests; report each errno (0: accepted) and the segment's
    first bytes before and after."""
    from microkernel.abi import Msg
    from protocols.dsm import COHERENCE_LTHREAD, COPIES_LTHREAD, CopyOp, DsmClient, HomeOp, Op
    seg = _attach(rt, name, size)
    before = seg.read(0, 8)
    dsm = DsmClient(rt).server()
    home, copies = seg.home.server(), dsm.lthread_id(COPIES_LTHREAD)      # the real home
    coherence = dsm.lthread_id(COHERENCE_LTHREAD)
    tries = {
        "open": (home, (HomeOp.OPEN, 4096), (b"x",)),
        "read": (home, (HomeOp.READ, seg.number, 0, 1), ()),
        "write": (home, (HomeOp.WRITE, seg.number, 0, 1), ()),
        "gone": (home, (HomeOp.GONE, 64, 0), ()),
        "fetch": (copies, (CopyOp.FETCH, seg.number, 0, 1), (b"\0" * 4,)),
        "invalidate": (coherence, (CopyOp.INVALIDATE, seg.home.server().site, seg.number, 0,
                                   dsm.low, dsm.high),
                       (b"\x63\0\0\0",)),
        "invalidated": (coherence, (CopyOp.INVALIDATED, seg.home.server().site,
                                    seg.number, 0, 99), ()),
        "forget": (dsm, (Op.FORGET, int(rt.myself()) & 0xFFFFFFFF, 0), ()),
        "push": (home, (HomeOp.PUSH, seg.number), (b"\0\0\0\0", b"\1\0\0\0", b"\0",
                                                     b"forged" * 700)),
        "writeback_none": (dsm, (Op.WRITEBACK, 0x6000_0000, 0), ()),
        "unlock_not_held": (home, (HomeOp.UNLOCK, seg.number, 0), ()),
        "lock_bad_number": (home, (HomeOp.LOCK, seg.number, 100000), ()),
        "lock_no_segment": (home, (HomeOp.LOCK, 999, 0), ()),
        "barrier_zero": (home, (HomeOp.BARRIER, seg.number, 0, 0), ()),
        "attach_short": (dsm, (Op.ATTACH, ADDR), ()),
        "attach_bad_utf8": (dsm, (Op.ATTACH, 0x4000_0000, 4096, 1), (b"\xff\xfe",)),
        "attach_huge_name": (dsm, (Op.ATTACH, 0x4000_0000, 4096, 1), (b"a" * (1 << 20),)),
        "attach_bad_ahead": (dsm, (Op.ATTACH, 0x4000_0000, 4096, 99), (b"x",)),
        "unknown": (home, (0xD5BF, 1, 2), ()),
        "detach_none": (dsm, (Op.DETACH, 0x5000_0000, 4096), ()),
        "why_elsewhere": (dsm, (Op.WHY, 0x6000_0000, 0), ()),
        "attach_huge_size": (dsm, (Op.ATTACH, 0x4000_0000, 0xFFFFF000, 1), (b"y",)),
    }
    got = {}
    for what, (dest, words, strings) in tries.items():
        reply = rt.call(dest, Msg(words=tuple(int(w) for w in words), strings=strings),
                        timeout=10.0)
        got[what] = reply.words[0] if reply.words else -1
    report(errnos=got, before=before.hex(), after=seg.read(0, 8).hex())
