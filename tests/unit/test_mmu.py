"""hw.mmu: the i486 page walk, rights, #PF error codes, A/D bits and the TLB."""
import itertools
import pickle

import pytest

from hw.device import BadAccess
from hw.memory import PhysicalMemory
from hw.mmu import (PFEC_P, PFEC_U, PFEC_W, PTE_A, PTE_AVL, PTE_D, PTE_P, PTE_PCD, PTE_PWT,
                    PTE_U, PTE_W, TLB, PageFault, pde_index, pte_index, translate,
                    translate_range, walk)

CR3 = 0x1000
RWU = PTE_P | PTE_W | PTE_U


class Tables:
    """A page directory at CR3 and page tables allocated from 0x2000 up."""

    def __init__(self, mem):
        self.mem, self.next = mem, 0x2000

    def map(self, linear, frame, pte_flags=RWU, pde_flags=RWU):
        pde_addr = CR3 + 4 * pde_index(linear)
        pde = self.mem.read_u32(pde_addr)
        if not pde & PTE_P:
            table, self.next = self.next, self.next + 0x1000
        else:
            table = pde & ~0xFFF
        self.mem.write_u32(pde_addr, table | pde_flags)
        self.mem.write_u32(self.pte_addr(linear), frame | pte_flags)

    def pde(self, linear):
        return self.mem.read_u32(CR3 + 4 * pde_index(linear))

    def pte_addr(self, linear):
        return (self.pde(linear) & ~0xFFF) + 4 * pte_index(linear)

    def pte(self, linear):
        return self.mem.read_u32(self.pte_addr(linear))

    def set_pte(self, linear, value):
        self.mem.write_u32(self.pte_addr(linear), value)


@pytest.fixture
def mem():
    m = PhysicalMemory(1 << 20)
    yield m
    m.close()
    m.unlink()


@pytest.fixture
def pt(mem):
    return Tables(mem)


def fault(mem, linear, write, user, wp=False):
    with pytest.raises(PageFault) as info:
        translate(mem, CR3, linear, write, user, wp)
    return info.value


# -- the walk ----------------------------------------------------------------------------

def test_indices():
    assert pde_index(0xFFC00000) == 0x3FF and pte_index(0xFFC00000) == 0
    assert pde_index(0x00401000) == 1 and pte_index(0x00401000) == 1
    assert pte_index(0x003FF123) == 0x3FF


def test_translation_keeps_the_offset(pt, mem):
    pt.map(0x0804_8000, 0x7_3000)
    pt.map(0xFFFF_F000, 0x5_0000)
    assert translate(mem, CR3, 0x0804_8ABC, False, True) == 0x7_3ABC
    assert translate(mem, CR3, 0xFFFF_FFFF, True, False) == 0x5_0FFF


def test_cr3_low_bits_are_ignored(pt, mem):
    pt.map(0x1000, 0x9000)
    assert translate(mem, CR3 | 0x18, 0x1004, False, False) == 0x9004   # PWT, PCD


def test_frames_beyond_memory_translate_but_tables_beyond_memory_are_bad(pt, mem):
    pt.map(0x1000, 0xFFFF_F000)
    assert translate(mem, CR3, 0x1001, False, False) == 0xFFFF_F001
    mem.write_u32(CR3 + 4 * 5, 0x0800_0000 | RWU)                 # table at 128 MiB
    with pytest.raises(BadAccess):
        translate(mem, CR3, 5 << 22, False, False)
    with pytest.raises(BadAccess):
        translate(mem, 0x4000_0000, 0, False, False)


@pytest.mark.parametrize("linear", [-1, 1 << 32, 1 << 40])
def test_linear_address_must_be_32_bits(mem, linear):
    with pytest.raises(BadAccess):
        translate(mem, CR3, linear, False, False)


# -- not present -------------------------------------------------------------------------

