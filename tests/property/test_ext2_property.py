"""servers.ext2 against a dict model, over random sequences of create, write, truncate,
unlink, mkdir, rmdir, rename and link on a fresh image (1 or 4 KiB blocks), after a
fixed set-up that makes most paths of the small name space exist.

The model is a tree of nodes (files with bytes and a link count, directories with a
name -> node table). Every operation must succeed or fail exactly as the model says
(errno included). At the end the file system's tree, contents and link counts equal the
model's, e2fsck -fn is clean, and debugfs's `rdump` of the whole tree equals it too.
"""
import errno
import itertools
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.ext2 import Ext2, FsError, make_image
from servers.ext2.host import is_clean, tool

DIRS = ["/", "/a", "/b", "/a/c", "/a/c/d"]
NAMES = ["c", "d", "f", "g", "h"]
SETUP = [("mkdir", "/", "a"), ("mkdir", "/", "b"), ("mkdir", "/a", "c"),
         ("mkdir", "/a/c", "d"), ("create", "/", "f"), ("create", "/a", "f"),
         ("create", "/a/c", "g"), ("write", "/a/f", 0, b"seed")]
OFFSETS = [0, 1, 1000, 1023, 1024, 4095, 4096, 12 * 1024, 268 * 1024 + 3,
           (12 + 1024) * 4096 - 2, 5 << 20]
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


class Err(Exception):
    def __init__(self, code):
        self.code = code


class Model:
    """The file tree as plain dicts: node id -> {"dir": {name: id}} or {"data", "nlink"}."""

    def __init__(self):
        self.nodes = {0: {"dir": {}}}
        self.ids = itertools.count(1)

    def walk(self, path):
        cur = 0
        for comp in [c for c in path.split("/") if c]:
            node = self.nodes[cur]
            if "dir" not in node:
                raise Err(errno.ENOTDIR)
            if comp not in node["dir"]:
                raise Err(errno.ENOENT)
            cur = node["dir"][comp]
        return cur

    def dir(self, path):
        d = self.walk(path)
        if "dir" not in self.nodes[d]:
            raise Err(errno.ENOTDIR)
        return self.nodes[d]["dir"]

    def file(self, path):
        n = self.nodes[self.walk(path)]
        if "dir" in n:
            raise Err(errno.EISDIR)
        return n

    def new(self, parent, name, is_dir):
        d = self.dir(parent)
        if name in d:
            raise Err(errno.EEXIST)
        i = next(self.ids)
        self.nodes[i] = {"dir": {}} if is_dir else {"data": bytearray(), "nlink": 1}
        d[name] = i

    def write(self, path, off, data):
        f = self.file(path)["data"]
        if off > len(f):
            f.extend(bytes(off - len(f)))
        f[off:off + len(data)] = data

    def truncate(self, path, size):
        f = self.file(path)["data"]
        del f[size:]
        f.extend(bytes(size - len(f)))

    def _drop(self, i):
        n = self.nodes[i]
        if "dir" in n:
            del self.nodes[i]
        else:
            n["nlink"] -= 1
            if not n["nlink"]:
                del self.nodes[i]

    def unlink(self, parent, name):
        d = self.dir(parent)
        if name not in d:
            raise Err(errno.ENOENT)
        if "dir" in self.nodes[d[name]]:
            raise Err(errno.EISDIR)
        self._drop(d.pop(name))

    def rmdir(self, parent, name):
        d = self.dir(parent)
        if name not in d:
            raise Err(errno.ENOENT)
        n = self.nodes[d[name]]
        if "dir" not in n:
            raise Err(errno.ENOTDIR)
        if n["dir"]:
            raise Err(errno.ENOTEMPTY)
        self._drop(d.pop(name))

    def inside(self, top, path):
        """Is directory `path` equal to or below node `top`?"""
        cur = 0
        for comp in [c for c in path.split("/") if c]:
            if cur == top:
                return True
            cur = self.nodes[cur]["dir"][comp]
        return cur == top

    def rename(self, p1, n1, p2, n2):
        d1 = self.dir(p1)
        d2 = self.dir(p2)
        if n1 not in d1:
            raise Err(errno.ENOENT)
        s = d1[n1]
        t = d2.get(n2)
        if t == s:
            return
        sdir = "dir" in self.nodes[s]
        if t is not None:
            tdir = "dir" in self.nodes[t]
            if sdir and not tdir:
                raise Err(errno.ENOTDIR)
            if not sdir and tdir:
                raise Err(errno.EISDIR)
            if tdir and self.nodes[t]["dir"]:
                raise Err(errno.ENOTEMPTY)
        if sdir and d1 is not d2 and self.inside(s, p2):
            raise Err(errno.EINVAL)
        d2[n2] = s
        del d1[n1]
        if t is not None:
            self._drop(t)

    def link(self, path, p2, n2):
        s = self.walk(path)
        d = self.dir(p2)
        if "dir" in self.nodes[s]:
            raise Err(errno.EPERM)
        if n2 in d:
            raise Err(errno.EEXIST)
        d[n2] = s
        self.nodes[s]["nlink"] += 1


