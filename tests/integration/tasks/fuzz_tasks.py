"""A hostile task: it sends the kernel random and mutated requests on its own sockets.

`fuzz(rt, seed, total, threads, partner, check_every)` runs `threads` workers (lthread
0, 1, ...), each with its own seed, that together send `total` requests, one
outstanding per thread (no pipelining: every request must be answered before the next
goes). `partner` is the id of a `sink` task (in another address space, answering and
mapping back) that most IPCs aim at; with `check_every`, lthread 0 stops the others and
runs the kernel's self-check through the control port that often, while the fuzz and
its partner are still live. The mix:

  * raw random bytes as the header frame, and valid msgpack of random structures;
  * mutations of valid requests of every operation: a field replaced by junk (wrong
    types, out-of-range and negative ints, 2**64, floats, None, strings, bytes, huge and
    nested lists, maps), fields dropped, added or swapped, bit flips, extra frames,
    bogus thread ids, fpage words with bad sizes and alignments, I/O fpages, timeout
    words, receive modes;
  * requests from a socket that never said HELLO, and HELLOs with wrong secrets;
  * valid requests whose answer is known and checked (id_nearest(nil) is myself, an IPC
    with send timeout 0 to a thread that does not exist is NOT_EXISTENT, ...), and a few
    state-changing cycles: EXIT then HELLO again on the same socket, a spare lthread that
    attaches on a socket of its own, page faults resolved by the pager.

Nothing may block for long: before a request goes out it is decoded here exactly as the
kernel will decode it, and an IPC whose timeouts are long or never has them shortened
to at most about 1 ms (a real hostile task could block itself forever, which is legal
and not the kernel's fault). A page fault's address is moved onto a few known pages
(each one costs the pager a frame), and lthread_ex_regs may only set a pager that
cannot deadlock a page fault. Everything else goes out as generated.

Every request must get exactly one reply within REPLY_TIMEOUT (EXIT gets none, by the
ABI). A missing reply, an unsolicited one, a wrong answer to a checked request, or a
task_new that succeeds is a failure: it is printed with the request, and the task exits
with status 1, as does a broken kernel invariant found mid-run. At the end the task
prints a histogram of the replies by operation and result, the results that took
longest, `mid-run checks=C violations=V`, and
`fuzz done requests=N answered=A failures=F seconds=S rate=R/s`.

Also here: `sink` (the partner), `normal` (a task doing ordinary things, run before and
after), and the reproducers of the kernel bugs the fuzz found (see test_fuzz.py).
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter

import msgpack
import zmq

from microkernel.user.testing import report, wait_until
from microkernel.abi import (ABI_VERSION, CodecError, Fault, IpcCode, Op, ThreadId,
                             decode_header)
from microkernel.abi.ops import NEAREST_OUTER

REPLY_TIMEOUT_MS = 5000
# A page fault whose pager does not exist leaves the thread marked as in a page fault
# (kernel bug, see test_fuzz.py::test_failed_page_fault_leaves_no_stale_state): the
# fuzz sets only pagers that exist, or none, until that is fixed (MK_FUZZ_GHOST_PAGERS=1
# in the environment of the node puts them back).
GHOST_PAGERS = os.environ.get("MK_FUZZ_GHOST_PAGERS") == "1"
_clock = time.perf_counter
_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_unpackb = msgpack.unpackb
_OP_NAMES = {int(o): o.name for o in Op}
_FAULT_NAMES = {int(f): f.name for f in Fault}
_IPC_NAMES = {int(c): c.name for c in IpcCode}
SAFE_PAGES = [0x10000000 + i * 0x1000 for i in range(8)] + \
             [0x20400000 + i * 0x3000 for i in range(8)]
SPARE_LTHREADS = range(100, 110)
WHOLE = 32 << 2 | 2                    # the whole-space fpage, writable
M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


class Failure(Exception):
    pass


# -- what the kernel will see: decode and defuse -------------------------------------------

def _as_word(v):
    """The int the kernel's timeouts.decode would read from v, or None if it refuses."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if 0 <= v <= M32 else None
    return None                               # floats too: decode refuses them


def _short(m: int, e: int, rnd) -> tuple[int, int]:
    """A send or receive timeout of at most ~1 ms (poll most of the time)."""
    if e and m * 4 ** (15 - e) <= 1000:
        return m, e
    if rnd() < 0.8:
        return 0, 15                           # poll
    return int(rnd() * 256), 15                # m microseconds


def defuse_timeouts(w: int, rnd) -> int:
    rm, re_ = _short((w >> 24) & 0xFF, w & 0xF, rnd)
    sm, se = _short((w >> 16) & 0xFF, (w >> 4) & 0xF, rnd)
    return re_ | se << 4 | (w & 0xFF00) | sm << 16 | rm << 24


class Defuser:
    """Rewrites the few fields that would make a well-formed request block for long."""

    def __init__(self, good_pagers: list[int], rnd):
        self.good_pagers = good_pagers
        self.rnd = rnd

    def __call__(self, h) -> bool:
        """Fix `h` in place; True if it changed."""
        if type(h) is not list or not h or type(h[0]) is not int:
            return False
        op = h[0]
        if op == 1 and len(h) == 10:
            w = _as_word(h[4])
            if w is not None:
                new = defuse_timeouts(w, self.rnd)
                if new != w or type(h[4]) is not int:
                    h[4] = new
                    return True
        elif op == 16 and len(h) == 4 and type(h[1]) is int and 0 <= h[1] <= M32:
            h[1] = SAFE_PAGES[h[1] % len(SAFE_PAGES)] | (h[1] & 0xFFF)
            return True
        elif op == 6 and len(h) == 4 and type(h[3]) is int and 0 <= h[3] <= M64 \
                and h[3] not in self.good_pagers:
            h[3] = self.good_pagers[h[3] % len(self.good_pagers)]
            return True
        return False