@pytest.mark.parametrize("write,user", list(itertools.product([False, True], repeat=2)))
def test_not_present_pde(mem, write, user):
    mem.write_u32(CR3 + 4 * 3, 0xFFFF_FFFE)                        # everything but P
    f = fault(mem, (3 << 22) | 0x1234, write, user)
    assert f.cr2 == (3 << 22) | 0x1234
    assert f.error_code == (PFEC_W if write else 0) | (PFEC_U if user else 0)
    assert mem.read_u32(CR3 + 4 * 3) == 0xFFFF_FFFE


@pytest.mark.parametrize("write,user", list(itertools.product([False, True], repeat=2)))
def test_not_present_pte_sets_no_accessed_bit(pt, mem, write, user):
    pt.map(0x5000, 0x9000)
    pt.set_pte(0x5000, 0xFFFF_FFFE)
    f = fault(mem, 0x5FFF, write, user)
    assert f.cr2 == 0x5FFF
    assert f.error_code == (PFEC_W if write else 0) | (PFEC_U if user else 0)
    assert not pt.pde(0x5000) & PTE_A
    assert pt.pte(0x5000) == 0xFFFF_FFFE


# -- rights ------------------------------------------------------------------------------

def allowed(pde, pte, write, user, wp):
    """The 486 table (reference §1.4), written out case by case."""
    u = bool(pde & PTE_U) and bool(pte & PTE_U)
    w = bool(pde & PTE_W) and bool(pte & PTE_W)
    if user and not write:
        return u
    if user and write:
        return u and w
    if not write:
        return True
    return w if wp else True


@pytest.mark.parametrize("pde_uw,pte_uw,write,user,wp",
                         list(itertools.product(range(4), range(4), *[[False, True]] * 3)))
def test_every_rights_combination(pt, mem, pde_uw, pte_uw, write, user, wp):
    pde_f, pte_f = PTE_P | pde_uw << 1, PTE_P | pte_uw << 1
    pt.map(0x0040_3000, 0x8_8000, pte_flags=pte_f, pde_flags=pde_f)
    if allowed(pde_f, pte_f, write, user, wp):
        assert translate(mem, CR3, 0x0040_3010, write, user, wp) == 0x8_8010
    else:
        f = fault(mem, 0x0040_3010, write, user, wp)
        assert f.error_code == PFEC_P | (PFEC_W if write else 0) | (PFEC_U if user else 0)
        assert f.cr2 == 0x0040_3010
        assert not pt.pde(0x0040_3000) & PTE_A and not pt.pte(0x0040_3000) & (PTE_A | PTE_D)


def test_486_user_pte_under_supervisor_pde_is_supervisor(pt, mem):
    pt.map(0x1000, 0x9000, pte_flags=RWU, pde_flags=PTE_P | PTE_W)
    assert fault(mem, 0x1000, False, True).error_code == PFEC_P | PFEC_U
    assert translate(mem, CR3, 0x1000, True, False) == 0x9000


def test_kernel_writes_read_only_page_unless_wp(pt, mem):
    pt.map(0x1000, 0x9000, pte_flags=PTE_P | PTE_U)
    assert translate(mem, CR3, 0x1000, True, False, wp=False) == 0x9000
    assert fault(mem, 0x1000, True, False, wp=True).error_code == PFEC_P | PFEC_W
    assert fault(mem, 0x1000, True, True, wp=False).error_code == PFEC_P | PFEC_W | PFEC_U


def test_read_only_pde_makes_the_whole_table_read_only_for_users(pt, mem):
    pt.map(0x2000, 0x9000, pte_flags=RWU, pde_flags=PTE_P | PTE_U)
    assert translate(mem, CR3, 0x2000, False, True) == 0x9000
    assert fault(mem, 0x2000, True, True).error_code == PFEC_P | PFEC_W | PFEC_U


# -- accessed and dirty ------------------------------------------------------------------

def test_read_sets_accessed_in_both_levels_and_no_dirty(pt, mem):
    pt.map(0x3000, 0x9000)
    translate(mem, CR3, 0x3000, False, True)
    assert pt.pde(0x3000) & (PTE_A | PTE_D) == PTE_A
    assert pt.pte(0x3000) & (PTE_A | PTE_D) == PTE_A


