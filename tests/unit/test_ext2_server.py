"""The fs server (servers/fs.py) on bad and big disks, through the fs protocol's dispatch
without a kernel: READDIR pages a 50,000-entry directory from cookies, each page costing
only its own blocks, and a cookie survives changes to the directory; a disk mounted
read-only answers every change EROFS and corrupt metadata EIO; a disk that cannot be
mounted stops the server with the reason in its log; SYMLINK and READLINK."""
import errno
import logging
import stat as S
import struct
import time

import pytest

from ext2_rig import assert_clean, new_image
from microkernel.abi import Msg, ThreadId
from protocols import Dispatch
from protocols.fs import FS, MAX_ENTRIES, Op
from servers.ext2 import ROOT_INO, Ext2, FileDevice, MemoryDevice
from servers.ext2.bmap import map_alloc, map_block
from servers.ext2.cache import DIR
from servers.ext2.dir import rec_size
from servers.fs import EXIT_UNMOUNTABLE, FsServer, mount

CLIENT = ThreadId.make(64, 0, 1, site=1, chief=4)


class FakeRt:
    def myself(self):
        return ThreadId.make(16, 0, 1, site=1, chief=4, nest=1)

    def alive(self, tid):
        return False

    def chief(self):
        return ThreadId.make(4, 0, 1, site=1)


def serve(fs):
    return Dispatch(FS, FsServer(FakeRt(), fs), FakeRt())


def ask(server, *words, strings=()):
    return server(Msg(words=words, strings=strings, sender=CLIENT))


def listing(server, dir_ino):
    """Every entry name by READDIR pages: (names in order, pages asked)."""
    names, cookie, pages = [], 0, 0
    while True:
        r = ask(server, Op.READDIR, dir_ino, cookie)
        assert r.words[0] == 0, r.words
        pages += 1
        names += [s.split(b"\0")[0] for s in r.strings]
        cookie = r.words[1]
        if not cookie:
            return names, pages


def big_directory(path, n: int) -> None:
    """An image whose /big holds `n` empty files, its blocks packed directly (creating
    them one by one costs a scan of the directory each)."""
    new_image(path.parent, 64 << 20, name=path.name, inodes=n + 64)
    with Ext2.open(path) as fs:
        vol, bs = fs.vol, fs.block_size
        d = fs.mkdir(ROOT_INO, "big")
        dnode, lblk, buf, off, last = vol.get_inode(d), 1, bytearray(bs), 0, 0

        def put_block():
            struct.pack_into("<H", buf, last + 4, bs - last)       # reaches the end
            pblk, _ = map_alloc(vol, dnode, lblk, map_block(vol, dnode, lblk - 1) + 1)
            vol.cache.put(pblk, bytearray(buf), DIR)

        for k in range(n):
            inode = fs._new_inode(d, S.S_IFREG | 0o644, 0, 0)
            inode.links = 1
            vol.put_inode(inode)
            name = b"file%06d" % k
            if off + rec_size(len(name)) > bs:
                put_block()
                lblk, buf, off = lblk + 1, bytearray(bs), 0
            struct.pack_into("<IHBB", buf, off, inode.ino, rec_size(len(name)), len(name), 1)
            buf[off + 8:off + 8 + len(name)] = name
            last, off = off, off + rec_size(len(name))
        put_block()
        dnode.size = (lblk + 1) * bs
        vol.put_inode(dnode)


