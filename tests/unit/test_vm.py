"""kernel.vm: map/grant/unmap across real address spaces (V2 §4, §5, §8.1): sigma0's
identity mappings, mappings passed through three spaces and taken back, and kernel
memory running out or a space dying. Where a transfer lands and what it does to
mappings already there is test_vm_placement.py's; I/O ports are test_vm_ports.py's.

Every test ends by checking the mapping database's invariants and that each space's page
tables, walked by `hw.mmu.translate`, say exactly what the database says (vm_rig.agree).
"""
from types import SimpleNamespace

import pytest

from hw.mmu import PFEC_P, PFEC_U, PFEC_W, translate
from microkernel.abi.errors import Fault, KernelError
from microkernel.abi.fpage import Fpage
from microkernel.kernel.kmem import FramePool
from microkernel.kernel.vm import VM
from vm_rig import MEM, PG, POOL, abc, agree, give, mem, pf, s0, vm, win  # noqa: F401 (fixtures)


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