def test_write_sets_dirty_in_the_pte_only(pt, mem):
    pt.map(0x3000, 0x9000)
    translate(mem, CR3, 0x3000, True, True)
    assert pt.pde(0x3000) & (PTE_A | PTE_D) == PTE_A
    assert pt.pte(0x3000) & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_supervisor_write_to_read_only_page_sets_dirty(pt, mem):
    pt.map(0x3000, 0x9000, pte_flags=PTE_P)
    translate(mem, CR3, 0x3000, True, False)
    assert pt.pte(0x3000) & PTE_D


def test_ad_update_keeps_every_other_bit(pt, mem):
    flags = RWU | PTE_PWT | PTE_PCD | PTE_AVL
    pt.map(0x3000, 0xABCD_E000, pte_flags=flags, pde_flags=flags)
    translate(mem, CR3, 0x3000, True, True)
    assert pt.pte(0x3000) == 0xABCD_E000 | flags | PTE_A | PTE_D
    assert pt.pde(0x3000) & 0xFFF == flags | PTE_A


def test_walk_returns_the_effective_pte(pt, mem):
    pt.map(0x3000, 0x9000, pte_flags=RWU, pde_flags=PTE_P | PTE_U)
    eff = walk(mem, CR3, 0x3000, False, True)
    assert eff == 0x9000 | PTE_P | PTE_U | PTE_A


# -- page fault object -------------------------------------------------------------------

def test_page_fault_describes_itself_and_pickles():
    f = PageFault(0xC000_1234, PFEC_P | PFEC_W | PFEC_U)
    assert "0xc0001234" in str(f) and "protection" in str(f) and "user write" in str(f)
    g = pickle.loads(pickle.dumps(f))
    assert (g.cr2, g.error_code) == (f.cr2, f.error_code)
    assert "not present" in str(PageFault(0, 0)) and "supervisor read" in str(PageFault(0, 0))


# -- TLB ---------------------------------------------------------------------------------

def test_tlb_hit_avoids_the_walk(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    assert tlb.translate(CR3, 0x4010, False, True) == 0x9010
    assert tlb.misses == 1
    assert tlb.translate(CR3, 0x4FFF, False, True) == 0x9FFF
    assert tlb.misses == 1 and len(tlb) == 1


def test_stale_entry_survives_a_pte_change_until_invlpg(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, True, True)
    pt.set_pte(0x4000, 0xA000 | RWU)                  # remap without invalidating
    assert tlb.translate(CR3, 0x4000, True, True) == 0x9000
    pt.set_pte(0x4000, 0)                              # even unmapping goes unnoticed
    assert tlb.translate(CR3, 0x4000, False, True) == 0x9000
    tlb.invlpg(0x4ABC)
    assert fault(mem, 0x4000, False, True).error_code == PFEC_U
    with pytest.raises(PageFault):
        tlb.translate(CR3, 0x4000, False, True)


def test_invlpg_drops_only_its_page_and_flush_drops_all(pt, mem):
    for i in range(4):
        pt.map(0x10000 + i * 0x1000, 0x20000 + i * 0x1000)
    tlb = TLB(mem)
    for i in range(4):
        tlb.translate(CR3, 0x10000 + i * 0x1000, True, False)
    for i in range(4):
        pt.set_pte(0x10000 + i * 0x1000, 0x30000 + i * 0x1000 | RWU)
    tlb.invlpg(0x11000)
    assert [tlb.translate(CR3, 0x10000 + i * 0x1000, False, False) for i in range(4)] == \
        [0x20000, 0x31000, 0x22000, 0x23000]
    tlb.flush()
    assert len(tlb) == 0
    assert tlb.translate(CR3, 0x10000, False, False) == 0x30000


def test_a_new_cr3_flushes(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, False, False)
    mem.write(0x80000, mem.read(CR3, 0x1000))          # a second directory, same tables
    pt.set_pte(0x4000, 0xA000 | RWU)
    assert tlb.translate(CR3, 0x4000, False, False) == 0x9000     # stale
    assert tlb.translate(0x80000, 0x4000, False, False) == 0xA000  # CR3 load flushed


def test_first_write_through_a_clean_entry_walks_and_sets_dirty(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, False, True)
    assert not pt.pte(0x4000) & PTE_D
    assert tlb.translate(CR3, 0x4008, True, True) == 0x9008
    assert pt.pte(0x4000) & PTE_D and tlb.misses == 2
    tlb.translate(CR3, 0x400C, True, True)
    assert tlb.misses == 2                              # now a dirty entry: a hit


def test_write_through_a_dirty_entry_does_not_touch_memory(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, True, True)
    pt.set_pte(0x4000, 0x9000 | RWU)                    # OS clears A and D, no invlpg
    tlb.translate(CR3, 0x4000, True, True)
    assert pt.pte(0x4000) == 0x9000 | RWU


def test_rights_the_entry_lacks_cause_a_rewalk_not_a_stale_fault(pt, mem):
    pt.map(0x4000, 0x9000, pte_flags=PTE_P | PTE_U)    # read-only
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, False, True)
    pt.set_pte(0x4000, 0x9000 | RWU)                    # relaxed without invlpg
    assert tlb.translate(CR3, 0x4000, True, True) == 0x9000