def apply(fs, op):
    """Run `op` on the file system, in the model's order of checks."""
    kind, args = op[0], op[1:]
    r = fs.resolve
    if kind == "create":
        fs.create(r(args[0]), args[1])
    elif kind == "mkdir":
        fs.mkdir(r(args[0]), args[1])
    elif kind == "write":
        fs.write(r(args[0]), args[1], args[2])
    elif kind == "truncate":
        fs.truncate(r(args[0]), args[1])
    elif kind == "unlink":
        fs.unlink(r(args[0]), args[1])
    elif kind == "rmdir":
        fs.rmdir(r(args[0]), args[1])
    elif kind == "rename":
        d1 = r(args[0])
        fs.rename(d1, args[1], r(args[2]), args[3])
    elif kind == "link":
        s = r(args[0])
        fs.link(s, r(args[1]), args[2])


def run_model(m, op):
    kind, args = op[0], op[1:]
    if kind in ("create", "mkdir"):
        m.new(args[0], args[1], kind == "mkdir")
    else:
        getattr(m, kind)(*args)


def listing(m, kind):
    """Every existing path of `kind` ("dir", "file", "any" but the root), sorted."""
    out = []

    def visit(node, path):
        for name, child in sorted(m.nodes[node]["dir"].items()):
            p = f"{path}/{name}"
            is_dir = "dir" in m.nodes[child]
            if kind == "any" or is_dir == (kind == "dir"):
                out.append(p)
            if is_dir:
                visit(child, p)
    if kind == "dir":
        out.append("/")
    visit(0, "")
    return out


def concrete(m, sel):
    """A path for selector `sel`: a literal path, or (kind, k) picking an existing one."""
    if isinstance(sel, str):
        return sel
    pool = listing(m, sel[0])
    return pool[sel[1] % len(pool)] if pool else "/nothing"


def split(path):
    head, _, tail = path.rpartition("/")
    return head or "/", tail


def realize(m, raw):
    """The operation `raw` names, with selectors resolved against the model's tree."""
    kind, args = raw[0], [concrete(m, a) if isinstance(a, tuple) else a for a in raw[1:]]
    if kind in ("unlink", "rmdir"):
        return (kind, *split(args[0]))
    if kind == "rename":
        return (kind, *split(args[0]), args[1], args[2])
    return (kind, *args)


names = st.sampled_from(NAMES)
literal = st.builds(lambda d, n: d.rstrip("/") + "/" + n, st.sampled_from(DIRS), names)


def sel(kind, literals):
    """Mostly an existing path of `kind`, sometimes a literal one (which may not be)."""
    return st.tuples(st.sampled_from([True, False, False, False]), st.integers(0, 999),
                     literals).map(lambda t: t[2] if t[0] else (kind, t[1]))


