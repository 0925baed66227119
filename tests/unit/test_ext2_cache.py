"""servers.ext2 write-back: the bounded buffer cache, the order of write-back, the
clean/not-clean state, what e2fsck finds after a power cut, and htree directories."""
import errno
import os
import subprocess

import pytest

from ext2_rig import assert_clean, cat, dstat, dumpe2fs, ls, mount, new_image
from servers.ext2 import Ext2, FileDevice, FsError, MemoryDevice, ROOT_INO
from servers.ext2.host import e2fsck, is_clean, tool


class Recorder:
    """A device that logs the block number of every write."""

    def __init__(self, dev, block_size):
        self.dev, self.spb, self.log = dev, block_size // 512, []
        self.sectors = dev.sectors

    def read(self, lba, count):
        return self.dev.read(lba, count)

    def write(self, lba, data):
        self.log.append(lba // self.spb)
        self.dev.write(lba, data)

    def flush(self):
        self.dev.flush()


def test_mount_state_and_mount_count(tmp_path):
    img = new_image(tmp_path)
    assert dumpe2fs(img)["Filesystem state"] == "clean"
    fs = mount(img)
    fs.create(ROOT_INO, "f")
    fs.sync()
    info = dumpe2fs(img)
    assert info["Filesystem state"] == "not clean" and info["Mount count"] == "1"
    ok, out = is_clean(img)                   # synced: consistent, only "not clean"
    assert ok, out
    fs.close()
    info = dumpe2fs(img)
    assert info["Filesystem state"] == "clean" and info["Mount count"] == "1"
    assert_clean(img)


def test_small_cache_stays_bounded_and_correct(tmp_path):
    img = new_image(tmp_path, 16 << 20)
    data = os.urandom(3 << 20)
    with mount(img, cache_blocks=16) as fs:
        cache = fs.vol.cache
        d = fs.mkdir(ROOT_INO, "d")
        f = fs.create(d, "f")
        for off in range(0, len(data), 70_000):
            fs.write(f, off, data[off:off + 70_000])
            assert len(cache.blocks) <= 16
        assert fs.read(f, 0, len(data)) == data
        assert cache.writebacks > 10 and len(cache.blocks) <= 16
    assert_clean(img)
    assert cat(img, "/d/f") == data


def test_write_back_order(tmp_path):
    img = new_image(tmp_path)
    with FileDevice(img) as raw:
        dev = Recorder(raw, 1024)
        fs = Ext2(dev)
        vol = fs.vol
        f = fs.create(ROOT_INO, "f")
        fs.write(f, 0, os.urandom(20_000))
        fs.mkdir(ROOT_INO, "d")
        dev.log.clear()
        fs.sync()
        gd = vol.groups[0]

        def kind(b):
            if b <= vol.gdt_block + vol.gdt_blocks - 1:
                return 5                                       # superblock, descriptors
            if gd.inode_table <= b < gd.inode_table + 256:
                return 4
            if b in (gd.block_bitmap, gd.inode_bitmap):
                return 3
            return 0                                           # data, indirect, dirs
        kinds = [kind(b) for b in dev.log]
        assert kinds == sorted(kinds) and {0, 3, 4, 5} <= set(kinds)
        fs.close()
    assert_clean(img)


def test_power_cut_mid_sync_is_repaired_by_e2fsck(tmp_path):
    base = new_image(tmp_path)
    image = base.read_bytes()
    verdicts = []
    for cut in (0, 1, 3, 8, 20, 40):
        dev = MemoryDevice(image)
        fs = Ext2(dev)
        d = fs.mkdir(ROOT_INO, "d")
        for i in range(5):
            fs.write(fs.create(d, f"f{i}"), 0, os.urandom(30_000))
        fs.rename(d, "f0", ROOT_INO, "moved")
        fs.unlink(d, "f1")
        dev.fail_after = dev.writes + cut
        with pytest.raises(OSError):
            fs.sync()
        crashed = tmp_path / f"cut{cut}.img"
        crashed.write_bytes(dev.data)
        assert dumpe2fs(crashed)["Filesystem state"] == "not clean"
        rc, out = e2fsck(crashed, fix=True)
        assert rc in (0, 1), out                               # repaired (or nothing to do)
        assert_clean(crashed)
        verdicts.append(rc)
    assert 1 in verdicts                                       # some cut did need repair


def test_htree_directory_reads_and_loses_its_index_on_write(tmp_path):
    src = tmp_path / "src"
    (src / "big").mkdir(parents=True)
    for i in range(300):
        (src / "big" / f"entry-number-{i:03d}").write_bytes(b"%d" % i)
    img = tmp_path / "htree.img"
    subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext2", "-b", "1024", "-O",
                    "none,filetype,sparse_super,dir_index", "-d", str(src), str(img), "4M"],
                   check=True, capture_output=True)
    subprocess.run([tool("e2fsck"), "-fyD", str(img)], capture_output=True)   # index it
    assert "Flags: 0x1000" in dstat(img, "/big")["text"]
    assert_clean(img)
    with mount(img) as fs:
        big = fs.resolve("/big")
        names = {n for n, _, _ in fs.readdir(big)}
        assert names == {f"entry-number-{i:03d}" for i in range(300)} | {".", ".."}
        assert fs.read(fs.lookup(big, "entry-number-123"), 0, 9) == b"123"
        fs.create(big, "newcomer")
        fs.unlink(big, "entry-number-007")
    assert "Flags: 0x0" in dstat(img, "/big")["text"]
    assert_clean(img)
    assert "newcomer" in ls(img, "/big") and "entry-number-007" not in ls(img, "/big")


def test_close_is_idempotent_and_tiny_devices_are_refused(tmp_path):
    img = new_image(tmp_path)
    fs = mount(img)
    fs.close()
    fs.close()                                                 # idempotent
    with pytest.raises(FsError) as e:
        Ext2(MemoryDevice(512))
    assert e.value.errno == errno.EINVAL