# -- the generator ---------------------------------------------------------------------------

class Gen:
    """Random requests: valid ones per operation, junk values, and mutations."""

    def __init__(self, rnd: random.Random, me: ThreadId, pager: ThreadId, site: int,
                 partners: list[int] = ()):
        self.r = rnd
        self.partners = [int(p) for p in partners] or [int(me.lthread_id(1))]
        self.pool = [rnd.getrandbits(32) for _ in range(4096)]
        self.me = me
        self.pager = pager
        own = [me.lthread_id(i) for i in (0, 1, 2, 3, 7, 64, 127)]
        ghost = [ThreadId.make(2000, 0, 77, site), ThreadId.make(me.task, me.lthread,
                 (me.version + 1) & 0x3FFF, site, me.chief, me.nest),
                 ThreadId.make(me.task, 0, me.version, 0, me.chief, me.nest),   # no site
                 ThreadId.make(me.task, 0, me.version, site, (me.chief + 1) & 0x7FF, me.nest),
                 ThreadId.make(3, 0, 5, site), ThreadId.make(1, 0, 1, site, 4, 1)]
        # off-site ids (remote IPC): mine, my partner's, a comm task's, of other sites
        other = [ThreadId(p) for p in self.partners[:1]] + [me]
        far = [ThreadId.make(t.task, t.lthread, t.version, s, t.chief, t.nest)
               for t in other for s in ((site + 1) & 0x1FFFF, 0x1FFFE)]
        far += [ThreadId.make(8, 0, 1, site + 2, 4, 1), ThreadId.make(me.task, 1, 0, 77)]
        self.own = [int(t) for t in own]
        self.ghosts = [int(t) for t in ghost]
        self.far = [int(t) for t in far if t.site not in (0, site)]
        self.ints = [0, 1, 2, 3, 7, 15, 16, 17, 31, 32, 127, 128, 255, 256, 1023, 1024,
                     1025, 4095, 4096, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, M32,
                     1 << 32, (1 << 63) - 1, 1 << 63, M64, -1, -2, -(1 << 31),
                     -(1 << 63)]
        self.junk_makers = [
            lambda: None, lambda: True, lambda: False,
            lambda: self.r.choice(self.ints),
            lambda: self.r.getrandbits(64) - (1 << 63) * self.r.getrandbits(1),
            lambda: self.r.choice([0.0, -0.0, 0.5, 1.0, 2.0, -1.5, 1e308, float("inf"),
                                   float("-inf"), float("nan"), 4294967296.0]),
            lambda: self.r.choice(["", "x", "main", "\u00e9\u4e2d", "a" * 300]),
            lambda: self.r.randbytes(self.r.choice((0, 1, 2, 16, 100))),
            lambda: [], lambda: [None], lambda: [[[[]]]],
            lambda: self.words_of(self.r.choice((3, 100, 1025))),
            lambda: {}, lambda: {"a": 1, "op": [1, 2]}, lambda: {b"k": None},
            lambda: self.r.choice(self.own + self.ghosts + self.far),
        ]
        self.valid = {
            Op.IPC: self.v_ipc, Op.ID_NEAREST: self.v_nearest,
            Op.FPAGE_UNMAP: self.v_unmap, Op.THREAD_SWITCH: self.v_switch,
            Op.THREAD_SCHEDULE: self.v_schedule, Op.LTHREAD_EX_REGS: self.v_ex_regs,
            Op.TASK_NEW: self.v_task_new, Op.PAGE_FAULT: self.v_page_fault,
            Op.PORT_IN: self.v_port_in, Op.PORT_OUT: self.v_port_out,
            Op.PORT_INS: self.v_port_ins, Op.PORT_OUTS: self.v_port_outs,
            Op.HELLO: self.v_hello,
        }
        self.keep = False                   # set by a template that must go as it is
        self.ops = list(self.valid)
        # The IPC is most of what real tasks do, and has the most fields: weight it.
        self.op_weights = [6 if o == Op.IPC else 1 for o in self.ops]

    # -- values --------------------------------------------------------------------------

    def junk(self):
        return self.r.choice(self.junk_makers)()

    def tid(self) -> int:
        x = self.r.random()
        if x < 0.25:
            return self.r.choice(self.partners)    # a thread that receives a lot
        if x < 0.45:
            return self.r.choice(self.own)
        if x < 0.65:
            return self.r.choice(self.ghosts if self.r.random() < 0.6 else self.far)
        if x < 0.73:
            return self.r.randint(1, 17)            # interrupt ids (and one past)
        if x < 0.77:
            return self.r.choice((0, M64))
        if x < 0.87:
            return self.r.choice(self.own + self.partners) ^ (1 << self.r.randrange(64))
        return self.r.getrandbits(64)

    def fpage(self) -> int:
        x, r = self.r.random(), self.r
        if x < 0.3:                                  # well-formed memory fpage
            s = r.randint(12, 32)
            base = 0 if s >= 32 else r.getrandbits(32) & ~((1 << s) - 1)
            return base | s << 2 | r.getrandbits(1) << 1
        if x < 0.45:                                 # I/O fpage, maybe misaligned
            s = r.randint(0, 17)
            port = r.getrandbits(16)
            if r.random() < 0.5:
                port &= ~((1 << min(s, 16)) - 1)
            return 0xF0000000 | port << 12 | s << 2
        if x < 0.6:                                  # bad size or misaligned base
            return (r.getrandbits(20) << 12) | r.choice((0, 1, 11, 33, 40, 63)) << 2 | r.getrandbits(2)
        if x < 0.7:
            return r.choice((0, 32 << 2, 32 << 2 | 2, M32, 0xF0000000 | 16 << 2))
        if x < 0.8:
            return r.choice(SAFE_PAGES) | 12 << 2 | 2
        return r.getrandbits(32)

    def tword(self) -> int:
        r = self.r
        x = r.random()
        if x < 0.5:
            return r.getrandbits(32)
        m1, m2 = r.choice((0, 0, 1, 255)), r.choice((0, 0, 1, 255))
        e1, e2 = r.choice((0, 1, 14, 15)), r.choice((0, 1, 14, 15))
        return e1 | e2 << 4 | r.getrandbits(8) << 8 | m2 << 16 | m1 << 24

    def words(self) -> list:
        r = self.r
        n = r.choice((0, 0, 1, 2, 3, 8, 64)) if r.random() < 0.98 else r.choice((1024, 1025))
        return self.words_of(n)

    def words_of(self, n: int) -> list:
        """n random 32-bit words (a slice of a random pool: cheap for long lists)."""
        if n <= 3:
            return [self.r.getrandbits(32) for _ in range(n)]
        i = self.r.randrange(len(self.pool) - n)
        return self.pool[i:i + n]

    def strings(self) -> list:
        r = self.r
        x = r.random()
        if x < 0.7:
            return []
        if x < 0.97:
            return [r.randbytes(r.choice((0, 1, 5, 100))) for _ in range(r.randint(1, 3))]
        if x < 0.99:
            return [b"s"] * r.choice((31, 32))
        return [bytes(r.choice((65536, 1 << 20)))]

    # -- valid requests of each operation ------------------------------------------------

    def v_ipc(self):
        r = self.r
        dest = None if r.random() < 0.3 else self.tid()
        items = []
        if r.random() < 0.15:
            items = [[self.fpage(), r.getrandbits(32), r.getrandbits(1) == 1]
                     for _ in range(r.randint(1, 2))]
        rmode = r.choice((0, 0, 1, 2))
        if dest is None and rmode == 0 and r.random() < 0.9:
            rmode = r.choice((1, 2))
        rfrom = self.tid() if rmode == 1 else r.choice((0, 0, self.tid()))
        if dest in self.partners and r.random() < 0.6:
            rmode, rfrom = 1, dest                  # a call: the partner may answer
        window = r.choice((0, 0, WHOLE, self.fpage()))
        limits = None if r.random() < 0.7 else [r.randint(0, 31), r.choice((0, 1, 10, 4096))]
        deceit = None if r.random() < 0.85 else self.tid()
        h = [1, dest, self.words(), items, self.tword(), rmode, rfrom, window, limits, deceit]
        return h, self.strings() if dest is not None else []

    def v_nearest(self):
        if self.r.random() < 0.2:
            self.keep = True                # another task's id: never mutated (a flipped
            return [2, int(self.pager)], []  # lthread bit would make it a TCB there)
        return [2, self.r.choice((0, self.tid(), self.tid()))], []

    def v_unmap(self):
        r = self.r
        return [3, self.fpage(), r.random() < 0.7, r.random() < 0.3], []

    def v_switch(self):
        return [4, None if self.r.random() < 0.5 else self.tid()], []

    def v_schedule(self):
        r = self.r
        if r.random() < 0.1:                # read another task's thread, change nothing
            self.keep = True
            return [5, int(self.pager), None, None], []
        dest = self.tid()
        prio = None if r.random() < 0.5 else r.choice((0, 1, 16, 100, 255))
        slice_ = None if r.random() < 0.6 else r.choice((0.001, 0.01, 1, 10, 0.0))
        return [5, dest, prio, slice_], []

    def v_ex_regs(self):
        r = self.r
        lt = r.choice((1, 2, 3, 7, 64, 127, 0, r.randint(0, 127)))
        entry = None if r.random() < 0.5 else r.choice(("fuzz", "x:y", ""))
        pager = None if r.random() < 0.6 else r.choice((0, int(self.pager), self.tid()))
        return [6, lt, entry, pager], []

    def v_task_new(self):
        r = self.r
        no = r.choice((1, 3, 6, 100, 1000, 1500, 2047, self.me.task, 2, 4, 5))
        pager = None if r.random() < 0.3 else int(self.pager)
        return [7, no, "servers.pager:main", pager, r.randint(0, 255), [],
                r.choice((None, 0, self.me.task, 4))], []

    def v_page_fault(self):
        r = self.r
        return [16, r.choice(SAFE_PAGES) | r.getrandbits(12), r.random() < 0.5,
                r.random() < 0.2], []

    def v_port_in(self):
        return [17, self.r.choice((0x20, 0x21, 0x40, 0x60, 0x3F8, 0x1F0, 0xFFFF, 0)),
                self.r.choice((1, 2, 4, 3))], []

    def v_port_out(self):
        return [18, self.r.choice((0x20, 0x40, 0x80, 0x3F8, 0xFFFE)),
                self.r.choice((1, 2, 4)), self.r.getrandbits(8)], []

    def v_port_ins(self):
        return [19, self.r.choice((0x1F0, 0x170, 0)), self.r.choice((0, 1, 256, 0x10000))], []

    def v_port_outs(self):
        return [20, self.r.choice((0x1F0, 0x170, 0))], [self.r.randbytes(self.r.choice((0, 2, 512)))]

    def v_hello(self):                 # on a bound socket: not an operation any more
        return [0, ABI_VERSION, self.me.task, self.me.lthread, self.r.randbytes(16)], []

    # -- mutation --------------------------------------------------------------------------

    def mutate(self, h: list, frames: list) -> tuple:
        r = self.r
        for _ in range(r.choice((1, 1, 1, 2, 3))):
            x = r.random()
            n = len(h)
            if x < 0.45 and n:
                h[r.randrange(1, n) if n > 1 and r.random() < 0.95 else 0] = self.junk()
            elif x < 0.55 and n > 1:
                del h[r.randrange(1, n):]           # missing fields
            elif x < 0.62:
                h.append(self.junk())               # an extra field
            elif x < 0.7 and n > 2:
                i, j = r.randrange(1, n), r.randrange(1, n)
                h[i], h[j] = h[j], h[i]
            elif x < 0.8 and n > 1:
                i = r.randrange(1, n)
                if type(h[i]) is int:
                    h[i] ^= 1 << r.randrange(64)
                    if h[i] >= 1 << 64:
                        h[i] &= M64
                else:
                    h[i] = [h[i]]                   # nested
            elif x < 0.88:
                frames = frames + [r.randbytes(r.choice((0, 3, 200)))
                                   for _ in range(r.randint(1, 3))]
            elif x < 0.94 and n > 1:
                i = r.randrange(1, n)
                h[i] = r.choice((self.fpage(), self.tword(), self.tid()))
            else:
                h[0] = r.choice((-1, 8, 9, 15, 22, 99, 255, 256, M32, M64, -(1 << 63),
                                 1.0, "1", None, True))
        return h, frames

    def random_value(self, depth: int = 0):
        r = self.r
        x = r.random()
        if depth > 3 or x < 0.5:
            return self.junk()
        if x < 0.8:
            return [self.random_value(depth + 1) for _ in range(r.randint(0, 6))]
        return {r.choice(("op", "a", "", "\u00e9")) + str(i): self.random_value(depth + 1)
                for i in range(r.randint(0, 4))}

    def raw(self) -> bytes:
        r = self.r
        x = r.random()
        if x < 0.5:
            return r.randbytes(r.randint(0, 40))
        if x < 0.7:                                 # a valid-looking array prefix, then junk
            return bytes([0x90 | r.randint(1, 15), r.randint(0, 21)]) + r.randbytes(r.randint(0, 30))
        if x < 0.8:                                 # deep nesting
            d = r.choice((10, 100, 2000, 60000))
            return b"\x91" * d + b"\x01"
        if x < 0.9:                                 # declared lengths far beyond the data
            return r.choice((b"\xdd\xff\xff\xff\xff", b"\xdb\x7f\xff\xff\xff",
                             b"\xc6\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff",
                             b"\x91\xc7\x10\x01", b"\x91\xd6\xff" + bytes(4),
                             b"\x91\xc1", b"\x92\xa2\xff\xfe\x01", b"\xc0", b"\x01"))
        return r.randbytes(r.choice((1000, 65536, 65537, 200000)))


