"""kernel.vm: map/grant/unmap across real address spaces (V2 §4, §5, §8.1).

Every test ends by checking the mapping database's invariants and that each space's page
tables, walked by `hw.mmu.translate`, say exactly what the database says.
"""
from types import SimpleNamespace

import pytest

from hw.memory import PhysicalMemory
from hw.mmu import PFEC_P, PFEC_U, PFEC_W, PageFault, translate
from microkernel.abi.errors import Fault, KernelError
from microkernel.abi.fpage import Fpage
from microkernel.kernel.kmem import FramePool
from microkernel.kernel.vm import VM

MEM = 8 << 20
POOL = (0x700000, 0x800000)
PG = 0x1000
KERNEL_PORTS = ((0x20, 2), (0xA0, 2))


@pytest.fixture
def mem():
    with PhysicalMemory(MEM) as m:
        yield m


@pytest.fixture
def vm(mem):
    return VM(mem, FramePool(mem, *POOL))


@pytest.fixture
def s0(vm):
    space = vm.new_space(2)
    vm.sigma0_populate(space, exclude_ports=KERNEL_PORTS)
    return space


@pytest.fixture
def abc(vm):
    return vm.new_space(10), vm.new_space(11), vm.new_space(12)


def agree(vm, *spaces):
    """The database is sound and every page table says what the database says."""
    vm.db.check()
    for sp in spaces:
        want = {n.addr: (n.key, n.writable) for n in vm.db.nodes(sp)}
        assert sp.mappings() == want
        for addr, (frame, w) in want.items():
            assert translate(vm.memory, sp.cr3, addr | 0x123, False, True) == frame | 0x123
            if not w:
                assert pf(vm, sp, addr, write=True) == PFEC_P | PFEC_W | PFEC_U


def pf(vm, space, addr, write=False):
    with pytest.raises(PageFault) as e:
        translate(vm.memory, space.cr3, addr, write, True)
    return e.value.error_code


win = Fpage.of                                       # a receive window


def give(vm, s0, dst, frame, n=1, at=None, writable=True):
    """sigma0 maps n pages from `frame` into dst (at `at`, default 1:1)."""
    at = frame if at is None else at
    return vm.transfer(s0, Fpage.of(frame, n * PG, writable), 0, False, dst, win(at, n * PG))


# -- sigma0 ------------------------------------------------------------------------------

def test_sigma0_faults_are_identity_mapped(vm, s0):
    vm.sigma0_identity(s0, 0x123456, write=False)
    assert translate(vm.memory, s0.cr3, 0x123456, True, True) == 0x123456
    vm.sigma0_identity(s0, 0x123456, write=True)                # idempotent
    assert vm.db.root(0x123000).space is s0
    agree(vm, s0)


@pytest.mark.parametrize("addr", [MEM, POOL[0], POOL[1] - 1, 0xFFFFF000])
def test_sigma0_never_gets_kernel_frames_or_missing_memory(vm, s0, addr):
    with pytest.raises(KernelError) as e:
        vm.sigma0_identity(s0, addr, write=False)
    assert e.value.fault is Fault.BAD_ARGUMENT


def test_a_frame_granted_away_is_no_longer_sigma0s(vm, s0, abc):
    a = abc[0]
    with pytest.raises(KernelError):
        vm.sigma0_identity(a, 0x1000, write=False)      # identity faults are sigma0's only
    vm.transfer(s0, Fpage.page(0x5000), 0x5000, True, a, Fpage.whole())
    assert vm.db.root(0x5000).space is a
    with pytest.raises(KernelError):
        vm.sigma0_identity(s0, 0x5000, write=True)
    agree(vm, s0, a)


def test_sigma0_regains_write_on_its_own_root(vm, s0):
    vm.sigma0_identity(s0, 0x5000, write=False)
    vm.unmap(s0, Fpage.page(0x5000), flush=False, own=True)
    assert s0.lookup(0x5000) == (0x5000, False)
    vm.sigma0_identity(s0, 0x5000, write=True)
    assert s0.lookup(0x5000) == (0x5000, True)
    agree(vm, s0)


