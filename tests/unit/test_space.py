"""kernel.kmem and kernel.space: frames, generation words, and real i486 page tables.

Whatever `AddressSpace` installs must be what `hw.mmu.translate` walks: user access
works, rights give the exact #PF error codes, and removals bump the generation word.
"""
import pytest

from hw.memory import PhysicalMemory
from hw.mmu import (PFEC_P, PFEC_U, PFEC_W, PTE_A, PTE_D, PTE_P, PTE_U, PTE_W,
                    PageFault, translate)
from hw.ports import IOPermissionBitmap
from microkernel.abi.errors import Fault, KernelError
from microkernel.kernel.kmem import FramePool
from microkernel.kernel.space import AddressSpace

POOL = (0x300000, 0x400000)


@pytest.fixture
def mem():
    with PhysicalMemory(4 << 20) as m:
        yield m


@pytest.fixture
def pool(mem):
    return FramePool(mem, *POOL)


@pytest.fixture
def space(mem, pool):
    return AddressSpace(mem, pool, asid=7)


def fault(mem, cr3, addr, write, user=True):
    with pytest.raises(PageFault) as e:
        translate(mem, cr3, addr, write, user)
    assert e.value.cr2 == addr
    return e.value.error_code


# -- FramePool ----------------------------------------------------------------------------

def test_pool_hands_out_zeroed_frames_inside_its_range(mem, pool):
    mem.write(POOL[0], b"\xaa" * 4096)
    a = pool.alloc()
    assert POOL[0] <= a < POOL[1] and a % 4096 == 0
    assert mem.read(a, 4096) == bytes(4096)
    assert (pool.used, pool.total, pool.available) == (1, 256, 255)
    assert pool.contains(a) and not pool.contains(POOL[1])


def test_pool_exhaustion_is_no_memory_and_free_makes_room(mem):
    pool = FramePool(mem, 0x1000, 0x3000)
    frames = [pool.alloc(), pool.alloc()]
    with pytest.raises(KernelError) as e:
        pool.alloc()
    assert e.value.fault is Fault.NO_MEMORY
    pool.free(frames[0])
    assert pool.alloc() == frames[0]


def test_pool_rejects_bad_ranges_and_double_free(mem, pool):
    with pytest.raises(ValueError):
        FramePool(mem, 0x1001, 0x3000)
    with pytest.raises(ValueError):
        FramePool(mem, 0, mem.size + 4096)
    a = pool.alloc()
    pool.free(a)
    with pytest.raises(ValueError):
        pool.free(a)


def test_generation_words_share_one_frame_and_bump(mem, pool):
    gens = pool.generations
    a, b = gens.alloc(), gens.alloc()
    assert a // 4096 == b // 4096 and a != b and pool.used == 1
    before = gens.read(b)
    gens.bump(a)
    assert gens.read(a) == 1 and gens.read(b) == before
    mem.write_u32(a, 0xFFFFFFFF)
    gens.bump(a)
    assert gens.read(a) == 0                          # wraps modulo 2**32
    gens.free(a)
    assert gens.read(a) == 1                          # a freed word is bumped once more
    with pytest.raises(ValueError):
        gens.free(a)


# -- PDE/PTE format as the MMU sees it -------------------------------------------------------

def test_installed_entries_have_the_real_i486_format(mem, space, pool):
    space.set_page(0x12345678, 0x5000, writable=True)
    pde = mem.read_u32(space.cr3 + 4 * (0x12345678 >> 22))
    assert pde & 0xFFF == PTE_P | PTE_W | PTE_U and pool.contains(pde & ~0xFFF)
    pte = mem.read_u32((pde & ~0xFFF) + 4 * ((0x12345678 >> 12) & 0x3FF))
    assert pte == 0x5000 | PTE_P | PTE_U | PTE_W
    space.set_page(0x12346000, 0x6000, writable=False)
    pte2 = mem.read_u32((pde & ~0xFFF) + 4 * 0x346)
    assert pte2 == 0x6000 | PTE_P | PTE_U
    assert space.lookup(0x12345FFF) == (0x5000, True)
    assert space.lookup(0x12346000) == (0x6000, False)
    assert space.lookup(0x12347000) is None and space.lookup(0x80000000) is None


def test_user_access_works_through_the_mmu_walk(mem, space):
    space.set_page(0x400000, 0x7000, writable=True)
    assert translate(mem, space.cr3, 0x400ABC, write=False, user=True) == 0x7ABC
    assert translate(mem, space.cr3, 0x400ABC, write=True, user=True) == 0x7ABC
    mem.write(0x7ABC, b"hi")
    assert mem.read(translate(mem, space.cr3, 0x400ABC, False, True), 2) == b"hi"


def test_the_whole_4gib_is_user_space(mem, space):
    space.set_page(0xFFFFF000, 0x8000, writable=True)
    space.set_page(0, 0x9000, writable=False)
    assert translate(mem, space.cr3, 0xFFFFFFFF, True, True) == 0x8FFF
    assert translate(mem, space.cr3, 0x10, False, True) == 0x9010


def test_write_to_a_protected_page_faults_with_the_exact_error_code(mem, space):
    space.set_page(0x1000, 0x7000, writable=True)
    assert space.protect_page(0x1000) is True
    assert translate(mem, space.cr3, 0x1234, False, True) == 0x7234
    assert fault(mem, space.cr3, 0x1234, write=True) == PFEC_P | PFEC_W | PFEC_U
    assert space.protect_page(0x1000) is False       # already read-only
    space.set_page(0x2000, 0x8000, writable=False)
    assert fault(mem, space.cr3, 0x2008, write=True) == PFEC_P | PFEC_W | PFEC_U


