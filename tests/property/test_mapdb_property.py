"""kernel.vm + mapdb against a naive model, over random map/grant/unmap/delete sequences.

The model keeps the mapping forest as a plain list of nodes with parent pointers and
finds everything by linear search: who holds which frame or port, where, and with which
rights. It follows the rules as written in vm's docstring. After every operation:
  * `MappingDB.check()` holds,
  * the database agrees with the model, node for node, parent for parent,
  * every page table (read from physical memory) and every I/O bitmap agrees with the
    database,
  * the kernel pool holds exactly one directory per space plus one table per populated
    4 MiB region,
  * a space that lost a mapping, or lost W on one, had its generation word bumped.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.memory import PhysicalMemory
from hw.ports import IOPermissionBitmap
from microkernel.abi.errors import KernelError
from microkernel.abi.fpage import Fpage, place
from microkernel.kernel.kmem import FramePool
from microkernel.kernel.vm import VM

MEM = 1 << 20
POOL = (0xE0000, 0x100000)
PG = 0x1000
KPORTS = {4, 5}
SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def mem():
    with PhysicalMemory(MEM) as m:
        yield m


# -- the naive model ------------------------------------------------------------------------

class N:
    def __init__(self, sid, addr, key, w, io, parent):
        self.sid, self.addr, self.key, self.w, self.io, self.parent = (
            sid, addr, key, w, io, parent)


class Model:
    def __init__(self):
        self.nodes: list[N] = []

    def at(self, sid, addr, io=False):
        return next((n for n in self.nodes if (n.sid, n.addr, n.io) == (sid, addr, io)), None)

    def root(self, key, io=False):
        return next((n for n in self.nodes
                     if n.parent is None and n.key == key and n.io == io), None)

    def below(self, n):
        out = [c for c in self.nodes if c.parent is n]
        return out + [d for c in out for d in self.below(c)]

    def live(self, n):
        return any(x is n for x in self.nodes)

    def cut(self, n):
        gone = [n] + self.below(n)
        self.nodes = [x for x in self.nodes if not any(x is g for g in gone)]

    def held(self, sid, lo, hi, io):
        return sorted((n for n in self.nodes if n.sid == sid and n.io == io
                       and lo <= n.addr < hi), key=lambda n: n.addr)

    def add(self, *args):
        self.nodes.append(N(*args))
        return self.nodes[-1]

    def fault(self, addr):
        f = addr & ~0xFFF
        if not f < MEM or POOL[0] <= f < POOL[1]:
            return False
        n, r = self.at(0, f), self.root(f)
        if n is not None and n is r and n.key == f:
            n.w = True
        elif n is not None or r is not None:
            return False
        else:
            self.add(0, f, f, True, False, None)
        return True

    def transfer(self, src, fp, hot, grant, dst, win):
        if not fp.io and not win.io:
            sb, db, log2 = place(fp, hot, win)
            end = sb + (1 << log2)
            if src == 0:
                items = []
                for a in range(sb, min(end, MEM), PG):
                    n = self.at(0, a)
                    if n is not None:
                        items.append(n)
                    elif self.root(a) is None and not POOL[0] <= a < POOL[1]:
                        items.append(a)
                items += self.held(0, max(sb, MEM), end, False)
            else:
                items = self.held(src, sb, end, False)
            for n in items:
                if isinstance(n, int):
                    n = self.add(0, n, n, True, False, None)
                if self.live(n):
                    self._one(n, db + n.addr - sb, fp.writable and n.w, grant, dst)
        ports = intersect(port_range(fp), port_range(win))
        if ports:
            lo, hi = ports
            if src == 0:
                items = []
                for p in range(lo, hi):
                    n = self.at(0, p, True)
                    if n is None and self.root(p, True) is None and p not in KPORTS:
                        n = self.add(0, p, p, True, True, None)
                    if n is not None:
                        items.append(n)
            else:
                items = self.held(src, lo, hi, True)
            for n in items:
                if self.live(n):
                    self._one(n, n.addr, True, grant, dst)

    def _one(self, n, addr, w, grant, dst):
        old = self.at(dst, addr, n.io)
        if old is not None:
            anc = n
            while anc is not None and anc is not old:
                anc = anc.parent
            if anc is old:
                return
            if not grant and old.parent is n:
                old.w = old.w or w
                return
            self.cut(old)
        if grant:
            if n.w and not w:
                for d in self.below(n):
                    d.w = False
            n.sid, n.addr, n.w = dst, addr, w
        else:
            self.add(dst, addr, n.key, w, n.io, n)

    def unmap(self, sid, fp, flush, own):
        targets = [] if fp.io else self.held(sid, fp.base, fp.end, False)
        ports = port_range(fp)
        if ports and flush:
            targets += self.held(sid, ports[0], ports[1], True)
        for n in targets:
            if not self.live(n):
                continue
            if flush:
                for victim in ([n] if own else [c for c in self.nodes if c.parent is n]):
                    self.cut(victim)
            else:
                for x in ([n] if own else []) + self.below(n):
                    x.w = False

    def delete(self, sid):
        for n in [n for n in self.nodes if n.sid == sid]:
            if self.live(n):
                self.cut(n)


def port_range(fp):
    if fp.io:
        return fp.base, fp.base + fp.size
    return (0, 0x10000) if fp.log2size == 32 else None


def intersect(a, b):
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


# -- random operations ------------------------------------------------------------------------

def mem_fpage(lo=12, hi=16):
    """A memory fpage in the first 64 KiB, now and then in the second 4 MiB region."""
    return st.builds(lambda log2, region, vpn, w: Fpage(
        region * 0x400000 + ((vpn << 12) & 0xFFFF & -(1 << log2)), log2, w),
        st.integers(lo, hi), st.sampled_from([0] * 7 + [1]), st.integers(0, 15),
        st.sampled_from([True, True, False]))


io_fpage = st.builds(lambda log2, p: Fpage.ports(p & 0xF & -(1 << log2), log2),
                     st.integers(0, 3), st.integers(0, 15))
window = st.one_of(mem_fpage(12, 15), mem_fpage(12, 15), st.just(Fpage.whole()),
                   st.builds(lambda log2, p: Fpage.ports(p & 0x1F & -(1 << log2), log2),
                             st.integers(0, 4), st.integers(0, 31)))
hot = st.integers(0, 0xFFFF)
slot = st.integers(0, 3)
xfer = st.tuples(st.just("xfer"), st.sampled_from([1, 2, 3, 0]),
                 st.one_of(mem_fpage(), mem_fpage(), io_fpage), hot,
                 st.sampled_from([False, False, True]), st.sampled_from([2, 3, 1, 0]), window)
# sigma0 -> 1 -> 2 -> 3: 8 pages (half of them read-only from 2 on) and 8 ports down a
# chain; then sigma0 grants 2 frames and 4 ports to 3. Later steps find work to do.
PRELUDE = [("xfer", 0, Fpage(0, 15), 0, False, 1, Fpage(0, 15)),
           ("xfer", 0, Fpage.ports(0, 3), 0, False, 1, Fpage.whole()),
           ("xfer", 1, Fpage(0, 14), 0, False, 2, Fpage(0x8000, 14)),
           ("xfer", 1, Fpage(0x4000, 14, False), 0, False, 2, Fpage(0xC000, 14)),
           ("xfer", 2, Fpage.whole(), 0, False, 3, Fpage.whole()),
           ("xfer", 0, Fpage(0xE000, 13), 0, True, 3, Fpage(0x4000, 13)),
           ("xfer", 0, Fpage.ports(8, 2), 0, True, 3, Fpage.whole())]

ops = st.one_of(
    st.tuples(st.just("fault"), st.sampled_from(
        [v * PG + 0x10 for v in range(16)] + [POOL[0], MEM, 0x20000])),
    xfer, xfer, xfer,
    st.tuples(st.just("xfer"), st.integers(1, 3), st.just(Fpage.whole()), hot,
              st.booleans(), slot, window),
    st.tuples(st.just("unmap"), slot, st.one_of(mem_fpage(), io_fpage,
                                                st.just(Fpage.whole())),
              st.booleans(), st.booleans()),
    st.tuples(st.just("delete"), st.integers(1, 3)),
    st.tuples(st.just("again"), st.booleans()),    # the last transfer once more
)


@SETTINGS
@given(st.booleans(), st.lists(ops, min_size=5, max_size=40))
def test_vm_agrees_with_the_naive_model(mem, seeded, program):
    mem.zero(0, MEM)
    pool = FramePool(mem, *POOL)
    vm = VM(mem, pool)
    spaces = [vm.new_space(2)] + [vm.new_space(10 + i) for i in range(3)]
    vm.sigma0_populate(spaces[0], exclude_ports=[(4, 2)])
    model = Model()
    last = None
    for op in (PRELUDE if seeded else []) + program:
        before = [(sp.mappings(), sp.generation) for sp in spaces]
        if op[0] == "again" and last is not None:
            fp = last[2]
            if op[1] and not fp.io:
                fp = Fpage(fp.base, fp.log2size, not fp.writable)
            op = last[:2] + (fp,) + last[3:]
        kind = op[0]
        last = op if kind == "xfer" else last
        if kind == "fault":
            ok = model.fault(op[1])
            try:
                vm.sigma0_identity(spaces[0], op[1], write=True)
                assert ok
            except KernelError:
                assert not ok
        elif kind == "xfer":
            _, src, fp, h, grant, dst, win = op
            vm.transfer(spaces[src], fp, h, grant, spaces[dst], win)
            model.transfer(src, fp, h, grant, dst, win)
        elif kind == "again":
            continue
        elif kind == "unmap":
            _, sid, fp, flush, own = op
            vm.unmap(spaces[sid], fp, flush, own)
            model.unmap(sid, fp, flush, own)
        else:
            vm.delete_space(spaces[op[1]])
            model.delete(op[1])
            spaces[op[1]] = vm.new_space(20 + op[1])
            before[op[1]] = ({}, spaces[op[1]].generation)
        compare(vm, spaces, model)
        for sp, (old, gen) in zip(spaces, before):
            new = sp.mappings()
            lost = any(a not in new or new[a][0] != f or (w and not new[a][1])
                       for a, (f, w) in old.items())
            assert not lost or sp.generation != gen, (op, sp)
    for sp in spaces[1:]:
        vm.delete_space(sp)
    vm.db.check()


def compare(vm, spaces, model):
    vm.db.check()
    sid = {sp: i for i, sp in enumerate(spaces)}

    def real(n):
        return None if n is None else (n.io, sid[n.space], n.addr)

    def mine(n):
        return None if n is None else (n.io, n.sid, n.addr)

    got = {real(n): (n.key, n.writable, real(n.parent))
           for sp in spaces for io in (False, True) for n in vm.db.nodes(sp, io)}
    want = {mine(n): (n.key, n.w, mine(n.parent)) for n in model.nodes}
    assert got == want
    tables = 0
    for i, sp in enumerate(spaces):
        pages = {n.addr: (n.key, n.w) for n in model.nodes if n.sid == i and not n.io}
        assert sp.mappings() == pages
        tables += len({a >> 22 for a in pages})
        ports = {n.addr for n in model.nodes if n.sid == i and n.io}
        if i == 0:
            for p in range(64):
                mine = p in ports or (model.root(p, True) is None and p not in KPORTS)
                assert sp.io.allowed(p) == mine, p
        else:
            bm = IOPermissionBitmap()
            for p in ports:
                bm.allow(p)
            assert sp.io.bits == bm.bits
    assert vm.pool.used == 1 + len(spaces) + tables
