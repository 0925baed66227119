"""kernel.vm: where a transfer lands and what it carries (V2 §4, §5): a small fpage in
a big window at the hot spot, a big one cut to the window, nothing above user space,
rights never amplified; and mapping over mappings already there (flushed first, rights
added, an ancestor or a page flushed on the way skipped). Kept apart from test_vm.py
(map/grant/unmap through spaces) so that each file holds one concern.

Every test ends by checking the database's invariants and the page tables against it
(vm_rig.agree).
"""
import pytest

from microkernel.abi.fpage import Fpage
from vm_rig import PG, abc, agree, give, mem, s0, vm, win  # noqa: F401 (fixtures)


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