def test_readdir_lists_50000_entries_in_seconds_a_page_at_a_time(tmp_path):
    img = tmp_path / "big.img"
    big_directory(img, 50_000)
    assert_clean(img)
    with Ext2.open(img) as fs:
        assert not fs.readonly
        server, cache = serve(fs), fs.vol.cache
        big = fs.resolve("/big")
        gets = cache.hits + cache.reads
        t = time.monotonic()
        names, pages = listing(server, big)
        took = time.monotonic() - t
        gets = cache.hits + cache.reads - gets
    assert names[:2] == [b".", b".."] and pages == -(-50_002 // MAX_ENTRIES)
    assert names[2:] == [b"file%06d" % k for k in range(50_000)]
    assert gets < 8 * pages, gets                # the old READDIR read it all each page
    print(f"50,000 entries in {pages} READDIRs: {took:.2f} s")
    assert took < 30, took


def test_a_cookie_survives_changes_between_pages(tmp_path):
    img = new_image(tmp_path)
    with Ext2.open(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        for k in range(200):
            fs.create(d, f"n{k:03d}")
        server = serve(fs)
        seen, cookie = [], 0
        for step in range(100):
            r = ask(server, Op.READDIR, d, cookie)
            seen += [s.split(b"\0")[0].decode() for s in r.strings]
            cookie = r.words[1]
            if not cookie:
                break
            if step == 1:                        # the next page starts at n058
                assert seen[-1] == "n057"
                for k in (5, 6, 58, 150, 151):   # gone: listed, the cookie's, not yet
                    fs.unlink(d, f"n{k:03d}")
                for k in range(3):
                    fs.create(d, f"new{k}")
        kept = {f"n{k:03d}" for k in range(200) if k not in (5, 6, 58, 150, 151)}
        assert len(seen) == len(set(seen))       # nothing twice
        assert kept <= set(seen) and not {"n058", "n150", "n151"} & set(seen)


def test_open_resolves_or_creates_in_one_request(tmp_path):
    """OPEN: an existing path is resolved (its node, created 0); a missing last name
    is made an empty regular file in the directory the walk reached (created 1, with
    the mode asked); excl refuses an existing path; a missing directory, or a name
    under a file, is refused and makes nothing; e2fsck finds the result clean."""
    img = new_image(tmp_path)
    with Ext2.open(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        fs.create(d, "old")
        server = serve(fs)
        made = ask(server, Op.OPEN, 0, 0o640, 0, 0, 0, strings=(b"/d/new",))
        assert made.words[0] == 0 and made.words[-1] == 1
        ino = made.words[1]
        assert ino == fs.lookup(d, "new") and S.S_IMODE(fs.stat(ino).mode) == 0o640
        again = ask(server, Op.OPEN, d, 0o600, 0, 0, 0, strings=(b"new",))
        assert again.words[:2] == (0, ino) and again.words[-1] == 0
        old = ask(server, Op.OPEN, 0, 0o644, 0, 0, 1, strings=(b"/d/old",))
        assert old.words[0] == errno.EEXIST
        for path in (b"/nope/x", b"/d/old/x", b"/d/sub/"):
            assert ask(server, Op.OPEN, 0, 0o644, 0, 0, 0, strings=(path,)).words[0] in (
                errno.ENOENT, errno.ENOTDIR), path
        assert sorted(n for n, _, _ in fs.readdir(d) if n not in (".", "..")) == \
            ["new", "old"]
    assert_clean(img)


def corrupt_file(tmp_path):
    """An image whose /f has its second block pointer far past the device."""
    img = new_image(tmp_path)
    with Ext2.open(img) as fs:
        ino = fs.create(ROOT_INO, "f")
        fs.write(ino, 0, b"x" * 3000)
        blk, off = fs.vol._inode_place(ino)
        where = blk * fs.block_size + off + 40 + 4
    with open(img, "r+b") as f:
        f.seek(where)
        f.write(struct.pack("<I", 0xFFFF0000))
    return img, ino


def test_a_disk_mounted_read_only_answers_erofs_and_eio(tmp_path, caplog):
    img, ino = corrupt_file(tmp_path)
    before = img.read_bytes()
    with FileDevice(img) as dev:
        with caplog.at_level(logging.INFO, logger="mk"):
            fs = mount(dev)
        assert fs.readonly and "outside the file system" in fs.ro_reason
        assert "mounted read-only" in caplog.text and "outside" in caplog.text
        server = serve(fs)
        assert ask(server, Op.READ, ino, 0, 0, 1024).strings == (b"x" * 1024,)
        assert ask(server, Op.READ, ino, 0, 0, 3000).words == (errno.EIO,)
        assert ask(server, Op.WRITE, ino, 0, 0, strings=(b"y",)).words == (errno.EROFS,)
        assert ask(server, Op.CREATE, ROOT_INO, 0o644, 0, 0,
                   strings=(b"g",)).words == (errno.EROFS,)
        assert ask(server, Op.MKDIR, ROOT_INO, 0o755, 0, 0,
                   strings=(b"e",)).words == (errno.EROFS,)
        assert ask(server, Op.UNLINK, ROOT_INO, strings=(b"f",)).words == (errno.EROFS,)
        assert ask(server, Op.TRUNCATE, ino, 0, 0).words == (errno.EROFS,)
        assert ask(server, Op.SYNC).words == (0,)
        fs.close()
    assert img.read_bytes() == before


def test_corruption_met_after_mounting_is_eio_then_erofs(tmp_path):
    img = new_image(tmp_path)
    with Ext2.open(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        fs.create(d, "f")
        blk = map_block(fs.vol, fs.vol.get_inode(d), 0)
    dev = MemoryDevice(img.read_bytes())
    fs = Ext2(dev)
    assert not fs.readonly
    fs.vol.cache.forget(blk)                     # as if evicted; then the disk goes bad
    dev.data[blk * fs.block_size + 4:blk * fs.block_size + 6] = b"\0\0"   # rec_len 0
    server = serve(fs)
    assert ask(server, Op.READDIR, d, 0).words == (errno.EIO,)
    assert "directory" in fs.errors and fs.readonly
    assert ask(server, Op.CREATE, ROOT_INO, 0o644, 0, 0,
               strings=(b"g",)).words == (errno.EROFS,)
    fs.close()
    again = Ext2(MemoryDevice(bytes(dev.data)))
    assert again.readonly and "errors" in again.ro_reason


def test_a_disk_that_cannot_be_mounted_stops_the_server_saying_why(caplog):
    with caplog.at_level(logging.ERROR, logger="mk"):
        with pytest.raises(SystemExit) as e:
            mount(MemoryDevice(1 << 20))
    assert e.value.code == EXIT_UNMOUNTABLE
    assert "cannot mount the disk: not ext2: magic 0x0000" in caplog.text


def test_symlink_and_readlink_over_the_protocol(tmp_path):
    """SYMLINK makes a link (fast and slow targets) e2fsck finds clean; READLINK reads
    it back, EINVAL for a file; a malformed SYMLINK changes nothing."""
    img = new_image(tmp_path)
    with FileDevice(img) as dev:
        fs = mount(dev)
        server = serve(fs)
        short, long_ = b"/etc/motd", b"/" + b"d/" * 100 + b"f"
        r = ask(server, Op.SYMLINK, ROOT_INO, 0, 0, strings=(b"s", short))
        assert r.words[0] == 0, r.words
        ino = r.words[1]
        assert S.S_ISLNK(fs.stat(ino).mode)
        assert ask(server, Op.READLINK, ino).strings == (short,)
        ino2 = ask(server, Op.SYMLINK, ROOT_INO, 0, 0, strings=(b"l", long_)).words[1]
        assert ask(server, Op.READLINK, ino2).strings == (long_,)
        assert ask(server, Op.READLINK, ROOT_INO).words == (errno.EINVAL,)
        before = sorted(n for n, _, _ in fs.readdir(ROOT_INO))
        assert ask(server, Op.SYMLINK, ROOT_INO, 0, 0,
                   strings=(b"s", b"x")).words == (errno.EEXIST,)
        assert ask(server, Op.SYMLINK, ROOT_INO, 0, 0, strings=(b"e", b"")).words[0] != 0
        assert ask(server, Op.SYMLINK, ROOT_INO, 0, 0, strings=(b"only",)).words[0] != 0
        assert sorted(n for n, _, _ in fs.readdir(ROOT_INO)) == before
        fs.close()
    assert_clean(img)