def test_a_fault_drops_the_entry(pt, mem):
    pt.map(0x4000, 0x9000)
    tlb = TLB(mem)
    tlb.translate(CR3, 0x4000, False, True)            # clean entry
    pt.set_pte(0x4000, 0)
    with pytest.raises(PageFault) as info:
        tlb.translate(CR3, 0x4000, True, True)          # write walks, finds P=0
    assert info.value.error_code == PFEC_W | PFEC_U
    pt.set_pte(0x4000, 0xA000 | RWU)
    assert tlb.translate(CR3, 0x4000, False, True) == 0xA000


def test_wp_is_part_of_the_check_on_a_hit(pt, mem):
    pt.map(0x4000, 0x9000, pte_flags=PTE_P)
    tlb = TLB(mem)
    assert tlb.translate(CR3, 0x4000, True, False, wp=False) == 0x9000
    with pytest.raises(PageFault) as info:
        tlb.translate(CR3, 0x4000, True, False, wp=True)
    assert info.value.error_code == PFEC_P | PFEC_W


def test_tlb_capacity_evicts_oldest(pt, mem):
    for i in range(3):
        pt.map(i << 12, 0x9000 + (i << 12))
    tlb = TLB(mem, capacity=2)
    for i in range(3):
        tlb.translate(CR3, i << 12, False, False)
    assert len(tlb) == 2
    tlb.translate(CR3, 0x2000, False, False)
    assert tlb.misses == 3
    tlb.translate(CR3, 0, False, False)
    assert tlb.misses == 4


# -- ranges ------------------------------------------------------------------------------

def test_translate_range_splits_at_page_boundaries(pt, mem):
    pt.map(0x7000, 0x30000)
    pt.map(0x8000, 0x10000)
    pt.map(0x9000, 0x50000)
    assert translate_range(mem, CR3, 0x7FF0, 0x1020, True, True) == [
        (0x30FF0, 0x10), (0x10000, 0x1000), (0x50000, 0x10)]
    assert translate_range(mem, CR3, 0x8004, 8, False, True) == [(0x10004, 8)]
    assert translate_range(mem, CR3, 0x8000, 0, False, True) == []
    tlb = TLB(mem)
    assert translate_range(mem, CR3, 0x7FF0, 0x20, False, True, tlb=tlb) == [
        (0x30FF0, 0x10), (0x10000, 0x10)]
    assert len(tlb) == 2


def test_translate_range_faults_at_the_first_bad_page(pt, mem):
    pt.map(0x7000, 0x30000)
    with pytest.raises(PageFault) as info:
        translate_range(mem, CR3, 0x7F00, 0x200, True, True)
    assert (info.value.cr2, info.value.error_code) == (0x8000, PFEC_W | PFEC_U)


@pytest.mark.parametrize("linear,length", [(-1, 1), (0xFFFF_FFFF, 2), (0, -1)])
def test_translate_range_stays_inside_32_bits(mem, linear, length):
    with pytest.raises(BadAccess):
        translate_range(mem, CR3, linear, length, False, False)
