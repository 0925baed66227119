"""servers.ext2 failures: each POSIX errno where it belongs, nothing changed by a failed
call (e2fsck stays clean), ENOSPC on a full image, images it must refuse, and damage the
mount-time check makes it mount read-only (or, if harmless to writing, read-write)."""
import errno
import os
import struct
import subprocess

import pytest

from ext2_rig import assert_clean, cat, mount, new_image
from servers.ext2 import Ext2, FileDevice, FsError, MemoryDevice, ROOT_INO
from servers.ext2.bmap import map_block
from servers.ext2.host import e2fsck, tool


def code(fn, *args):
    """The errno that fn(*args) raises as FsError."""
    with pytest.raises(FsError) as e:
        fn(*args)
    return e.value.errno


@pytest.fixture
def img(tmp_path):
    return new_image(tmp_path)


def test_name_errors(img):
    with mount(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        f = fs.create(d, "f")
        fs.create(d, "n" * 255)
        assert code(fs.lookup, d, "missing") == errno.ENOENT
        assert code(fs.resolve, "/d/missing/x") == errno.ENOENT
        assert code(fs.resolve, "/d/f/x") == errno.ENOTDIR
        assert code(fs.resolve, "/d/f/") == errno.ENOTDIR
        assert code(fs.resolve, "") == errno.ENOENT
        assert code(fs.create, d, "f") == errno.EEXIST
        assert code(fs.mkdir, d, "f") == errno.EEXIST
        assert code(fs.mkdir, d, "..") == errno.EEXIST
        assert code(fs.link, f, d, "f") == errno.EEXIST
        assert code(fs.symlink, d, "f", "elsewhere") == errno.EEXIST
        assert code(fs.create, d, "n" * 256) == errno.ENAMETOOLONG
        assert code(fs.lookup, d, "n" * 256) == errno.ENAMETOOLONG
        assert code(fs.create, d, "a/b") == errno.EINVAL
        assert code(fs.create, f, "x") == errno.ENOTDIR
        assert code(fs.readdir, f) == errno.ENOTDIR
        assert code(fs.unlink, ROOT_INO, "d") == errno.EISDIR
        assert code(fs.unlink, d, "missing") == errno.ENOENT
        assert code(fs.rmdir, d, "f") == errno.ENOTDIR
        assert code(fs.rmdir, ROOT_INO, "d") == errno.ENOTEMPTY
        assert code(fs.rmdir, d, ".") == errno.EINVAL
        assert code(fs.rmdir, d, "..") == errno.ENOTEMPTY
        assert code(fs.read, d, 0, 1) == errno.EISDIR
        assert code(fs.write, d, 0, b"x") == errno.EISDIR
        assert code(fs.truncate, d, 0) == errno.EISDIR
        assert code(fs.write, f, -1, b"x") == errno.EINVAL
        assert code(fs.link, d, ROOT_INO, "dirlink") == errno.EPERM
        assert code(fs.stat, 999) == errno.ENOENT                 # a free inode
        assert code(fs.stat, 10 ** 9) == errno.EINVAL
        assert code(fs.readlink, f) == errno.EINVAL
        assert code(fs.create, d, "dev", 0o20644) == errno.EINVAL
        assert code(fs.write, f, 1 << 45, b"x") == errno.EFBIG
        assert code(fs.create, d, "neg", 0o644, -5, 0) == errno.EINVAL
        assert code(fs.chown, f, 1 << 32, -1) == errno.EINVAL
    assert_clean(img)


def test_rename_errors(img):
    with mount(img) as fs:
        a = fs.mkdir(ROOT_INO, "a")
        b = fs.mkdir(a, "b")
        fs.create(b, "full")
        f = fs.create(ROOT_INO, "f")
        e = fs.mkdir(ROOT_INO, "e")
        assert code(fs.rename, ROOT_INO, "a", b, "a") == errno.EINVAL      # into itself
        assert code(fs.rename, ROOT_INO, "a", a, "x") == errno.EINVAL
        assert code(fs.rename, ROOT_INO, "missing", ROOT_INO, "x") == errno.ENOENT
        assert code(fs.rename, ROOT_INO, "f", ROOT_INO, "e") == errno.EISDIR
        assert code(fs.rename, ROOT_INO, "e", ROOT_INO, "f") == errno.ENOTDIR
        assert code(fs.rename, ROOT_INO, "e", a, "b") == errno.ENOTEMPTY
        assert code(fs.rename, ROOT_INO, ".", ROOT_INO, "x") == errno.EINVAL
        assert code(fs.rename, ROOT_INO, "f", f, "x") == errno.ENOTDIR
        assert fs.lookup(ROOT_INO, "f") == f and fs.lookup(ROOT_INO, "e") == e
    assert_clean(img)


def test_enospc_blocks_leaves_a_clean_image(tmp_path):
    img = new_image(tmp_path, 256 << 10)
    with mount(img) as fs:
        f = fs.create(ROOT_INO, "filler")
        chunk = os.urandom(64 << 10)
        written = 0
        while True:
            try:
                n = fs.write(f, written, chunk)
            except FsError as e:
                assert e.errno == errno.ENOSPC
                break
            written += n
            assert n == len(chunk) or fs.statfs().bfree == 0
        assert fs.statfs().bfree == 0
        assert fs.stat(f).size == written
        assert code(fs.write, f, written, b"more") == errno.ENOSPC
        assert code(fs.mkdir, ROOT_INO, "d") == errno.ENOSPC
        assert code(fs.symlink, ROOT_INO, "s", "t" * 200) == errno.ENOSPC
        g = fs.create(ROOT_INO, "g")                    # inodes are left, blocks are not
        assert code(fs.write, g, 0, b"x") == errno.ENOSPC
        assert code(fs.write, g, 5 << 20, b"x") == errno.ENOSPC   # would need indirects
        assert fs.stat(g).blocks == 0
        data = fs.read(f, 0, written)
    assert_clean(img)
    assert cat(img, "/filler") == data
    with mount(img) as fs:                              # and space comes back
        fs.unlink(ROOT_INO, "filler")
        fs.write(fs.resolve("/g"), 0, b"fits now")
    assert_clean(img)


def test_enospc_inodes_and_directory_blocks(tmp_path):
    img = new_image(tmp_path, 512 << 10, inodes=32)
    with mount(img) as fs:
        made = 0
        with pytest.raises(FsError) as e:
            while True:
                fs.create(ROOT_INO, f"f{made}")
                made += 1
        assert e.value.errno == errno.ENOSPC and fs.statfs().ffree == 0
        assert len(fs.readdir(ROOT_INO)) == made + 3
    assert_clean(img)


def test_refuses_journals_extents_and_garbage(tmp_path):
    for kind, needle in (("ext3", "journal"), ("ext4", "extent")):
        p = tmp_path / f"{kind}.img"
        subprocess.run([tool("mke2fs"), "-q", "-F", "-t", kind, str(p), "4M"], check=True,
                       capture_output=True)
        with FileDevice(p) as dev:
            with pytest.raises(FsError) as e:
                Ext2(dev)
        assert e.value.errno == errno.EINVAL and needle in str(e.value)
    with pytest.raises(FsError) as e:
        Ext2(MemoryDevice(1 << 20))
    assert e.value.errno == errno.EINVAL and "magic" in str(e.value)


def test_read_only_mount(img):
    before = img.read_bytes()
    with mount(img, readonly=True) as fs:
        assert code(fs.create, ROOT_INO, "x") == errno.EROFS
        assert code(fs.write, 11, 0, b"x") == errno.EROFS
        assert code(fs.mkdir, ROOT_INO, "x") == errno.EROFS
        assert [n for n, _, _ in fs.readdir(ROOT_INO)] == [".", "..", "lost+found"]
    assert img.read_bytes() == before


def test_read_only_compat_features_mount_read_only(tmp_path):
    p = tmp_path / "dirnlink.img"
    subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext2", "-O", "dir_nlink",
                    str(p), "4M"], check=True, capture_output=True)
    before = p.read_bytes()
    with mount(p) as fs:                            # asked read-write: read-only, and why
        assert fs.readonly and "dir_nlink" in fs.ro_reason
        assert fs.lookup(ROOT_INO, "lost+found") == 11
        with pytest.raises(FsError) as e:
            fs.create(ROOT_INO, "x")
        assert e.value.errno == errno.EROFS and "dir_nlink" in str(e.value)
    assert p.read_bytes() == before