# -- one worker -------------------------------------------------------------------------------

class Gate:
    """Holds the workers while the kernel runs its self-check: the kernel serves nothing
    meanwhile (it is single-threaded), which must not count as a missing reply."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.parked: list[threading.Event] = []

    def join(self) -> threading.Event:
        e = threading.Event()
        self.parked.append(e)
        return e

    def close_and_wait(self, mine: threading.Event, timeout: float = 10.0) -> None:
        self.open.clear()
        deadline = time.monotonic() + timeout
        for e in self.parked:
            if e is not mine:
                e.wait(max(0.0, deadline - time.monotonic()))


class Worker:
    def __init__(self, rt, seed: int, count: int, stop: threading.Event,
                 partners: list[int] = (), check_every: int = 0, gate: Gate | None = None,
                 comm: int = 0):
        self.rt = rt
        self.comm = comm                    # the comm task's id (0: none)
        self.gate = gate or Gate()
        self.parked = self.gate.join()
        self.check_every = check_every
        self.checks = 0
        self.violations: list[str] = []
        self.r = random.Random(seed)
        self.seed = seed
        self.count = count
        self.stop = stop
        self.sock = rt._cpu.sock
        self.me = rt.myself()
        self.gen = Gen(self.r, self.me, rt.pager, rt.site, partners)
        ghosts = self.gen.ghosts
        pagers = [0, int(rt.pager)] + ([ghosts[0], ghosts[4]] if GHOST_PAGERS else [])
        self.defuse = Defuser(pagers, self.r.random)
        self.hist: Counter = Counter()
        self.spent: Counter = Counter()     # seconds waited for replies, by result
        self.sent = 0
        self.answered = 0
        self.failures: list[str] = []
        self.stranger = None
        self.last = None

    # -- the wire --------------------------------------------------------------------------

    def roundtrip(self, sock, header: bytes, frames: list, expect_reply: bool = True):
        """Send one request; return the decoded reply (or None when none is due)."""
        if sock.poll(0):
            extra = sock.recv_multipart()
            self.fail(f"unsolicited message {extra[:1]!r} after request {self.last!r}")
        self.last = (header[:200], [len(f) for f in frames])
        self.sent += 1
        if frames:
            sock.send_multipart([header, *frames], copy=False)
        else:
            sock.send(header, copy=False)
        if not expect_reply:
            return None
        if not sock.poll(REPLY_TIMEOUT_MS):
            self.fail(f"no reply within {REPLY_TIMEOUT_MS} ms to header "
                      f"{header[:300].hex()} ({_describe(header)}) with "
                      f"{len(frames)} frames")
            raise Failure("kernel did not answer")
        parts = sock.recv_multipart(copy=True)
        self.answered += 1
        try:
            reply = _unpackb(parts[0], raw=False)
        except Exception as e:
            self.fail(f"undecodable reply {parts[0][:50]!r}: {e}")
            return None
        if type(reply) is not list or not reply or type(reply[0]) is not int:
            self.fail(f"malformed reply {reply!r:.200}")
            return None
        return reply, parts[1:]

    def fail(self, text: str) -> None:
        self.failures.append(text)
        print(f"FAIL [seed {self.seed}] {text}", flush=True)

    # -- classification --------------------------------------------------------------------

    def classify(self, h, reply) -> str:
        label = _op_label(h)
        if reply is None:
            return f"{label} -> (bad reply)"
        code = reply[0][0]
        if code == -1:
            f = reply[0][1] if len(reply[0]) > 1 else None
            return f"{label} -> fault {_FAULT_NAMES.get(f, f)}"
        if label == "IPC":
            if code & 0xF0 == 0:
                if len(reply[0]) == 1:
                    return "IPC -> ok"
                return f"IPC -> ok (received{', flags' if code else ''})"
            err = code & 0xE0 if code & 0xF0 != 0x10 else 0x10
            phase = "" if err == 0x10 else (" send" if code & 0x10 else " receive")
            return f"IPC -> {_IPC_NAMES.get(err, hex(err))}{phase}"
        return f"{label} -> {'ok' if code == 0 else code}"

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        r = self.r
        rnd = r.random
        gen = self.gen
        started = time.monotonic()
        try:
            gate = self.gate.open
            for i in range(self.count):
                if self.stop.is_set():
                    break
                if not gate.is_set():
                    self.parked.set()
                    gate.wait()
                    self.parked.clear()
                if i % 5000 == 2500:
                    self.exit_and_hello()
                    continue
                if i % 4000 == 1000:
                    self.spare_thread()
                    continue
                if self.check_every and i % self.check_every == self.check_every - 1:
                    self.kernel_check()
                x = rnd()
                if x < 0.07:
                    self.send_bytes(gen.raw(), [])
                elif x < 0.14:
                    v = gen.random_value()
                    if rnd() < 0.6:
                        v = [r.choice((r.randint(-3, 25), gen.junk()))] + \
                            [gen.random_value(2) for _ in range(r.randint(0, 10))]
                    self.send_value(v, [])
                elif x < 0.92:
                    op = r.choices(gen.ops, gen.op_weights)[0]
                    gen.keep = False
                    h, frames = gen.valid[op]()
                    if rnd() < 0.8 and not gen.keep:
                        h, frames = gen.mutate(h, frames)
                    self.send_value(h, frames)
                elif x < 0.97:
                    self.checked()
                else:
                    self.as_stranger()
        except Failure:
            self.stop.set()
        finally:
            self.parked.set()                # done: never in the way of a check
        self.final_check()
        self.seconds = time.monotonic() - started

    def send_value(self, h, frames) -> None:
        self.send_bytes(_pack_any(h), frames)

    def send_bytes(self, header: bytes, frames: list) -> None:
        """Decode `header` as the kernel will, defuse it, keep EXIT out, send, count."""
        h = None
        try:
            h = decode_header(header)
        except CodecError:
            pass
        if h is not None:
            if type(h[0]) is int and h[0] == Op.EXIT:
                h[0] = 99
                header = _pack(h)
            elif self.defuse(h):
                header = _pack(h)
        t0 = _clock()
        reply = self.roundtrip(self.sock, header, frames)
        key = self.classify(h, reply)
        self.hist[key] += 1
        self.spent[key] += _clock() - t0
        if key == "TASK_NEW -> ok":
            self.fail(f"task_new succeeded for a task that owns no task number: {h!r}")

    # -- requests with known answers ---------------------------------------------------------

    def checked(self) -> None:
        r = self.r
        me = int(self.me)
        x = r.random()
        if x < 0.3:
            self.expect([2, 0], lambda rep: rep[:3] == [0, 0, me], "id_nearest(nil) is myself")
        elif x < 0.5:
            far = r.choice(self.gen.far)
            if self.comm:
                self.expect([2, far], lambda rep: rep[:3] == [0, NEAREST_OUTER, self.comm],
                            "id_nearest(off-site) is the comm task")
            else:
                self.expect([2, far], lambda rep: rep[:2] == [-1, Fault.NOT_EXISTENT],
                            "id_nearest(off-site) with no comm task is NOT_EXISTENT")
        elif x < 0.55:
            ghost = r.choice(self.gen.ghosts)
            h = [1, ghost, [r.getrandbits(32)], [], 0x00000011,   # send timeout 0
                 r.choice((0, 1)), ghost, 0, None, None]
            self.expect(h, lambda rep: rep[0] == IpcCode.NOT_EXISTENT,
                        "IPC to a missing thread is NOT_EXISTENT")
        elif x < 0.7:
            self.expect([4, None], lambda rep: rep == [0], "thread_switch() is ok")
        elif x < 0.85:
            self.expect([5, me, None, None],
                        lambda rep: rep[0] == 0 and rep[3] == "running",
                        "thread_schedule(myself) says running")
        elif x < 0.95:
            # receive from nil, timeout 0 (poll): TIMEOUT in the receive phase.
            self.expect([1, None, [], [], 0x00000011, 1, 0, 0, None, None],
                        lambda rep: rep[0] == IpcCode.TIMEOUT, "poll from nil times out")
        else:
            self.expect([7, r.choice((1, 3, 100, 2047)), "x:y", int(self.rt.pager), 1, [], None],
                        lambda rep: rep[:2] == [-1, Fault.NO_PERMISSION],
                        "task_new of a number the task does not own is refused")

    def expect(self, h: list, ok, what: str) -> None:
        reply = self.roundtrip(self.sock, _pack(h), [])
        self.hist[f"checked: {what}"] += 1
        if reply is None or not ok(reply[0]):
            self.fail(f"{what}: request {h!r} answered {reply and reply[0]!r:.300}")

    # -- sockets other than my own -------------------------------------------------------------

    def as_stranger(self) -> None:
        """A socket that never attached: everything but a right HELLO is refused."""
        if self.stranger is None:
            self.stranger = self.new_socket()
        r, gen = self.r, self.gen
        x = r.random()
        if x < 0.4:
            h = [0, r.choice((ABI_VERSION, ABI_VERSION, 0, 2, -1, None)),
                 r.choice((self.me.task, 2, 4, 2047, 5000, "t")),
                 r.choice((0, 1, 127, 128, -1, None)), r.choice((r.randbytes(16), b"", None, "s"))]
            if r.random() < 0.5:
                h, _ = gen.mutate(h, [])
            header = _pack_any(h)
        elif x < 0.7:
            op = r.choices(gen.ops, gen.op_weights)[0]
            h, _ = gen.valid[op]()
            header = _pack_any(h)
        else:
            header = gen.raw()
        reply = self.roundtrip(self.stranger, header, [])
        code = reply[0][0] if reply else None
        fault = reply[0][1] if reply and len(reply[0]) > 1 else None
        self.hist[f"stranger -> fault {_FAULT_NAMES.get(fault, fault)}"] += 1
        if code != -1:
            self.fail(f"a socket that never said HELLO got {reply!r:.200} for {header[:100].hex()}")

    def new_socket(self):
        s = self.rt._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        s.connect(self.rt.endpoint)
        return s

    def hello(self, sock, lthread: int):
        """HELLO as `lthread`, keeping the runtime's secret: each HELLO spends it."""
        with self.rt._hello:
            reply = self.roundtrip(sock, _pack([0, ABI_VERSION, self.rt.task_no, lthread,
                                              self.rt._secret]), [])
            if reply and reply[0][0] == 0:
                self.rt._secret = reply[0][2]["secret"]
        return reply

    def exit_and_hello(self) -> None:
        """EXIT detaches my socket (no reply); HELLO attaches it again."""
        self.roundtrip(self.sock, _pack([Op.EXIT]), [], expect_reply=False)
        self.hist["EXIT -> (no reply, by the ABI)"] += 1
        time.sleep(0.01)
        if self.sock.poll(0):
            self.fail(f"EXIT got a reply: {self.sock.recv_multipart()!r:.200}")
        reply = self.roundtrip(self.sock, _pack([2, 0]), [])
        if not reply or reply[0][:2] != [-1, Fault.BAD_IDENTITY]:
            self.fail(f"after EXIT my socket still works: {reply!r:.200}")
        reply = self.hello(self.sock, self.me.lthread)
        self.hist["HELLO again after EXIT"] += 1
        if not reply or reply[0][:2] != [0, int(self.me)]:
            self.fail(f"HELLO after EXIT refused: {reply!r:.300}")
            raise Failure("could not attach again")

    def spare_thread(self) -> None:
        """A spare lthread attaches on its own socket, is refused a second socket,
        answers one request, and exits."""
        lt = self.r.choice(SPARE_LTHREADS)
        a, b = self.new_socket(), self.new_socket()
        try:
            reply = self.hello(a, lt)
            want = int(self.me.lthread_id(lt))
            self.hist["spare lthread HELLO"] += 1
            if not reply or reply[0][:2] != [0, want]:
                if reply and reply[0][:2] == [-1, Fault.BUSY]:
                    return                       # the other worker has it right now
                self.fail(f"spare lthread {lt} HELLO: {reply!r:.300}")
                return
            reply = self.hello(b, lt)
            if not reply or reply[0][:2] != [-1, Fault.BUSY]:
                self.fail(f"a second socket for lthread {lt} was not refused: {reply!r:.300}")
            reply = self.roundtrip(a, _pack([2, 0]), [])
            if not reply or reply[0][:3] != [0, 0, want]:
                self.fail(f"spare lthread {lt} is not itself: {reply!r:.300}")
            self.roundtrip(a, _pack([Op.EXIT]), [], expect_reply=False)
        finally:
            a.close(linger=100)
            b.close(0)

    def kernel_check(self) -> None:
        """Ask the kernel's self-check (control port) while everything is still live."""
        self.gate.close_and_wait(self.parked)
        try:
            reply = control(self.rt, {"op": "check"})
        finally:
            self.gate.open.set()
        self.checks += 1
        for v in reply["violations"]:
            self.violations.append(v)
            self.fail(f"kernel invariant broken mid-run: {v}")

    def final_check(self) -> None:
        try:
            reply = self.roundtrip(self.sock, _pack([2, 0]), [])
            if not reply or reply[0][:3] != [0, 0, int(self.me)]:
                self.fail(f"after the run id_nearest(nil) answered {reply!r:.300}")
        except Failure:
            pass
        if self.stranger is not None:
            self.stranger.close(0)