dirs, files, anys = sel("dir", st.sampled_from(DIRS)), sel("file", literal), sel("any", literal)
offsets = st.one_of(st.sampled_from(OFFSETS), st.integers(0, 300_000))
ops = st.one_of(
    st.tuples(st.just("write"), files, offsets, st.binary(min_size=1, max_size=3000)),
    st.tuples(st.just("write"), files, offsets,
              st.integers(1, 40_000).map(lambda n: os.urandom(n))),
    st.tuples(st.just("truncate"), files, offsets),
    st.tuples(st.just("unlink"), anys),
    st.tuples(st.just("rmdir"), anys),
    st.tuples(st.just("rename"), anys, dirs, names),
    st.tuples(st.just("link"), files, dirs, names),
    st.tuples(st.just("create"), dirs, names),
    st.tuples(st.just("mkdir"), dirs, names),
)


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """One fresh mke2fs image per block size, copied for each example."""
    d = tmp_path_factory.mktemp("bases")
    out = {}
    for bs in (1024, 4096):
        make_image(d / f"{bs}.img", 4 << 20, block_size=bs)
        out[bs] = (d / f"{bs}.img").read_bytes()
    return out


def compare(fs, m, node, ino, where):
    got = {n: i for n, i, _ in fs.readdir(ino) if n not in (".", "..")}
    want = m.nodes[node]["dir"]
    if node == 0:
        got.pop("lost+found")
    assert set(got) == set(want), where
    subdirs = 0
    for name, child in want.items():
        n, i, p = m.nodes[child], got[name], f"{where}/{name}"
        s = fs.stat(i)
        if "dir" in n:
            subdirs += 1
            compare(fs, m, child, i, p)
        else:
            assert (s.size, s.nlink) == (len(n["data"]), n["nlink"]), p
            assert fs.read(i, 0, s.size) == n["data"], p
    assert fs.stat(ino).nlink == 2 + subdirs + (node == 0), where


def compare_dump(m, node, path):
    names = set(os.listdir(path)) - ({"lost+found"} if node == 0 else set())
    assert names == set(m.nodes[node]["dir"]), path
    for name, child in m.nodes[node]["dir"].items():
        p = os.path.join(path, name)
        if "dir" in m.nodes[child]:
            compare_dump(m, child, p)
        else:
            with open(p, "rb") as f:
                assert f.read() == m.nodes[child]["data"], p


@SETTINGS
@given(bs=st.sampled_from([1024, 4096]), script=st.lists(ops, min_size=5, max_size=50))
def test_ext2_matches_model_and_stays_clean(bases, bs, script):
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.write(bases[bs])
        m = Model()
        with Ext2.open(img) as fs:
            for raw in SETUP + script:
                op = realize(m, raw)
                try:
                    run_model(m, op)
                    want = None
                except Err as e:
                    want = e.code
                try:
                    apply(fs, op)
                    got = None
                except FsError as e:
                    got = e.errno
                assert got == want, (op, os.strerror(got or 0), os.strerror(want or 0))
            compare(fs, m, 0, 2, "")
        ok, out = is_clean(img)
        assert ok, out
        dump = os.path.join(tmp, "dump")
        os.mkdir(dump)
        subprocess.run([tool("debugfs"), "-R", f"rdump / {dump}", img],
                       check=True, capture_output=True)
        compare_dump(m, 0, dump)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 192 KiB image with 32 inodes, which the scripts below fill up."""
    p = tmp_path_factory.mktemp("tiny") / "tiny.img"
    make_image(p, 192 << 10, inodes=32)
    return p.read_bytes()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(ops, min_size=10, max_size=60))
def test_ext2_full_disk_fails_cleanly(tiny, script):
    """On a disk that fills up, operations fail with ENOSPC (a write may come up
    short) and leave nothing behind that e2fsck would fix."""
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.write(tiny)
        m = Model()
        with Ext2.open(img) as fs:
            for raw in SETUP + script + [("write", "/a/f", 150_000, os.urandom(200_000))]:
                op = realize(m, raw)
                try:
                    apply(fs, op)
                except FsError as e:
                    if e.errno == errno.ENOSPC:
                        continue
                try:                                   # the model follows what happened
                    run_model(m, op)
                except Err:
                    pass
        ok, out = is_clean(img)
        assert ok, out
