"""kernel.vm: I/O fpages (V2 §4, §8.1): port ranges map as the intersection of the
sent fpage and the receive window, are flushed and granted like pages, never include
the kernel's own ports (the PICs'), and go back to sigma0 when the last holder lets
go. Kept apart from test_vm.py (memory pages) so that each file holds one concern.

Every test ends by checking the database's invariants and the page tables against it
(vm_rig.agree).
"""
from microkernel.abi.fpage import Fpage
from vm_rig import PG, abc, agree, mem, s0, vm, win  # noqa: F401 (fixtures)


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
