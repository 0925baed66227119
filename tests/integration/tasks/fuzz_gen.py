"""The fuzz's generator: random requests of every operation, junk values, mutations of
valid requests, random msgpack structures and raw bytes (see fuzz_kernel_tasks.py for
the mix, and fuzz_worker.py for what is done to a request before it goes out)."""
from __future__ import annotations

import random

from microkernel.abi import ABI_VERSION, Op, ThreadId

from fuzz_common import M32, M64, SAFE_PAGES, WHOLE


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

