"""Task code for the hostile tests of the servers: a stranger (an ordinary `mk run` task)
calls every server's operations it may not, and floods the core servers, while the
test checks that nothing changed and that the node goes on."""
import random
import threading
import time

from microkernel.abi import Fpage, IpcError, MapItem, Msg, ThreadId
from microkernel.user.testing import report
from protocols.client import Service, ServiceError
from protocols.fs import FS, Op as FsOp
from protocols.names import NAMES, Names, Op as NamesOp
from protocols.pager import PAGER, Op as PagerOp
from protocols.root import ROOT, Op as RootOp
from protocols.timer import TIMER, Op as TimerOp
from protocols.tty import TTY, Op as TtyOp
from protocols.unix import UNIX, Op as UnixOp
from protocols.wellknown import PAGER_TASK, ROOT_TASK, names_id

PROBE = 0x2000_0000              # a page of mine the pager backs


def _errno(fn) -> str:
    """What a call's refusal says: an errno name, or "accepted"."""
    import errno
    try:
        fn()
        return "accepted"
    except ServiceError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def forbidden(rt):
    """Each operation this task may not invoke, at each server: the answers, and
    whether my own page survived (a stranger's requests change nothing)."""
    rt.mem.write(PROBE, b"my page")
    me, names = rt.myself(), Names(rt)
    table = names.list()
    pager = rt.pager
    root = ThreadId.make(ROOT_TASK, 0, 1, rt.site)
    unix = names.lookup("unix")
    other = ThreadId.make(PAGER_TASK, 0, 1, rt.site, chief=ROOT_TASK, nest=1)

    def at(tid, iface):
        return Service(rt, tid=tid, iface=iface, timeout=5.0)
    tried = {
        "names ASSIGN": lambda: at(names_id(rt.site), NAMES).call(NamesOp.ASSIGN, int(me), b"fs"),
        "names REMOVE": lambda: at(names_id(rt.site), NAMES).call(NamesOp.REMOVE, b"fs"),
        "pager FORGET": lambda: at(pager, PAGER).call(PagerOp.FORGET, int(other)),
        "pager COPY": lambda: at(pager, PAGER).call(PagerOp.COPY, int(other)),
        "root DRIVER_HELLO": lambda: at(root, ROOT).call(RootOp.DRIVER_HELLO, b"com1"),
        "root MEMORY 2**30": lambda: at(root, ROOT).call(RootOp.MEMORY, 30),
        "fs UMOUNT": lambda: at(names.lookup("fs"), FS).call(FsOp.UMOUNT),
        "tty INPUT": lambda: at(names.lookup("tty"), TTY).call(TtyOp.INPUT, 0, b"rm -rf /\n"),
        "timer DUE": lambda: at(names.lookup("timer"), TIMER).call(TimerOp.DUE),
        "unix WORKER_DONE": lambda: at(unix, UNIX).call(UnixOp.WORKER_DONE, 1),
        "unix OPEN": lambda: at(unix, UNIX).call(UnixOp.OPEN, 0, 0, b"/etc/passwd"),
    }
    answers = {name: _errno(fn) for name, fn in tried.items()}
    report(answers=answers, names_kept=names.list() == table,
           page_kept=rt.mem.read(PROBE, 7) == b"my page")


def map_into_root(rt):
    """A map item of my own page sent to root, which takes none: refused, and my page
    (and every other) is where it was."""
    rt.mem.write(PROBE, b"still mine")
    root = ThreadId.make(ROOT_TASK, 0, 1, rt.site)
    try:
        rt.send(root, Msg(words=(1,), items=(MapItem(Fpage(PROBE, 12), PROBE),)), timeout=5)
        result = "delivered"
    except IpcError as e:
        result = e.code.name
    report(result=result, page_kept=rt.mem.read(PROBE, 10) == b"still mine")


def _flood(rt, dest: int, stop: threading.Event, sent: list, seed: int) -> None:
    """Requests at `dest` as fast as they are answered: unknown operations and random
    words, each waited for (a caller cannot have more than one in flight)."""
    r = random.Random(seed)
    while not stop.is_set():
        words = tuple(r.getrandbits(32) for _ in range(r.randrange(0, 6)))
        try:
            rt.call(dest, Msg(words=words), timeout=2)
        except IpcError:
            pass
        sent.append(1)


def flood(rt, seconds="4"):
    """Three lthreads flood root, the name server and the pager; meanwhile lthread 0
    takes fresh memory (faults -> pager -> root MEMORY) and looks names up. How much
    each side got done."""
    stop, counts = threading.Event(), [[], [], []]
    targets = [ThreadId.make(ROOT_TASK, 0, 1, rt.site), names_id(rt.site), rt.pager]
    for i, (dest, sent) in enumerate(zip(targets, counts)):
        rt.lthread_ex_regs(1 + i, _flood, args=(dest, stop, sent, i))
    names, pages, lookups = Names(rt), 0, 0
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        rt.mem.write(0x3000_0000 + pages * 0x1000, b"fresh")
        pages += 1
        lookups += names.lookup("fs") is not None
    stop.set()
    report(flooded=[len(c) for c in counts], pages=pages, lookups=lookups)


def dumpable(rt):
    """Whether Linux lets other processes of my user into my memory (PR_GET_DUMPABLE)."""
    import ctypes
    report(dumpable=ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))


def hog(rt, mib):
    """Touch fresh pages until `mib` MiB or an access faults for good: how far it got."""
    from microkernel.user import MemoryFault
    pages = 0
    try:
        for pages in range(int(mib) * 256):
            rt.mem.write(0x1000_0000 + pages * 0x1000, b"mine")
        report(pages=pages + 1, faulted=False)
    except MemoryFault:
        report(pages=pages, faulted=True)