def test_sigma0_sends_frames_it_never_touched_but_not_kernel_frames(vm, s0, abc):
    a = abc[0]
    n = vm.transfer(s0, Fpage.of(0x600000, 0x200000), 0, False, a, win(0x600000, 0x200000))
    assert n == 0x100                                # 0x700000.. is the kernel pool
    assert a.lookup(0x6FF000) == (0x6FF000, True) and a.lookup(0x700000) is None
    agree(vm, s0, a)


# -- map through three spaces --------------------------------------------------------------

def test_map_through_three_spaces(vm, s0, abc):
    a, b, c = abc
    assert give(vm, s0, a, 0x100000, 4) == 4
    assert vm.transfer(a, Fpage.of(0x100000, 0x4000), 0, False, b, win(0x400000, 0x4000)) == 4
    assert vm.transfer(b, Fpage.of(0x400000, 0x4000), 0, False, c, win(1 << 28, 0x4000)) == 4
    vm.memory.write(0x102010, b"shared")
    pa = translate(vm.memory, c.cr3, 0x10002010, False, True)
    assert pa == 0x102010 and vm.memory.read(pa, 6) == b"shared"
    node = vm.db.lookup(c, 0x10002000)
    assert node.parent.space is b and node.parent.parent.space is a
    agree(vm, s0, a, b, c)


def test_grant_moves_the_page_and_its_subtree(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000), 0, False, c, win(0x3000, PG))
    g = a.generation
    assert vm.transfer(a, Fpage.page(0x100000), 0, True, b, win(0x9000, PG)) == 1
    assert pf(vm, a, 0x100000) == PFEC_U and a.generation != g
    assert translate(vm.memory, b.cr3, 0x9000, True, True) == 0x100000
    moved = vm.db.lookup(b, 0x9000)
    assert moved.parent.space is s0 and [n.space for n in moved.children] == [c]
    agree(vm, s0, a, b, c)


def test_flush_is_recursive_and_spares_the_caller(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000, 2)
    vm.transfer(a, Fpage.of(0x100000, 0x2000), 0, False, b, win(0x100000, 0x2000))
    vm.transfer(b, Fpage.of(0x100000, 0x2000), 0, False, c, win(0x100000, 0x2000))
    gens = [sp.generation for sp in (a, b, c)]
    assert vm.unmap(a, Fpage.of(0x100000, 0x2000), flush=True, own=False) == 4
    assert a.lookup(0x101000) == (0x101000, True)
    assert b.mappings() == {} and c.mappings() == {}
    assert [sp.generation for sp in (a, b, c)] == [gens[0], gens[1] + 1, gens[2] + 1]
    agree(vm, s0, a, b, c)


def test_own_flag_removes_the_callers_pages_too(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000), 0, False, b, win(0x100000, PG))
    assert vm.unmap(a, Fpage.page(0x100000), flush=True, own=True) == 2
    assert a.mappings() == {} and b.mappings() == {}
    assert s0.lookup(0x100000) == (0x100000, True)
    agree(vm, s0, a, b)


def test_remap_is_recursive_and_read_only(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000), 0, False, b, win(0x100000, PG))
    vm.transfer(b, Fpage.page(0x100000), 0, False, c, win(0x100000, PG))
    g = c.generation
    assert vm.unmap(a, Fpage.page(0x100000), flush=False, own=False) == 2
    assert pf(vm, b, 0x100000, write=True) == PFEC_P | PFEC_W | PFEC_U
    assert pf(vm, c, 0x100000, write=True) == PFEC_P | PFEC_W | PFEC_U
    assert translate(vm.memory, c.cr3, 0x100000, False, True) == 0x100000
    assert a.lookup(0x100000) == (0x100000, True) and c.generation == g + 1
    vm.unmap(a, Fpage.page(0x100000), flush=False, own=True)
    assert a.lookup(0x100000) == (0x100000, False)
    agree(vm, s0, a, b, c)


def test_whole_space_unmap_covers_memory_and_ports(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000, 4)
    vm.transfer(s0, Fpage.ports(0x3F8, 3), 0, False, a, Fpage.ports(0, 16))
    vm.transfer(a, Fpage.whole(), 0, False, b, Fpage.whole())
    assert len(b.mappings()) == 4 and b.io.allowed(0x3FF)
    vm.unmap(a, Fpage.whole(), flush=True, own=False)
    assert b.mappings() == {} and not b.io.allowed(0x3F8) and a.io.allowed(0x3F8)
    agree(vm, s0, a, b)


