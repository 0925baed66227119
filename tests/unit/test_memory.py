"""hw.memory: the shared physical-memory segment, its bounds, size rules and memory map."""
import gc
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from hw.device import BadAccess
from hw.memory import (EXTENDED_BASE, HOLE_BASE, MAX_SIZE, MIN_SIZE, SHM_DIR,
                       PhysicalMemory)


@pytest.fixture
def mem():
    m = PhysicalMemory(1 << 20)
    yield m
    m.close()
    m.unlink()


def run_child(code: str) -> str:
    """Run `code` in a fresh interpreter (a separate host process); return its stdout."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


# -- creation and naming -----------------------------------------------------------------

def test_default_segment_is_16_mib_zeroed_and_private_to_the_user():
    with PhysicalMemory() as m:
        path = os.path.join(SHM_DIR, m.name)
        assert m.size == 16 << 20 and os.path.getsize(path) == m.size
        assert m.name.startswith(f"mk-{os.getpid()}-")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert m.read(0, 64) == bytes(64) and m.read(m.size - 64, 64) == bytes(64)
    assert not os.path.exists(path)


def test_generated_names_are_unique():
    with PhysicalMemory(MIN_SIZE) as a, PhysicalMemory(MIN_SIZE) as b:
        assert a.name != b.name


def test_explicit_name_is_exclusive(mem):
    with pytest.raises(FileExistsError):
        PhysicalMemory(MIN_SIZE, name=mem.name)


@pytest.mark.parametrize("name", ["", "a/b", "..", "has space", "x" * 300])
def test_bad_names_are_refused(name):
    with pytest.raises(ValueError, match="name"):
        PhysicalMemory(MIN_SIZE, name=name)


@pytest.mark.parametrize("size", [0, 4096, MIN_SIZE - 4096, MIN_SIZE + 1, MIN_SIZE + 2048,
                                  MAX_SIZE + 4096, -MIN_SIZE, 1.5, "16M"])
def test_bad_sizes_are_refused(size):
    with pytest.raises(ValueError, match="size"):
        PhysicalMemory(size)


@pytest.mark.parametrize("size", [MIN_SIZE, MIN_SIZE + 4096, MAX_SIZE])
def test_sizes_at_the_limits_are_accepted(size):
    with PhysicalMemory(size) as m:
        assert m.size == size and len(m.view) == size


# -- access ------------------------------------------------------------------------------

def test_read_write_roundtrip(mem):
    mem.write(0x1234, b"hello")
    assert mem.read(0x1234, 5) == b"hello"
    mem.write(0x2000, bytearray(b"\x01\x02"))
    mem.write(0x2002, memoryview(b"\x03\x04"))
    assert mem.read(0x2000, 4) == b"\x01\x02\x03\x04"
    assert mem.read(0x2000, 0) == b""


def test_u32_is_little_endian_at_any_alignment(mem):
    mem.write_u32(0x100, 0x11223344)
    assert mem.read(0x100, 4) == b"\x44\x33\x22\x11"
    mem.write_u32(0x203, 0xFFFFFFFF)
    assert mem.read_u32(0x203) == 0xFFFFFFFF
    assert mem.read_u32(0x100) == 0x11223344
    mem.write_u32(mem.size - 4, 0xCAFEBABE)
    assert mem.read_u32(mem.size - 4) == 0xCAFEBABE


def test_u32_value_must_fit(mem):
    for bad in (-1, 1 << 32):
        with pytest.raises(BadAccess):
            mem.write_u32(0, bad)
    assert mem.read_u32(0) == 0


def test_zero_clears_exactly_the_range(mem):
    mem.write(0, b"\xAA" * 0x30000)
    mem.zero(0x10, 0x20000)
    assert mem.read(0, 0x10) == b"\xAA" * 0x10
    assert mem.read(0x10, 0x20000) == bytes(0x20000)
    assert mem.read(0x20010, 0x10) == b"\xAA" * 0x10


def test_view_is_the_segment_itself(mem):
    mem.view[0x500:0x503] = b"abc"
    assert mem.read(0x500, 3) == b"abc"
    mem.write(0x600, b"xyz")
    assert bytes(mem.view[0x600:0x603]) == b"xyz"


@pytest.mark.parametrize("paddr,n", [(-1, 1), (-4, 4), (1 << 20, 1), ((1 << 20) - 3, 4),
                                     ((1 << 20) - 1, 2), (0, (1 << 20) + 1), (5, -1)])
def test_out_of_range_accesses_raise_and_touch_nothing(mem, paddr, n):
    mem.write(mem.size - 8, b"\x55" * 8)
    before = mem.read(mem.size - 8, 8), mem.read(0, 8)
    with pytest.raises(BadAccess):
        mem.read(paddr, n)
    if n >= 0:
        with pytest.raises(BadAccess):
            mem.write(paddr, b"\xEE" * n)
    with pytest.raises(BadAccess):
        mem.zero(paddr, n)
    if n == 4:
        with pytest.raises(BadAccess):
            mem.read_u32(paddr)
        with pytest.raises(BadAccess):
            mem.write_u32(paddr, 0xEEEEEEEE)
    assert (mem.read(mem.size - 8, 8), mem.read(0, 8)) == before


@pytest.mark.parametrize("paddr", [-1, -4, (1 << 20) - 3, 1 << 20, 1 << 40])
def test_u32_out_of_range(mem, paddr):
    with pytest.raises(BadAccess):
        mem.read_u32(paddr)
    with pytest.raises(BadAccess):
        mem.write_u32(paddr, 1)


# -- the memory map ----------------------------------------------------------------------

def test_memory_map_of_a_16_mib_machine():
    with PhysicalMemory(16 << 20) as m:
        assert m.regions() == [
            {"start": 0, "end": 0xA0000, "kind": "conventional"},
            {"start": 0xA0000, "end": 0x100000, "kind": "hole"},
            {"start": 0x100000, "end": 16 << 20, "kind": "extended"},
        ]
    assert (HOLE_BASE, EXTENDED_BASE) == (0xA0000, 0x100000)


def test_one_mib_machine_has_no_extended_memory(mem):
    assert [r["kind"] for r in mem.regions()] == ["conventional", "hole"]


def test_hole_is_backed_memory(mem):
    mem.write(0xB8000, b"H\x07i\x07")           # colour text buffer
    assert mem.read(0xB8000, 4) == b"H\x07i\x07"


# -- sharing with other processes --------------------------------------------------------

def test_second_process_sees_and_changes_the_same_bytes(mem):
    mem.write(0x9000, b"from parent")
    out = run_child(f"""
        from hw.memory import PhysicalMemory
        m = PhysicalMemory.attach({mem.name!r})
        print(m.size, m.read(0x9000, 11).decode())
        m.write_u32(0x9100, 0xDEADBEEF)
        m.view[0x9200:0x9205] = b"child"
        m.close()
    """)
    assert out.split() == [str(mem.size), "from", "parent"]
    assert mem.read_u32(0x9100) == 0xDEADBEEF
    assert bytes(mem.view[0x9200:0x9205]) == b"child"
    assert os.path.exists(os.path.join(SHM_DIR, mem.name)), "an attacher must not unlink"


def test_attacher_in_a_with_block_does_not_unlink(mem):
    run_child(f"""
        from hw.memory import PhysicalMemory
        with PhysicalMemory.attach({mem.name!r}) as m:
            m.write(0, b"x")
    """)
    with PhysicalMemory.attach(mem.name) as again:
        assert again.read(0, 1) == b"x" and not again.owner


def test_two_mappings_in_one_process_share_bytes(mem):
    other = PhysicalMemory.attach("/" + mem.name)
    try:
        other.write_u32(0x40, 7)
        assert mem.read_u32(0x40) == 7
    finally:
        other.close()


def test_forked_child_exiting_normally_does_not_unlink_its_parents_segment():
    out = run_child("""
        import os, sys
        from hw.memory import PhysicalMemory
        m = PhysicalMemory(1 << 20)
        pid = os.fork()
        if pid == 0:
            sys.exit(0)                  # runs atexit, hence the inherited finalizer
        os.waitpid(pid, 0)
        print(os.path.exists("/dev/shm/" + m.name), m.name)
    """)
    alive, name = out.split()
    assert alive == "True"
    assert not os.path.exists(os.path.join(SHM_DIR, name)), "the creator's exit unlinks"


# -- lifetime ----------------------------------------------------------------------------

def test_unlink_removes_the_name_but_not_existing_mappings(mem):
    other = PhysicalMemory.attach(mem.name)
    mem.unlink()
    mem.unlink()                                   # idempotent
    with pytest.raises(FileNotFoundError):
        PhysicalMemory.attach(mem.name)
    other.write(0, b"still")
    assert mem.read(0, 5) == b"still"
    other.close()


def test_attach_of_a_missing_segment_fails():
    with pytest.raises(FileNotFoundError):
        PhysicalMemory.attach("mk-no-such-segment")


def test_close_with_live_slices_does_not_fail(mem):
    piece = mem.view[0:16]
    mem.close()
    mem.close()
    assert mem.closed
    with pytest.raises(ValueError):
        mem.read(0, 1)
    piece.release()


def test_creator_object_collected_unlinks():
    m = PhysicalMemory(MIN_SIZE)
    path = os.path.join(SHM_DIR, m.name)
    m.close()
    del m
    gc.collect()
    assert not os.path.exists(path)