# -- bad disks: refused, read-only with a reason, or EIO ------------------------------

def patched(img, *edits):
    """The image's bytes with (offset, bytes) edits, as a MemoryDevice."""
    data = bytearray(img.read_bytes())
    for off, raw in edits:
        data[off:off + len(raw)] = raw
    return MemoryDevice(data)


@pytest.mark.parametrize("field, off, value, says", [
    ("log_block_size", 24, 377579286, "block size 1024 << 377579286"),
    ("blocks_per_group", 32, 0, "blocks per group"),
    ("inodes_per_group", 40, 0, "inodes per group"),
    ("inodes_count", 0, 7, "inodes in"),
    ("blocks_count", 4, 1 << 30, "larger than"),
    ("first_data_block", 20, 0, "first data block"),
    ("inode_size", 88, 0, "inode size"),
])
def test_impossible_superblocks_are_refused_naming_the_field(img, field, off, value, says):
    fmt = "<H" if field == "inode_size" else "<I"
    with pytest.raises(FsError) as e:
        Ext2(patched(img, (1024 + off, struct.pack(fmt, value))))
    assert e.value.errno == errno.EINVAL and says in e.value.strerror


def _layout(img):
    """Where things are in a small tree: {name: byte offset}."""
    with mount(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        a, b = fs.create(d, "a"), fs.create(d, "b")
        fs.write(a, 0, b"a" * 3000)
        fs.write(b, 0, b"b" * 100)
        vol, bs = fs.vol, fs.block_size
        place = {k: blk * bs + off for k, (blk, off) in
                 (("a", vol._inode_place(a)), ("b", vol._inode_place(b)))}
        a_blk = map_block(vol, vol.get_inode(a), 0)
        dblk = map_block(vol, vol.get_inode(d), 0)
        bitmap = vol.groups[vol.group_of_block(a_blk)].block_bitmap * bs
        bit = a_blk - vol.group_first(vol.group_of_block(a_blk))
    data = img.read_bytes()
    return {"a_ptr": place["a"] + 40, "b_ptr": place["b"] + 40, "a_links": place["a"] + 26,
            "a_blk": a_blk, "bitmap_byte": bitmap + bit // 8, "bit": bit % 8,
            "old_byte": data[bitmap + bit // 8], "entry_a": dblk * bs + 24}


@pytest.mark.parametrize("damage, says", [
    ("bitmap", "marked free in the bitmap"),
    ("dup", "claimed twice"),
    ("links", "links but"),
    ("entry", "not in use"),
    ("past", "outside the file system"),
])
def test_the_mount_check_reads_only_what_writing_would_spread(img, damage, says):
    at = _layout(img)
    edit = {"bitmap": (at["bitmap_byte"], bytes([at["old_byte"] & ~(1 << at["bit"])])),
            "dup": (at["b_ptr"], struct.pack("<I", at["a_blk"])),
            "links": (at["a_links"], struct.pack("<H", 2)),
            "entry": (at["entry_a"], struct.pack("<I", 200)),          # a free inode
            "past": (at["a_ptr"] + 4, struct.pack("<I", 0xFFFF0000))}[damage]
    dev = patched(img, edit)
    before = bytes(dev.data)
    fs = Ext2(dev)
    assert fs.readonly and says in fs.ro_reason
    assert code(fs.create, ROOT_INO, "x") == errno.EROFS
    fs.close()
    assert bytes(dev.data) == before


def test_a_pointer_past_the_device_reads_as_eio(img):
    at = _layout(img)
    fs = Ext2(patched(img, (at["a_ptr"] + 4, struct.pack("<I", 0xFFFF0000))),
              readonly=True)
    a = fs.resolve("/d/a")
    assert fs.read(a, 0, 1024) == b"a" * 1024
    assert code(fs.read, a, 0, 3000) == errno.EIO and "outside" in fs.errors


def test_leaks_and_wrong_free_counts_still_mount_read_write(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        fs.create(ROOT_INO, "f")
        vol, bs = fs.vol, fs.block_size
        bitmap, table = vol.groups[0].block_bitmap * bs, vol.gdt_block * bs
        free = vol.groups[0].free_blocks_count
    last = img.read_bytes()[bitmap + 1000]            # a block near the group's end
    dev = patched(img, (bitmap + 1000, bytes([last | 1])),             # leaked
                  (table + 12, struct.pack("<H", free - 77)))          # miscounted
    fs = Ext2(dev)
    assert not fs.readonly
    assert fs.vol.groups[0].free_blocks_count == free - 1          # recounted
    fs.create(ROOT_INO, "g")
    fs.close()
    img.write_bytes(bytes(dev.data))
    rc, out = e2fsck(img)
    assert "Free blocks count wrong" not in out and "-" in out.split("differences:")[1]