# -- placement and rights -------------------------------------------------------------------

def test_small_fpage_lands_in_a_big_window_at_the_hot_spot(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000, 2)
    n = vm.transfer(a, Fpage.of(0x100000, 0x2000), 0x1D6789, False, b, win(0x400000, 0x10000))
    assert n == 2       # hot spot mod 64 KiB = 0x6789, rounded down to 8 KiB = 0x6000
    assert set(b.mappings()) == {0x406000, 0x407000}
    agree(vm, s0, a, b)


def test_big_fpage_sends_only_the_window_sized_piece_holding_the_hot_spot(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000, 16)
    n = vm.transfer(a, Fpage.of(0x100000, 0x10000), 0xA5000, False, b, win(0x20000, 0x4000))
    assert n == 4                                    # piece 0x104000..0x108000 fills it
    assert b.mappings() == {0x20000 + i * PG: (0x104000 + i * PG, True) for i in range(4)}
    agree(vm, s0, a, b)


def test_equal_sizes_ignore_the_hot_spot(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000, 2)
    vm.transfer(a, Fpage.of(0x100000, 0x2000), 0xFFFFF000, False, b, win(0x2000, 0x2000))
    assert b.mappings() == {0x2000: (0x100000, True), 0x3000: (0x101000, True)}


def test_nothing_is_mapped_into_the_kernel_area(vm, s0, abc):
    """User space ends at USER_TOP (3 GiB): a hot spot above it in a whole-space
    window maps nothing, and a 2 GiB window there takes only its lower half."""
    a, b, c = abc
    give(vm, s0, a, 0x100000, 2)
    assert vm.transfer(a, Fpage.page(0x100000), 0xC0001000, False, b, Fpage.whole()) == 0
    assert vm.transfer(a, Fpage.page(0x100000), 0xBFFFF000, False, b, Fpage.whole()) == 1
    assert b.mappings() == {0xBFFFF000: (0x100000, True)}
    give(vm, s0, a, 0x102000, at=0x40100000)            # would land at 0xC0100000
    n = vm.transfer(a, Fpage.whole(), 0, False, c, Fpage.of(0x80000000, 1 << 31))
    assert n == 2 and set(c.mappings()) == {0x80100000, 0x80101000}
    agree(vm, s0, a, b, c)


def test_pages_the_sender_has_not_mapped_are_skipped(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000)
    give(vm, s0, a, 0x103000)
    assert vm.transfer(a, Fpage.of(0x100000, 0x4000), 0, False, b, win(0, 0x4000)) == 2
    assert set(b.mappings()) == {0x0, 0x3000}
    assert vm.transfer(b, Fpage.whole(), 0, False, b, Fpage.whole()) == 0   # onto itself
    agree(vm, s0, a, b)


def test_rights_are_never_amplified(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000, writable=False)
    give(vm, s0, a, 0x101000)
    vm.transfer(a, Fpage.of(0x100000, 0x2000, writable=True), 0, False, b, win(0, 0x2000))
    assert b.mappings() == {0: (0x100000, False), PG: (0x101000, True)}
    vm.transfer(b, Fpage.of(0, 0x2000, writable=False), 0, False, c, win(0, 0x2000))
    assert c.mappings() == {0: (0x100000, False), PG: (0x101000, False)}
    vm.transfer(b, Fpage.of(0, 0x2000, writable=True), 0, True, c, win(0x8000, 0x2000))
    assert c.lookup(0x8000) == (0x100000, False) and c.lookup(0x9000) == (0x101000, True)
    agree(vm, s0, a, b, c)


def test_a_read_only_grant_write_protects_what_was_derived(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000), 0, False, c, win(0, PG))
    vm.transfer(a, Fpage.page(0x100000, writable=False), 0, True, b, win(0, PG))
    assert b.lookup(0) == (0x100000, False) and c.lookup(0) == (0x100000, False)
    agree(vm, s0, a, b, c)


# -- mapping over existing mappings ---------------------------------------------------------

