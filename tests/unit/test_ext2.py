"""servers.ext2 against real images: what mke2fs -d wrote reads back byte for byte, and
what this code writes is e2fsck-clean and reads back the same through debugfs."""
import os
import stat
import subprocess

import pytest

from ext2_rig import assert_clean, cat, dstat, ls, mount, new_image
from servers.ext2 import FT_DIR, FT_REG, FT_SYMLINK, ROOT_INO
from servers.ext2.host import tool

BIG = 4_500_000                       # > 4 MiB: needs the double indirect block at 1 KiB


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """A host directory with nested dirs, small and big files, a hard link, an empty
    file and symlinks; returns (path, {relative name: bytes})."""
    root = tmp_path_factory.mktemp("tree")
    files = {"small": b"hello, ext2\n", "empty": b"",
             "a/b/c/deep.txt": b"deep" * 1000,
             "big.bin": os.urandom(BIG), "a/mid.bin": os.urandom(300_000)}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    os.link(root / "small", root / "a" / "hard")
    os.symlink("small", root / "fast-link")
    os.symlink("x" * 100, root / "slow-link")
    return root, files


@pytest.mark.parametrize("bs,isize", [(1024, 128), (4096, 128), (1024, 256), (2048, 256)])
def test_host_written_tree_reads_back(tmp_path, tree, bs, isize):
    root, files = tree
    img = new_image(tmp_path, 16 << 20, root, block_size=bs, inode_size=isize)
    with mount(img, readonly=True) as fs:
        for name, data in files.items():
            ino = fs.resolve("/" + name)
            assert fs.stat(ino).size == len(data)
            assert fs.read(ino, 0, len(data) + 10) == data
        hard, small = fs.resolve("/a/hard"), fs.resolve("small")
        assert hard == small and fs.stat(small).nlink == 2
        assert fs.readlink(fs.resolve("/fast-link", follow=False)) == "small"
        assert fs.readlink(fs.resolve("/slow-link", follow=False)) == "x" * 100
        assert fs.resolve("/fast-link") == small
        deep = fs.resolve("/a/b/c/deep.txt")
        assert fs.resolve("b/../b/./c//deep.txt", fs.resolve("/a")) == deep
        names = {n: (i, t) for n, i, t in fs.readdir(ROOT_INO)}
        assert names["a"][1] == FT_DIR and names["small"][1] == FT_REG
        assert names["fast-link"][1] == FT_SYMLINK and names[".."][0] == ROOT_INO
        assert fs.read(fs.resolve("/big.bin"), BIG - 5, 100) == files["big.bin"][-5:]
        assert fs.stat(fs.resolve("/a")).nlink == 3            # ., .., and b/..
    assert_clean(img)


@pytest.mark.parametrize("bs", [1024, 4096])
def test_written_files_are_clean_and_readable_by_debugfs(tmp_path, bs):
    img = new_image(tmp_path, 24 << 20, block_size=bs)
    big = os.urandom(BIG)
    with mount(img) as fs:
        d = fs.mkdir(ROOT_INO, "docs", 0o750, 1000, 100)
        f = fs.create(d, "note.txt", 0o640, 1000, 100)
        assert fs.write(f, 0, b"first line\n") == 11
        assert fs.write(f, 6, b"LINE") == 4
        g = fs.create(ROOT_INO, "big.bin")
        for off in range(0, BIG, 100_000):                       # in pieces
            fs.write(g, off, big[off:off + 100_000])
        e = fs.create(d, "empty")
        fs.sync()
        assert fs.read(g, 0, BIG) == big
    assert_clean(img)
    assert cat(img, "/docs/note.txt") == b"first LINE\n"
    assert cat(img, "/big.bin") == big
    assert cat(img, "/docs/empty") == b""
    assert ls(img, "/docs") == {".", "..", "note.txt", "empty"}
    s = dstat(img, "/docs/note.txt")
    assert (s["mode"], s["uid"], s["gid"], s["links"], s["size"]) == (0o640, 1000, 100, 1, 11)
    s = dstat(img, "/docs")
    assert (s["type"], s["mode"], s["links"]) == ("directory", 0o750, 2)
    assert dstat(img, "/")["links"] == 4                        # ., .., lost+found, docs
    assert e and g