def _pack_any(h) -> bytes:
    """msgpack of h; a mutation can leave an int msgpack cannot hold (below -2**63):
    then the header keeps only its operation."""
    try:
        return _pack(h)
    except (ValueError, OverflowError, TypeError):
        return _pack([h[0] if type(h) is list and h and type(h[0]) is int else 1])


def _op_label(h) -> str:
    if h is None:
        return "undecodable"
    op = h[0]
    if type(op) is not int:
        return f"op of type {type(op).__name__}"
    return _OP_NAMES.get(op, "unknown op")


def _describe(header: bytes) -> str:
    try:
        return repr(decode_header(header))[:300]
    except CodecError as e:
        return f"undecodable: {e}"


# -- the task ------------------------------------------------------------------------------

def control(rt, req: dict, timeout_ms: int = 60000) -> dict:
    """One request to the kernel's control port (the operator's; a test may use it)."""
    s = rt._ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(f"ipc://{os.path.join(rt.rundir, 'control.sock')}")
        s.send(msgpack.packb(req))
        if not s.poll(timeout_ms):
            raise Failure("the kernel's control port did not answer")
        return _unpackb(s.recv(), raw=False)
    finally:
        s.close()


def _worker(rt, seed, count, stop, out, done, partners=(), check_every=0, gate=None, comm=0):
    w = Worker(rt, seed, count, stop, partners, check_every, gate, comm)
    try:
        w.run()
    except BaseException as e:               # a bug here must not look like a kernel hang
        w.fail(f"worker crashed: {type(e).__name__}: {e}")
        stop.set()
    finally:
        out.append(w)
        done.set()