def test_mapping_over_another_mapping_flushes_it_first(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, b, 0x200000, at=0x5000)
    vm.transfer(b, Fpage.page(0x5000), 0, False, c, win(0x5000, PG))
    give(vm, s0, a, 0x100000)
    assert vm.transfer(a, Fpage.page(0x100000), 0, False, b, win(0x5000, PG)) == 1
    assert b.lookup(0x5000) == (0x100000, True) and c.mappings() == {}
    agree(vm, s0, a, b, c)


def test_mapping_again_from_the_same_source_only_adds_rights(vm, s0, abc):
    a, b, c = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000, writable=False), 0, False, b, win(0, PG))
    vm.transfer(b, Fpage.page(0), 0, False, c, win(0, PG))
    assert vm.transfer(a, Fpage.page(0x100000), 0, False, b, win(0, PG)) == 1
    assert b.lookup(0) == (0x100000, True) and c.lookup(0) == (0x100000, False)
    agree(vm, s0, a, b, c)


def test_mapping_onto_its_own_ancestor_is_skipped(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, a, 0x100000)
    vm.transfer(a, Fpage.page(0x100000), 0, False, b, win(0, PG))
    assert vm.transfer(b, Fpage.page(0), 0, False, a, win(0x100000, PG)) == 0
    assert vm.transfer(b, Fpage.page(0), 0, True, a, win(0x100000, PG)) == 0
    assert vm.transfer(a, Fpage.page(0x100000), 0, True, a, win(0x100000, PG)) == 0
    assert b.lookup(0) == (0x100000, True)
    agree(vm, s0, a, b)


def test_a_source_page_flushed_by_an_earlier_page_is_skipped(vm, s0, abc):
    a, b, _ = abc
    give(vm, s0, b, 0x200000, at=0x8000)            # b holds F at 0x8000 ...
    vm.transfer(b, Fpage.page(0x8000), 0, False, a, win(0x1000, PG))   # ... a derives it
    give(vm, s0, a, 0x300000, at=0)                  # a holds G at 0
    # a's page 0 lands on b's F first; flushing F takes a's 0x1000 with it.
    assert vm.transfer(a, Fpage.of(0, 0x2000), 0, False, b, win(0x8000, 0x2000)) == 1
    assert b.mappings() == {0x8000: (0x300000, True)}
    assert a.mappings() == {0: (0x300000, True)}
    agree(vm, s0, a, b)


def test_no_window_is_refused(vm, s0, abc):
    with pytest.raises(ValueError):
        vm.transfer(s0, Fpage.page(0x1000), 0, False, abc[0], None)


# -- I/O fpages -------------------------------------------------------------------------------

def test_io_fpages_map_the_intersection_idempotently(vm, s0, abc):
    a, b, _ = abc
    assert s0.io.allowed(0x3F8) and not s0.io.allowed(0x20) and not s0.io.allowed(0xA1)
    assert vm.transfer(s0, Fpage.ports(0x3F8, 3), 0, False, a, Fpage.ports(0x3F0, 4)) == 8
    assert a.io.ranges() == [(0x3F8, 8)]
    assert vm.transfer(a, Fpage.ports(0x3F8, 3), 0, False, b, Fpage.ports(0x3FC, 1)) == 2
    assert b.io.ranges() == [(0x3FC, 2)]
    assert vm.transfer(a, Fpage.ports(0x3F8, 3), 0, False, b, Fpage.ports(0x100, 4)) == 0
    assert vm.transfer(a, Fpage.ports(0x3F8, 3), 0, False, b, win(0, PG)) == 0
    assert vm.db.lookup(b, 0x3FD, io=True).parent.space is a
    # the kernel's own ports (the PICs') are never handed out
    assert vm.transfer(s0, Fpage.ports(0x20, 2), 0, False, b, Fpage.ports(0, 16)) == 2
    assert b.io.ranges() == [(0x22, 2), (0x3FC, 2)]
    agree(vm, s0, a, b)


def test_io_flush_and_grant(vm, s0, abc):
    a, b, c = abc
    vm.transfer(s0, Fpage.ports(0x1F0, 3), 0, False, a, Fpage.whole())
    vm.transfer(a, Fpage.ports(0x1F0, 3), 0, False, b, Fpage.whole())
    assert vm.transfer(b, Fpage.ports(0x1F0, 1), 0, True, c, Fpage.whole()) == 2
    assert b.io.ranges() == [(0x1F2, 6)] and c.io.ranges() == [(0x1F0, 2)]
    assert vm.unmap(a, Fpage.ports(0x1F0, 3), flush=False, own=True) == 0   # no RO ports
    vm.unmap(a, Fpage.ports(0x1F0, 3), flush=True, own=False)
    assert b.io.ranges() == [] and c.io.ranges() == [] and a.io.ranges() == [(0x1F0, 8)]
    agree(vm, s0, a, b, c)


