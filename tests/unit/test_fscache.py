"""The fs server as a pager (servers/fscache.py, FsServer's MAP, MAPINFO and UTIMES)
without a kernel: a fake runtime stands for the memory, sigma0 and fpage_unmap; ext2
is real."""
import errno

import pytest

from ext2_rig import mount, new_image
from microkernel.abi import Msg
from microkernel.abi.message import ResultFlag
from servers import fsproto as P
from servers.fs import FsServer
from servers.fscache import PAGE, POOL, PageCache


class FakeRt:
    """Memory by page, sigma0 that always gives, and a record of fpage_unmap."""
    sigma0 = 2

    def __init__(self):
        self.mem = self
        self.pages: dict[int, bytearray] = {}
        self.unmapped: list[int] = []
        self.asked: list[int] = []

    def read(self, addr, n):
        return bytes(self.pages[addr & ~0xFFF][addr & 0xFFF:][:n])

    def write(self, addr, data):
        self.pages[addr & ~0xFFF] = bytearray(data)

    def call(self, dest, msg, window=None):
        self.asked.append(window.log2size)
        return Msg(flags=ResultFlag.FPAGE_RECEIVED)

    def fpage_unmap(self, fpage, flush=True, own=False):
        assert flush and not own
        self.unmapped.append(fpage.base)


@pytest.fixture
def rig(tmp_path):
    fs = mount(new_image(tmp_path))
    rt = FakeRt()
    cache = PageCache(rt, fs, capacity=4)
    yield fs, rt, cache, FsServer(fs, cache)
    fs.close()


def ask(server, *words, strings=()):
    return server.handle(Msg(words=words, strings=strings))


def test_map_answers_a_read_only_item_of_the_cached_page(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"x" * 5000)
    r = ask(server, P.MAP, ino, 1)
    assert r.words == (0, 5000, 0)
    (item,) = r.items
    assert not item.fpage.writable and item.fpage.log2size == 12
    assert rt.read(item.fpage.base, PAGE) == b"x" * 904 + bytes(PAGE - 904)
    again = ask(server, P.MAP, ino, 1).items[0]
    assert again.fpage.base == item.fpage.base                # the same frame
    assert rt.asked == [12]                   # a page from sigma0 (a chunk is > 4 pages)
    assert item.fpage.base == POOL
    assert ask(server, P.MAPINFO).words == (0, 2, 1, 1, 4, 0)
    assert rt.read(ask(server, P.MAP, ino, 7).items[0].fpage.base, PAGE) == bytes(PAGE)


def test_writes_and_truncates_update_mapped_pages_in_place(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"a" * 100)
    p0 = ask(server, P.MAP, ino, 0).items[0].fpage.base
    p1 = ask(server, P.MAP, ino, 1).items[0].fpage.base
    assert ask(server, P.WRITE, ino, PAGE - 2, 0, strings=(b"wxyz",)).words == (0, 4)
    assert rt.read(p0, 2) == b"aa" and rt.read(p0 + PAGE - 2, 2) == b"wx"
    assert rt.read(p1, 3) == b"yz\0"
    ask(server, P.TRUNCATE, ino, 50, 0)
    assert rt.read(p0, 52) == b"a" * 50 + b"\0\0" and rt.read(p1, 2) == b"\0\0"
    assert rt.unmapped == []                                  # nothing was flushed


def test_the_cache_is_bounded_and_flushes_what_it_evicts(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, bytes(range(256)) * 64)
    first = ask(server, P.MAP, ino, 0).items[0].fpage.base
    for page in range(1, 6):
        ask(server, P.MAP, ino, page)
    assert len(cache.pages) == 4 and first in rt.unmapped
    assert ask(server, P.MAPINFO).words[1:] == (6, 6, 4, 4, 2)


def test_a_removed_file_loses_its_pages_and_directories_are_refused(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"data")
    page = ask(server, P.MAP, ino, 0).items[0].fpage.base
    ask(server, P.UNLINK, 2, strings=(b"f",))
    assert rt.unmapped == [page] and not cache.pages
    assert ask(server, P.MAP, ino, 0).words == (errno.ENOENT,)
    assert ask(server, P.MAP, 2, 0).words == (errno.EISDIR,)
    assert ask(server, P.MAP, ino, 1 << 20).words == (errno.EINVAL,)


def test_utimes(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    assert ask(server, P.UTIMES, ino, 0, 1000, 2000).words == (0,)
    st = fs.stat(ino)
    assert (st.atime, st.mtime) == (1000, 2000)
    ask(server, P.UTIMES, ino, 1, 0, 0)
    assert fs.stat(ino).mtime > 2000
    assert ask(server, P.UTIMES, 999, 1, 0, 0).words == (errno.ENOENT,)


def test_frames_come_from_sigma0_a_chunk_at_a_time(tmp_path):
    fs = mount(new_image(tmp_path))
    rt = FakeRt()
    cache = PageCache(rt, fs)
    ino = fs.create(2, "f")
    for page in range(3):
        cache.map(ino, page)
    assert rt.asked == [20] and len(cache.free) == 256 - 3
    fs.close()