def test_stat_agrees_with_debugfs(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        f = fs.create(ROOT_INO, "f", 0o600, 70000, 80000)       # 32-bit ids
        fs.write(f, 0, b"z" * 5000)
        fs.chmod(f, 0o4751)
        fs.chown(f, 1234, -1)
        fs.utimes(f, 1_000_000_000, 1_100_000_000)
        fs.link(f, ROOT_INO, "f2")
        mine = fs.stat(f)
    s = dstat(img, "/f")
    assert s["mode"] == stat.S_IMODE(mine.mode) == 0o4751
    assert (s["uid"], s["gid"], s["links"], s["size"]) == (1234, 80000, 2, 5000)
    assert s["blocks"] == mine.blocks == 10                      # 5 KiB in 1 KiB blocks
    assert "mtime: 0x4190ab00" in s["text"] and "atime: 0x3b9aca00" in s["text"]
    assert_clean(img)


def test_sparse_files_and_triple_indirect(tmp_path):
    img = new_image(tmp_path, 8 << 20)
    far = 70 << 20                                       # past 64 MiB: triple indirect
    with mount(img) as fs:
        f = fs.create(ROOT_INO, "sparse")
        fs.write(f, 100_000, b"middle")
        fs.write(f, far, b"end")
        assert fs.read(f, 0, 10) == bytes(10)
        assert fs.read(f, 99_998, 10) == b"\0\0middle\0\0"
        assert fs.read(f, far - 2, 10) == b"\0\0end"
        assert fs.stat(f).size == far + 3
        # 2 data blocks, a single indirect, and the triple/double/single chain
        assert fs.stat(f).blocks == 2 * (2 + 1 + 3)
    assert_clean(img)
    assert dstat(img, "/sparse")["size"] == far + 3
    with mount(img) as fs:
        f = fs.resolve("/sparse")
        free = fs.statfs().bfree
        fs.truncate(f, 200_000)
        assert fs.statfs().bfree == free + 4
        assert fs.read(f, 99_990, 1_000_000) == bytes(10) + b"middle" + bytes(100_010 - 16)
    assert_clean(img)


def test_truncate_frees_everything_and_zero_fills(tmp_path):
    img = new_image(tmp_path, 16 << 20)
    with mount(img) as fs:
        before = fs.statfs()
        f = fs.create(ROOT_INO, "t")
        fs.write(f, 0, os.urandom(BIG))
        fs.truncate(f, 300_000)                        # inside the double indirect range
        fs.truncate(f, 1_500)                          # back into direct blocks
        assert fs.stat(f).blocks == 4
        fs.truncate(f, 10_000)                         # grow: the old tail reads as zeros
        assert fs.read(f, 1_400, 200) == fs.read(f, 1_400, 100) + bytes(100)
        fs.truncate(f, 0)
        assert fs.stat(f).blocks == 0 and fs.stat(f).size == 0
        assert fs.statfs().bfree == before.bfree
        fs.write(f, 0, b"again")
    assert_clean(img)
    assert cat(img, "/t") == b"again"


def test_unlink_rmdir_return_space_and_inodes(tmp_path):
    img = new_image(tmp_path, 16 << 20)
    with mount(img) as fs:
        before = fs.statfs()
        d = fs.mkdir(ROOT_INO, "d")
        sub = fs.mkdir(d, "sub")
        assert fs.stat(d).nlink == 3
        f = fs.create(sub, "f")
        fs.write(f, 0, os.urandom(600_000))
        fs.link(f, d, "f-again")
        fs.unlink(sub, "f")
        assert fs.read(f, 0, 3) == fs.read(fs.resolve("/d/f-again"), 0, 3)
        fs.unlink(d, "f-again")
        fs.rmdir(d, "sub")
        assert fs.stat(d).nlink == 2
        fs.rmdir(ROOT_INO, "d")
        after = fs.statfs()
        assert (after.bfree, after.ffree) == (before.bfree, before.ffree)
    assert_clean(img)
    assert "d" not in ls(img, "/")


def test_directories_grow_over_many_blocks_and_shrink(tmp_path):
    img = new_image(tmp_path)
    names = [f"file-with-a-longish-name-{i:04d}" for i in range(400)]
    with mount(img) as fs:
        d = fs.mkdir(ROOT_INO, "many")
        for n in names:
            fs.create(d, n)
        assert fs.stat(d).size > 10 * 1024
        for n in names[::2]:
            fs.unlink(d, n)
        fs.create(d, "x" * 255)
        kept = {n for n, _, _ in fs.readdir(d)}
    assert_clean(img)
    assert ls(img, "/many") == kept == set(names[1::2]) | {".", "..", "x" * 255}


def test_rename_files_and_directories(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        a, b = fs.mkdir(ROOT_INO, "a"), fs.mkdir(ROOT_INO, "b")
        f = fs.create(a, "f")
        fs.write(f, 0, b"payload")
        fs.rename(a, "f", a, "g")                          # same directory
        fs.rename(a, "g", b, "h")                          # across directories
        old = fs.create(b, "old")
        fs.write(old, 0, b"replaced")
        fs.rename(b, "h", b, "old")                        # replaces a file
        assert fs.read(fs.lookup(b, "old"), 0, 99) == b"payload"
        c = fs.mkdir(a, "c")
        fs.create(c, "inside")
        fs.rename(a, "c", b, "c")                          # a directory moves
        assert fs.lookup(c, "..") == b
        assert (fs.stat(a).nlink, fs.stat(b).nlink) == (2, 3)
        fs.mkdir(ROOT_INO, "empty")
        fs.rename(b, "c", ROOT_INO, "empty")               # replaces an empty dir
        assert fs.lookup(ROOT_INO, "empty") == c and fs.lookup(c, "..") == ROOT_INO
        fs.link(fs.lookup(b, "old"), b, "alias")
        fs.rename(b, "old", b, "alias")                    # same inode: nothing happens
        assert {n for n, _, _ in fs.readdir(b)} == {".", "..", "old", "alias"}
    assert_clean(img)
    assert ls(img, "/empty") == {".", "..", "inside"}
    assert cat(img, "/b/old") == b"payload"
    assert dstat(img, "/b")["links"] == 2 and dstat(img, "/")["links"] == 6


def test_symlinks_fast_and_slow(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        d = fs.mkdir(ROOT_INO, "d")
        f = fs.create(d, "target")
        fs.write(f, 0, b"pointed at")
        fs.symlink(ROOT_INO, "short", "d/target")
        fs.symlink(ROOT_INO, "long", "/d/" + "../d/" * 20 + "target")
        fs.symlink(ROOT_INO, "dirlink", "d")
        assert fs.resolve("/short") == fs.resolve("/long") == fs.resolve("dirlink/target") == f
        assert fs.stat(fs.resolve("/long", follow=False)).blocks == 2
        fs.symlink(ROOT_INO, "loop", "loop")
        with pytest.raises(OSError) as e:
            fs.resolve("/loop")
        assert e.value.errno == 40                               # ELOOP
        fs.unlink(ROOT_INO, "long")
        fs.symlink(ROOT_INO, "long2", "y" * 500)
    assert_clean(img)
    assert 'Fast link dest: "d/target"' in dstat(img, "/short")["text"]
    assert cat(img, "/dirlink/target") == b"pointed at"


def test_held_inode_outlives_its_name(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        before = fs.statfs().ffree
        f = fs.create(ROOT_INO, "open")
        fs.write(f, 0, b"still here")
        fs.hold(f)
        fs.unlink(ROOT_INO, "open")
        assert fs.read(f, 0, 99) == b"still here"
        fs.release(f)
        assert fs.statfs().ffree == before
        g = fs.create(ROOT_INO, "open2")
        fs.hold(g)
        fs.unlink(ROOT_INO, "open2")                        # freed at close
    assert_clean(img)


def test_access_bits(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        f = fs.create(ROOT_INO, "f", 0o640, 10, 20)
        assert fs.access(f, 10, 99, 4 | 2) and not fs.access(f, 10, 99, 1)
        assert fs.access(f, 11, 20, 4) and not fs.access(f, 11, 20, 2)
        assert fs.access(f, 11, 21, 4, groups=(20,))
        assert not fs.access(f, 11, 21, 4)
        assert fs.access(f, 0, 0, 4 | 2) and not fs.access(f, 0, 0, 1)
        d = fs.mkdir(ROOT_INO, "private", 0o700, 10, 20)
        fs.create(d, "x")
        assert fs.resolve("/private/x", cred=(10, 20))
        with pytest.raises(OSError) as e:
            fs.resolve("/private/x", cred=(11, 20))
        assert e.value.errno == 13                               # EACCES


def test_revision_0_without_filetype_and_a_file_over_2_gib(tmp_path):
    img = tmp_path / "rev0.img"
    subprocess.run([tool("mke2fs"), "-q", "-F", "-r", "0", "-b", "1024", str(img), "4M"],
                   check=True, capture_output=True)
    with mount(img) as fs:
        assert fs.vol.sb.rev_level == 0 and not fs.vol.filetype
        d = fs.mkdir(ROOT_INO, "d")
        fs.write(fs.create(d, "f"), 0, b"rev0")
        assert [t for n, _, t in fs.readdir(d) if n == "f"] == [FT_REG]
        g = fs.create(ROOT_INO, "huge")
        fs.write(g, 3 << 30, b"far away")                # needs large_file, so rev 1
        assert fs.read(g, (3 << 30) - 2, 20) == b"\0\0far away"
    assert_clean(img)
    assert cat(img, "/d/f") == b"rev0"
    assert dstat(img, "/huge")["size"] == (3 << 30) + 8


def test_files_with_xattr_blocks_are_freed_whole(tmp_path):
    img = tmp_path / "ea.img"
    subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext2", "-b", "1024", "-I", "128",
                    "-O", "none,filetype,sparse_super,ext_attr", str(img), "4M"],
                   check=True, capture_output=True)
    (tmp_path / "hi").write_bytes(b"hi\n")
    for req in (f"write {tmp_path / 'hi'} f", "ea_set /f user.test somevalue"):
        subprocess.run([tool("debugfs"), "-w", "-R", req, str(img)], check=True,
                       capture_output=True)
    assert dstat(img, "/f")["blocks"] == 4                   # data + xattr block
    with mount(img) as fs:
        free = fs.statfs().bfree
        f = fs.resolve("/f")
        fs.truncate(f, 0)
        assert fs.stat(f).blocks == 2                        # the xattr block stays
        fs.unlink(ROOT_INO, "f")
        assert fs.statfs().bfree == free + 2
    assert_clean(img)


def test_split_paths_for_making_names(tmp_path):
    img = new_image(tmp_path)
    with mount(img) as fs:
        a = fs.mkdir(ROOT_INO, "a")
        assert fs.split("/a/new") == (a, "new")
        assert fs.split("a/new/", ROOT_INO) == (a, "new")
        assert fs.split("new", a) == (a, "new")
        assert fs.split("/") == (ROOT_INO, ".")
        assert fs.split("/new") == (ROOT_INO, "new")