def test_ports_granted_away_leave_sigma0_and_come_back_when_freed(vm, s0, abc):
    a, b, _ = abc
    vm.transfer(s0, Fpage.ports(0x60, 1), 0, True, a, Fpage.whole())
    assert not s0.io.allowed(0x60) and a.io.ranges() == [(0x60, 2)]
    vm.transfer(a, Fpage.ports(0x60, 1), 0, False, b, Fpage.whole())
    vm.unmap(a, Fpage.ports(0x60, 1), flush=True, own=True)
    assert s0.io.allowed(0x60) and s0.io.allowed(0x61) and b.io.ranges() == []
    assert vm.db.root(0x60, io=True) is None
    agree(vm, s0, a, b)


# -- kernel memory and dying spaces -----------------------------------------------------------

def test_pool_exhaustion_raises_no_memory_and_changes_nothing(mem):
    pool = FramePool(mem, POOL[0], POOL[0] + 7 * PG)
    vm = VM(mem, pool)
    s0, a = vm.new_space(2), vm.new_space(3)         # generation frame + two directories
    vm.sigma0_populate(s0)
    give(vm, s0, a, 0x100000, 4)                     # one table each in s0 and a
    assert pool.available == 2
    before = (s0.mappings(), a.mappings(), len(vm.db), s0.generation, a.generation)
    fp = Fpage.of(0, 0x1000000)                      # 4 regions of 4 MiB: 4 new tables
    with pytest.raises(KernelError) as e:
        vm.transfer(s0, fp, 0, False, a, win(0x10000000, 0x1000000))
    assert e.value.fault is Fault.NO_MEMORY
    assert (s0.mappings(), a.mappings(), len(vm.db), s0.generation, a.generation) == before
    assert pool.available == 2
    agree(vm, s0, a)
    assert vm.transfer(s0, Fpage.of(0x200000, 0x2000), 0, False, a, win(0x200000, 0x2000)) == 2


def test_delete_space_flushes_what_it_handed_out(vm, s0, abc):
    a, b, c = abc
    used = vm.pool.used
    give(vm, s0, a, 0x100000, 2)
    vm.transfer(s0, Fpage.ports(0x3F8, 3), 0, False, a, Fpage.whole())
    vm.transfer(a, Fpage.whole(), 0, False, b, Fpage.whole())
    vm.transfer(b, Fpage.whole(), 0, False, c, win(0x800000, 0x400000))
    g = c.generation
    vm.delete_space(a)
    assert a.destroyed and b.mappings() == {} and c.mappings() == {}
    assert b.io.ranges() == [] and c.generation == g + 1
    assert s0.lookup(0x100000) == (0x100000, True)
    assert vm.pool.used == used + 1 - 1              # + s0's table - a's directory
    agree(vm, s0, b, c)


def test_delete_space_that_was_granted_a_root_returns_ports(vm, s0, abc):
    a = abc[0]
    vm.transfer(s0, Fpage.ports(0x170, 3), 0, True, a, Fpage.whole())
    vm.transfer(s0, Fpage.page(0x100000), 0, True, a, Fpage.whole())
    assert not s0.io.allowed(0x170)
    vm.delete_space(a)
    assert s0.io.allowed(0x170) and vm.db.root(0x100000) is None
    vm.sigma0_identity(s0, 0x100000, write=True)     # the frame is sigma0's again
    agree(vm, s0)


def test_for_machine_puts_the_pool_at_the_top(mem):
    vm = VM.for_machine(SimpleNamespace(memory=mem))
    assert (vm.pool.start, vm.pool.end) == (MEM - MEM // 16, MEM)
    vm = VM.for_machine(SimpleNamespace(memory=mem), kmem_bytes=10000)
    assert vm.pool.total == 3
    with pytest.raises(ValueError):
        VM.for_machine(SimpleNamespace(memory=mem), kmem_bytes=MEM)
