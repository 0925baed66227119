"""The fs server as a pager (servers/fscache.py, FsServer's MAP, MAPINFO and UTIMES)
without a kernel, through the fs protocol's dispatch: a fake runtime stands for the
memory, root's MEMORY and fpage_unmap; ext2 is real."""
import errno

import pytest

from ext2_rig import mount, new_image
from microkernel.abi import Msg, ThreadId
from microkernel.abi.message import ResultFlag
from protocols import Dispatch
from protocols.fs import FS, Op
from servers.fs import FsServer
from servers.fscache import PAGE, POOL, PageCache

CLIENT = ThreadId.make(64, 0, 1, site=1, chief=4)


class FakeRt:
    """Memory by page, root that always gives (MEMORY), and a record of fpage_unmap."""

    def __init__(self):
        self.mem = self
        self.pages: dict[int, bytearray] = {}
        self.unmapped: list[int] = []
        self.asked: list[int] = []
        self.sent: list[tuple] = []

    def read(self, addr, n):
        return bytes(self.pages[addr & ~0xFFF][addr & 0xFFF:][:n])

    def write(self, addr, data):
        self.pages[addr & ~0xFFF] = bytearray(data)

    def call(self, dest, msg, window=None, timeout=None, limits=None):
        self.asked.append(window.log2size)
        return Msg(words=(0, 0x10_0000), flags=ResultFlag.FPAGE_RECEIVED)

    def send(self, dest, msg, timeout=None):
        self.sent.append((dest, msg.words))

    def fpage_unmap(self, fpage, flush=True, own=False):
        assert flush and not own
        self.unmapped.append(fpage.base)

    def myself(self):
        return ThreadId.make(16, 0, 1, site=1, chief=4, nest=1)

    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self):
        return ThreadId.make(4, 0, 1, site=1)


@pytest.fixture
def rig(tmp_path):
    fs = mount(new_image(tmp_path))
    rt = FakeRt()
    cache = PageCache(rt, fs, capacity=4)
    yield fs, rt, cache, Dispatch(FS, FsServer(rt, fs, cache), rt)
    fs.close()


def ask(server, *words, strings=()):
    return server(Msg(words=words, strings=strings, sender=CLIENT))


def test_map_answers_a_read_only_item_of_the_cached_page(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"x" * 5000)
    r = ask(server, Op.MAP, ino, 1)
    assert r.words == (0, 5000, 0)
    (item,) = r.items
    assert not item.fpage.writable and item.fpage.log2size == 12
    assert rt.read(item.fpage.base, PAGE) == b"x" * 904 + bytes(PAGE - 904)
    again = ask(server, Op.MAP, ino, 1).items[0]
    assert again.fpage.base == item.fpage.base                # the same frame
    assert rt.asked == [12]                   # a page from root (a chunk is > 4 pages)
    assert item.fpage.base == POOL
    assert ask(server, Op.MAPINFO).words == (0, 2, 1, 1, 4, 0)
    assert rt.read(ask(server, Op.MAP, ino, 7).items[0].fpage.base, PAGE) == bytes(PAGE)


def test_writes_and_truncates_update_mapped_pages_in_place(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"a" * 100)
    p0 = ask(server, Op.MAP, ino, 0).items[0].fpage.base
    p1 = ask(server, Op.MAP, ino, 1).items[0].fpage.base
    assert ask(server, Op.WRITE, ino, PAGE - 2, 0, strings=(b"wxyz",)).words == (0, 4)
    assert rt.read(p0, 2) == b"aa" and rt.read(p0 + PAGE - 2, 2) == b"wx"
    assert rt.read(p1, 3) == b"yz\0"
    ask(server, Op.TRUNCATE, ino, 50, 0)
    assert rt.read(p0, 52) == b"a" * 50 + b"\0\0" and rt.read(p1, 2) == b"\0\0"
    assert rt.unmapped == []                                  # nothing was flushed


def test_the_cache_is_bounded_and_flushes_what_it_evicts(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, bytes(range(256)) * 64)
    first = ask(server, Op.MAP, ino, 0).items[0].fpage.base
    for page in range(1, 6):
        ask(server, Op.MAP, ino, page)
    assert len(cache.pages) == 4 and first in rt.unmapped
    assert ask(server, Op.MAPINFO).words[1:] == (6, 6, 4, 4, 2)


def test_a_removed_file_loses_its_pages_and_directories_are_refused(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    fs.write(ino, 0, b"data")
    page = ask(server, Op.MAP, ino, 0).items[0].fpage.base
    ask(server, Op.UNLINK, 2, strings=(b"f",))
    assert rt.unmapped == [page] and not cache.pages
    assert ask(server, Op.MAP, ino, 0).words == (errno.ENOENT,)
    assert ask(server, Op.MAP, 2, 0).words == (errno.EISDIR,)
    assert ask(server, Op.MAP, ino, 1 << 20).words == (errno.EINVAL,)


def test_utimes(rig):
    fs, rt, cache, server = rig
    ino = fs.create(2, "f")
    assert ask(server, Op.UTIMES, ino, 0, 1000, 2000).words == (0,)
    st = fs.stat(ino)
    assert (st.atime, st.mtime) == (1000, 2000)
    ask(server, Op.UTIMES, ino, 1, 0, 0)
    assert fs.stat(ino).mtime > 2000
    assert ask(server, Op.UTIMES, 999, 1, 0, 0).words == (errno.ENOENT,)


def test_requests_are_checked_and_only_root_unmounts(rig):
    fs, rt, cache, server = rig
    assert ask(server, Op.UMOUNT).words == (errno.EPERM,)
    assert ask(server, 0x46FF).words == (errno.ENOSYS,)
    assert ask(server, Op.STAT).words == (errno.EINVAL,)                 # short
    assert ask(server, Op.STAT, 2, strings=(b"x",)).words == (errno.EINVAL,)
    root = ThreadId.make(4, 0, 1, site=1)
    with pytest.raises(SystemExit):
        server(Msg(words=(Op.UMOUNT,), sender=root))
    assert rt.sent == [(root, (0,))] and fs.closed


def test_frames_come_from_root_a_chunk_at_a_time(tmp_path):
    fs = mount(new_image(tmp_path))
    rt = FakeRt()
    cache = PageCache(rt, fs)
    ino = fs.create(2, "f")
    for page in range(3):
        cache.map(ino, page)
    assert rt.asked == [20] and len(cache.free) == 256 - 3
    fs.close()
