"""servers.ext2 failures: each POSIX errno where it belongs, nothing changed by a failed
call (e2fsck stays clean), ENOSPC on a full image, and images it must refuse."""
import errno
import os
import subprocess

import pytest

from ext2_rig import assert_clean, cat, mount, new_image
from servers.ext2 import Ext2, FileDevice, FsError, MemoryDevice, ROOT_INO
from servers.ext2.host import tool


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
    with FileDevice(p) as dev:
        with pytest.raises(FsError) as e:
            Ext2(dev)
        assert "dir_nlink" in str(e.value)
    with mount(p, readonly=True) as fs:
        assert fs.lookup(ROOT_INO, "lost+found") == 11