def test_after_clear_page_a_translate_faults_not_present(mem, space):
    space.set_page(0x1000, 0x7000, writable=True)
    space.set_page(0x2000, 0x8000, writable=True)
    assert space.clear_page(0x1000) is True
    assert fault(mem, space.cr3, 0x1010, write=False) == PFEC_U
    assert fault(mem, space.cr3, 0x1010, write=True) == PFEC_W | PFEC_U
    assert translate(mem, space.cr3, 0x2010, True, True) == 0x8010
    assert space.clear_page(0x1000) is False
    assert space.clear_page(0x80000000) is False
    assert fault(mem, space.cr3, 0x80000000, write=False) == PFEC_U


def test_an_empty_page_table_goes_back_to_the_pool(mem, space, pool):
    base = pool.used
    space.set_page(0x400000, 0x7000, True)
    space.set_page(0x401000, 0x8000, True)
    space.set_page(0x800000, 0x9000, True)
    assert pool.used == base + 2 and space.table_count == 2 and space.page_count == 3
    space.clear_page(0x400000)
    assert pool.used == base + 2
    space.clear_page(0x401000)
    assert pool.used == base + 1 and space.table_count == 1
    assert mem.read_u32(space.cr3 + 4) == 0           # the PDE is gone too
    assert fault(mem, space.cr3, 0x401000, False) == PFEC_U


def test_remapping_the_same_frame_keeps_accessed_and_dirty(mem, space):
    space.set_page(0x1000, 0x7000, writable=False)
    translate(mem, space.cr3, 0x1000, False, True)
    space.set_page(0x1000, 0x7000, writable=True)
    translate(mem, space.cr3, 0x1000, True, True)
    space.set_page(0x1000, 0x7000, writable=True)
    assert space.mappings() == {0x1000: (0x7000, True)}
    table = mem.read_u32(space.cr3) & ~0xFFF
    assert mem.read_u32(table + 4) & (PTE_A | PTE_D) == PTE_A | PTE_D
    space.set_page(0x1000, 0x8000, writable=True)     # another frame: fresh entry
    assert mem.read_u32(table + 4) == 0x8000 | PTE_P | PTE_U | PTE_W


# -- generation words -------------------------------------------------------------------------

def test_removals_and_downgrades_bump_the_generation_before_returning(space):
    g = space.generation
    space.set_page(0x1000, 0x7000, True)              # a new mapping: no bump
    space.set_page(0x1000, 0x7000, True)
    assert space.generation == g
    space.protect_page(0x1000)
    assert space.generation == g + 1
    space.set_page(0x1000, 0x7000, True)              # gaining W: no bump
    assert space.generation == g + 1
    space.set_page(0x1000, 0x7000, False)             # losing W via set_page: bump
    assert space.generation == g + 2
    space.set_page(0x1000, 0x8000, False)             # another frame: bump
    assert space.generation == g + 3
    space.clear_page(0x1000)
    assert space.generation == g + 4
    space.clear_page(0x1000)                          # nothing to remove: no bump
    space.protect_page(0x1000)
    assert space.generation == g + 4


def test_shoot_false_leaves_the_bump_to_the_caller(space):
    space.set_page(0x1000, 0x7000, True)
    space.set_page(0x2000, 0x8000, True)
    g = space.generation
    space.protect_page(0x1000, shoot=False)
    space.clear_page(0x2000, shoot=False)
    assert space.generation == g
    space.shootdown()
    assert space.generation == g + 1


def test_each_space_has_its_own_generation_word(mem, pool):
    a, b = AddressSpace(mem, pool, 1), AddressSpace(mem, pool, 2)
    assert a.gen_addr != b.gen_addr and pool.contains(a.gen_addr)
    ga, gb = a.generation, b.generation
    a.shootdown()
    assert (a.generation, b.generation) == (ga + 1, gb)


# -- limits and lifetime ---------------------------------------------------------------------

def test_no_memory_for_a_page_table_changes_nothing(mem):
    pool = FramePool(mem, 0x300000, 0x303000)         # generation frame, directory, 1 table
    space = AddressSpace(mem, pool, 1)
    space.set_page(0x1000, 0x7000, True)
    with pytest.raises(KernelError) as e:
        space.set_page(0x400000, 0x8000, True)
    assert e.value.fault is Fault.NO_MEMORY
    assert space.mappings() == {0x1000: (0x7000, True)} and space.table_count == 1
    assert mem.read_u32(space.cr3 + 4) == 0


def test_kernel_frames_and_bad_frames_are_refused(space):
    with pytest.raises(KernelError) as e:
        space.set_page(0x1000, POOL[0] + 0x1000, True)
    assert e.value.fault is Fault.BAD_ARGUMENT
    with pytest.raises(ValueError):
        space.set_page(0x1000, 0x7001, True)
    with pytest.raises(ValueError):
        space.set_page(0x1000, 4 << 20, True)         # beyond physical memory
    with pytest.raises(ValueError):
        space.set_page(1 << 32, 0x7000, True)


def test_destroy_frees_every_frame_and_unhooks_the_directory(mem, pool):
    space = AddressSpace(mem, pool, 1)
    base = pool.used - 1                              # the generation frame stays
    for i in range(5):
        space.set_page(i << 22, 0x7000 + (i << 12), True)
    g = space.generation
    cr3 = space.cr3
    space.destroy()
    space.destroy()                                   # idempotent
    assert pool.used == base and space.destroyed
    assert mem.read(cr3, 4096) == bytes(4096)
    assert pool.generations.read(space.gen_addr) == g + 1


def test_the_io_bitmap_starts_empty(space):
    assert isinstance(space.io, IOPermissionBitmap)
    assert not space.io.allowed(0x3F8)
