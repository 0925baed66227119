"""A test rig for kernel.vm: real physical memory, a frame pool, sigma0 and three
spaces as pytest fixtures, and `agree`, which checks the mapping database's invariants
and that each space's page tables, walked by `hw.mmu.translate`, say exactly what the
database says. Shared by test_vm*.py, which import the fixtures they use by name."""
import pytest

from hw.memory import PhysicalMemory
from hw.mmu import PFEC_P, PFEC_U, PFEC_W, PageFault, translate
from microkernel.abi.fpage import Fpage
from microkernel.kernel.kmem import FramePool
from microkernel.kernel.vm import VM

__all__ = ["MEM", "POOL", "PG", "KERNEL_PORTS", "mem", "vm", "s0", "abc", "agree", "pf",
           "win", "give"]

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
