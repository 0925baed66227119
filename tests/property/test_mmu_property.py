"""hw.mmu against a small independent model, and the TLB against the plain walk.

Page tables are random (random frames, random flag bits, garbage in non-present
entries, random A/D to start with). The model keeps PDEs and PTEs in dicts, not in
memory, and applies the 486 rules as written in the reference (§1.4-§1.6).
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hw.memory import PhysicalMemory
from hw.mmu import TLB, PageFault, translate

CR3 = 0x1000
TABLE0 = 0x2000            # page table for the i-th directory slot at TABLE0 + i * 0x1000
NSLOTS = 4
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def mems():
    a, b = PhysicalMemory(1 << 20), PhysicalMemory(1 << 20)
    yield a, b
    for m in (a, b):
        m.close()
        m.unlink()


class Model:
    """The 486 walk over dicts: pde[pdx], pte[(pdx, ptx)]; a missing entry is 0."""

    def __init__(self, pde, pte):
        self.pde, self.pte = dict(pde), dict(pte)

    def access(self, linear, write, user, wp):
        pdx, ptx = linear >> 22, (linear >> 12) & 0x3FF
        code = (2 if write else 0) | (4 if user else 0)
        pde = self.pde.get(pdx, 0)
        if pde & 1 == 0:
            return ("fault", linear, code)
        pte = self.pte.get((pdx, ptx), 0)
        if pte & 1 == 0:
            return ("fault", linear, code)
        u = pde & 4 != 0 and pte & 4 != 0
        w = pde & 2 != 0 and pte & 2 != 0
        if user:
            ok = u and (w or not write)
        else:
            ok = w or not write or not wp
        if not ok:
            return ("fault", linear, code | 1)
        self.pde[pdx] = pde | 0x20
        self.pte[(pdx, ptx)] = pte | 0x20 | (0x40 if write else 0)
        return ("ok", (pte & 0xFFFFF000) | (linear & 0xFFF))


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except PageFault as f:
        return ("fault", f.cr2, f.error_code)


@st.composite
def page_tables(draw):
    """({pdx: pde}, {(pdx, ptx): pte}, ptx choices per pdx) with distinct tables."""
    pdxs = draw(st.lists(st.integers(0, 1023), min_size=1, max_size=NSLOTS, unique=True))
    pde, pte, ptxs = {}, {}, {}
    for slot, pdx in enumerate(pdxs):
        if draw(st.integers(0, 5)) == 0:         # not present: any bits but P
            pde[pdx] = draw(st.integers(0, 0xFFFFFFFF)) & ~1
            continue
        pde[pdx] = (TABLE0 + slot * 0x1000) | draw(st.integers(0, 0xFFF)) | 1
        ptxs[pdx] = draw(st.lists(st.integers(0, 1023), min_size=1, max_size=6, unique=True))
        for ptx in ptxs[pdx]:
            present_bit = draw(st.sampled_from([0, 1, 1]))       # mostly present
            pte[(pdx, ptx)] = draw(st.integers(0, 0xFFFFFFFF)) | present_bit
    return pde, pte, ptxs


@st.composite
def linears(draw, tables):
    pde, _, ptxs = tables
    offset = draw(st.integers(0, 0xFFF))
    if not ptxs or draw(st.integers(0, 4)) == 0:        # anywhere, mostly unmapped
        return draw(st.integers(0, 0xFFFFF)) << 12 | offset
    pdx = draw(st.sampled_from(sorted(ptxs)))
    return pdx << 22 | draw(st.sampled_from(ptxs[pdx])) << 12 | offset


def table_addr(pde, pdx):
    return pde[pdx] & 0xFFFFF000


def load(mem, pde, pte):
    mem.zero(0, TABLE0 + NSLOTS * 0x1000)
    for pdx, v in pde.items():
        mem.write_u32(CR3 + 4 * pdx, v)
    for (pdx, ptx), v in pte.items():
        mem.write_u32(table_addr(pde, pdx) + 4 * ptx, v)


def accesses(tables):
    return st.lists(st.tuples(linears(tables), st.booleans(), st.booleans(), st.booleans()),
                    min_size=1, max_size=12)


@SETTINGS
@given(st.data())
def test_walk_agrees_with_the_model(mems, data):
    mem = mems[0]
    tables = data.draw(page_tables())
    pde, pte, _ = tables
    load(mem, pde, pte)
    model = Model(pde, pte)
    for linear, write, user, wp in data.draw(accesses(tables)):
        assert outcome(translate, mem, CR3, linear, write, user, wp) == \
            model.access(linear, write, user, wp)
        for pdx, v in model.pde.items():       # A/D bits exactly as the model says
            assert mem.read_u32(CR3 + 4 * pdx) == v
        for (pdx, ptx), v in model.pte.items():
            assert mem.read_u32(table_addr(pde, pdx) + 4 * ptx) == v


@st.composite
def tlb_scripts(draw, tables):
    pde, pte, ptxs = tables
    present = sorted(ptxs)
    pool = draw(st.lists(linears(tables), min_size=1, max_size=4))   # pages hit repeatedly
    ops = []
    for _ in range(draw(st.integers(1, 30))):
        kind = draw(st.sampled_from(["access"] * 5 + ["pte", "pde", "invlpg", "flush"]))
        if kind == "access":
            ops.append(("access", draw(st.sampled_from(pool)), draw(st.booleans()),
                        draw(st.booleans()), draw(st.booleans())))
        elif kind == "pte" and present:
            pdx = draw(st.sampled_from(present))
            ops.append(("pte", pdx, draw(st.sampled_from(ptxs[pdx])),
                        draw(st.integers(0, 0xFFFFFFFF))))
        elif kind == "pde" and present:          # new flags, same table (or not present)
            ops.append(("pde", draw(st.sampled_from(present)), draw(st.integers(0, 0xFFF))))
        elif kind == "invlpg":
            ops.append(("invlpg", draw(st.sampled_from(pool) | linears(tables))))
        else:
            ops.append(("flush",))
    return ops


@SETTINGS
@given(st.data())
def test_tlb_agrees_with_the_walk_when_changes_are_invalidated(mems, data):
    a, b = mems                                  # a is used through the TLB, b directly
    tables = data.draw(page_tables())
    pde, pte, _ = tables
    load(a, pde, pte)
    load(b, pde, pte)
    tlb = TLB(a)
    size = TABLE0 + NSLOTS * 0x1000
    for op in data.draw(tlb_scripts(tables)):
        if op[0] == "access":
            _, linear, write, user, wp = op
            assert outcome(tlb.translate, CR3, linear, write, user, wp) == \
                outcome(translate, b, CR3, linear, write, user, wp)
            assert a.read(0, size) == b.read(0, size)
        elif op[0] == "pte":
            _, pdx, ptx, value = op
            for m in (a, b):
                m.write_u32(table_addr(pde, pdx) + 4 * ptx, value)
            tlb.invlpg(pdx << 22 | ptx << 12)
        elif op[0] == "pde":
            _, pdx, low = op
            for m in (a, b):
                m.write_u32(CR3 + 4 * pdx, table_addr(pde, pdx) | low)
            tlb.flush()
        elif op[0] == "invlpg":
            tlb.invlpg(op[1])
        else:
            tlb.flush()