def fuzz(rt, seed="1", total="100000", threads="2", partner="0", check_every="0", comm="0"):
    """The fuzz task: `threads` workers send `total` requests; `partner` is the id of
    a task that answers (see `sink`), `check_every` > 0 makes lthread 0 run the kernel's
    self-check that often (through the control port) while the fuzz is live, `comm` is
    the comm task's id (see `comm_sink`; 0: there is none)."""
    seed, total, threads = int(seed), int(total), int(threads)
    partners = [int(partner)] if int(partner) else []
    check_every, comm = int(check_every), int(comm)
    per = -(-total // threads)
    stop = threading.Event()
    gate = Gate()
    workers: list[Worker] = []
    dones = []
    t0 = time.monotonic()
    for i in range(1, threads):
        done = threading.Event()
        dones.append(done)
        rt.lthread_ex_regs(i, _worker, args=(seed * 1000 + i, per, stop, workers, done,
                                             partners, 0, gate, comm))
    mine = threading.Event()
    _worker(rt, seed * 1000, per, stop, workers, mine, partners, check_every, gate, comm)
    for d in dones:
        if not d.wait(60 + per / 500):
            print("FAIL a worker did not finish", flush=True)
            stop.set()
            raise SystemExit(1)
    seconds = time.monotonic() - t0
    hist: Counter = Counter()
    for w in workers:
        hist.update(w.hist)
    width = max(len(k) for k in hist)
    print("histogram (operation -> result: replies)")
    for key, n in sorted(hist.items()):
        print(f"  {key:<{width}}  {n:7d}")
    spent: Counter = Counter()
    for w in workers:
        spent.update(w.spent)
    print("slowest results (seconds waited in total, mean ms):",
          ", ".join(f"{k} {v:.2f}s {1000 * v / hist[k]:.2f}ms"
                    for k, v in spent.most_common(5)))
    sent = sum(w.sent for w in workers)
    answered = sum(w.answered for w in workers)
    failures = sum(len(w.failures) for w in workers)
    report(checks=sum(w.checks for w in workers),
           violations=sum(len(w.violations) for w in workers), requests=sent,
           answered=answered, failures=failures, seconds=round(seconds, 1),
           task_new_ok=hist.get("TASK_NEW -> ok", 0))
    if failures:
        raise SystemExit(1)


# -- the partner: a task that receives, answers and maps back ------------------------------

def sink(rt, seconds="300"):
    """Receive whatever comes (open wait, whole-space window), answer with send timeout
    0, sometimes with a map or grant item of its own pages, and now and then flush what
    it holds. Gives the fuzz a live partner in another address space, so map, grant,
    string limits and flush run across spaces. Ends after `seconds` or when killed."""
    report(sink=int(rt.myself()))
    _sink(rt, float(seconds))


def comm_sink(rt, name="comm", names="0"):
    """The sink as the comm task (root keeps it at COMM_TASK during the fuzz): what the
    kernel redirects to it from off-site ids is answered in those ids' names (deceit),
    now and then as an error notice [REMOTE_ERROR, result], good or bad, and now and
    then in a wrong name (another off-site id, a local one). Runs until deleted."""
    report(comm=int(rt.myself()))
    _sink(rt, 1e9, comm=True)


def _sink(rt, seconds: float, comm: bool = False) -> None:
    from microkernel.abi import KernelError
    from microkernel.abi import timeouts as _t
    from microkernel.abi.ops import REMOTE_ERROR

    me = rt.myself()
    r = random.Random(int(me))
    to = _t.encode(0, 0.05)
    wait = [1, None, [], [], to, 2, 0, WHOLE, [4, 1 << 16], None]
    mine = [WHOLE, 0x10000000 | 24 << 2 | 2, 0x20400000 | 12 << 2] + \
           [p | 12 << 2 | 2 for p in SAFE_PAGES]
    h, n, redirected = wait, 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reply = rt._syscall(h)
        except KernelError:
            h = wait
            continue
        h = wait
        if reply[0] & 0xF0 or len(reply) < 5 or type(reply[1]) is not int or reply[1] <= 16:
            continue
        n += 1
        if n % 50 == 0:
            try:
                rt._syscall([Op.FPAGE_UNMAP, WHOLE, True, r.random() < 0.5])
            except KernelError:
                pass
        items = []
        if r.random() < 0.3:
            items = [[r.choice(mine), r.getrandbits(32), r.random() < 0.2]]
        words, deceit, x = [n & M32], None, r.random()
        if comm and reply[4] is not None:        # redirected: an off-site id's message
            redirected += 1
            if redirected % 100 == 1:
                report(redirected=redirected)
            deceit = reply[4] if x < 0.9 else r.choice((reply[4] ^ 1 << 32, int(me), 1))
            if r.random() < 0.15:
                words, items = [REMOTE_ERROR, r.choice((0x10, 0x30, 0xC0, 0xE0, 0x15, 0, 256))], []
        h = [1, reply[1], words, items, to, 2, 0, WHOLE, [4, 1 << 16], deceit]


# -- a normal task, and the reproducers of what the fuzz found ----------------------------

def _echo(rt):
    from microkernel.abi import Msg
    msg = rt.wait()
    while True:
        msg = rt.reply_and_wait(msg.sender, Msg(words=tuple((w + 1) & M32 for w in msg.words)))


def _cut(rt):
    from microkernel.abi import IpcError, StringLimits
    try:
        rt.wait(timeout=5, limits=StringLimits(1, 1 << 16))
    except IpcError:                # MSG_CUT, as meant (no print: it would race main's)
        pass


def normal(rt):
    """What every task does: touch memory (a page fault through the pager) and call a
    server (its own lthread 1). Then a 64 KiB cut: the first big string the kernel cuts
    is its first zero-copy send of a new buffer, which starts pyzmq's garbage-collector
    thread in the kernel (its own ZeroMQ context: 7 fds, once). A test that counts the
    kernel's fds runs this first, so that is in its baseline."""
    from microkernel.abi import IpcError, Msg
    rt.mem.write(SAFE_PAGES[0] + 8, b"hello")
    data = rt.mem.read(SAFE_PAGES[0] + 8, 5)
    rt.lthread_ex_regs(1, _echo)
    reply = rt.call(rt.myself().lthread_id(1), Msg(words=(41,)), timeout=5)
    rt.lthread_ex_regs(2, _cut)
    wait_until(lambda: rt.thread_schedule(rt.myself().lthread_id(2))["state"] == "receiving",
               5, "lthread 2 to receive")
    try:
        rt.send(rt.myself().lthread_id(2), Msg(strings=(bytes(1 << 17),)), timeout=5)
    except IpcError:
        pass
    report(data=data, words=reply.words)


def failed_page_fault(rt):
    """A page fault whose pager does not exist: answered as a refusal, and the thread
    keeps no trace of it (a later IPC must be delivered, not swallowed)."""
    from microkernel.abi import KernelError, Msg
    from microkernel.abi import timeouts as _t
    me = rt.myself()
    ghost = ThreadId.make(2000, 0, 77, rt.site)
    rt.lthread_ex_regs(0, None, pager=int(ghost))
    try:
        report(fault_reply=rt._syscall([Op.PAGE_FAULT, SAFE_PAGES[0], 0, 0]))
    except KernelError as e:
        report(fault_refused=e.fault)
    rt.lthread_ex_regs(0, None, pager=int(rt.pager))
    report(violations=control(rt, {"op": "check"})["violations"])

    def sender(rt2):                      # a rendezvous: waits until main receives
        rt2.send(me, Msg(words=(7,)), timeout=2)
    rt.lthread_ex_regs(1, sender)
    reply = rt._syscall([Op.IPC, None, [], [], _t.encode(0, 3.0), 2, 0, 0, None, None])
    report(received=reply[2] if len(reply) > 2 else reply)


def _sleeper(rt):
    try:
        rt.receive(0, timeout=600)
    except Exception:
        pass


def timer_heap(rt, calls="3000"):
    """RPCs with a long timeout while another thread sleeps long: the kernel's timer
    heap must not keep one dead entry per call."""
    from microkernel.abi import Msg
    rt.lthread_ex_regs(1, _echo)
    rt.lthread_ex_regs(2, _sleeper)
    wait_until(lambda: rt.thread_schedule(rt.myself().lthread_id(2))["state"] == "receiving",
               5, "lthread 2 to sleep")
    server = rt.myself().lthread_id(1)
    before = control(rt, {"op": "status"})["counts"]["timer_heap"]
    for i in range(int(calls)):
        rt.call(server, Msg(words=(i,)), timeout=3600)
    after = control(rt, {"op": "status"})["counts"]["timer_heap"]
    report(timers_before=before, timers_after=after)


def refusals_change_nothing(rt):
    """A refused request leaves no change behind, and wrong types are refused."""
    from microkernel.abi import KernelError
    me = int(rt.myself())
    before = rt.thread_schedule(me)["prio"]
    try:
        rt._syscall([Op.THREAD_SCHEDULE, me, before + 1, "not a time slice"])
        report(schedule="accepted")
    except KernelError as e:
        report(schedule=e.fault)
    report(prio_unchanged=rt.thread_schedule(me)["prio"] == before)
    poll_nil = [Op.IPC, None, [], [], 0x11, 1, 0, 0, None, None]
    cases = {"timeouts True": (4, True), "rcv mode 1.0": (5, 1.0),
             "limits bytes": (8, b"\x01\x02"), "window []": (7, [])}
    results = {}
    for name, (i, v) in cases.items():
        h = list(poll_nil)
        h[i] = v
        try:
            rt._syscall(h)
            results[name] = "accepted"
        except KernelError as e:
            results[name] = e.fault.name
    report(cases=results)


def oversized(rt):
    """A request with one frame over the kernel socket's MAXMSGSIZE (64 MiB; the ABI's
    strings are at most 4 MiB each, and a message of 17 such strings is answered):
    ZeroMQ drops it, so the kernel never sees it. Then the thread goes on."""
    sock = rt._cpu.sock
    sock.send_multipart([_pack([Op.ID_NEAREST, 0]), bytes(65 << 20)], copy=False)
    answered = bool(sock.poll(3000))
    if answered:
        sock.recv_multipart()
    report(answered=answered, then=rt.id_nearest(0)[1] == rt.myself())
