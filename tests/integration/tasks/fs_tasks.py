"""Task code for the file server tests (protocols.fs.FsClient over IPC to the fs server):
each reports what it found as facts (microkernel.user.testing.report)."""
import errno
import time

from microkernel.user.testing import report
from protocols.fs import FsClient, Op


def write_tree(rt, tag):
    fs = FsClient(rt)
    d = fs.mkdir(2, f"d{tag}")
    ino = fs.create(d, "f", 0o640, 1000, 100)
    data = (f"{tag}:" + "x" * 97 + "\n").encode() * 5000          # ~500 KiB
    fs.write(ino, 0, data)
    fs.link(ino, d, "g")
    fs.sync()
    st = fs.stat(ino)
    report(size=st.size, nlink=st.nlink, mode=st.mode & 0o777, uid=st.uid, gid=st.gid)


def read_host(rt):
    fs = FsClient(rt)
    ino, mode, size = fs.resolve(2, "/etc/motd")
    (lino, _, lsize), text = fs.load(2, "/etc/motd")
    (_, dmode, _), none = fs.load(2, "/etc")
    report(motd=fs.read(ino, 0, size), root=sorted(n.decode() for n, _, _ in fs.listdir(2)),
           load=[lino == ino, lsize == size, text.decode()],
           load_dir=[oct(dmode), none.decode()],
           load_head=fs.load(2, "/etc/motd", 4)[1].decode(),
           load_missing=_errno(lambda: fs.load(2, "/nope")),
           load_stranger=_load_as_a_stranger(rt, fs), motd_after=fs.read(ino, 0, size))


def _load_as_a_stranger(rt, fs) -> dict:
    """LOAD as a stranger would call it: a huge path, the largest count, a cwd that is
    no inode, a request without its path."""
    from microkernel.abi import Msg
    raw = rt.call(fs.server(), Msg(words=(Op.LOAD, 2, 4)), timeout=10.0)
    return {"huge_path": _errno(lambda: fs.load(2, "/" + "a" * 65536)),
            "max_count": len(fs.load(2, "/etc/motd", 0xFFFFFFFF)[1]),
            "bad_cwd": _errno(lambda: fs.load(0xFFFFFF, "etc/motd")),
            "no_path": errno.errorcode.get(raw.words[0], raw.words[0])}


def _errno(fn) -> str:
    """The errno name fn() raised ("no error" if none)."""
    try:
        fn()
        return "no error"
    except OSError as e:
        return errno.errorcode[e.errno]


def errors(rt):
    fs = FsClient(rt)
    report(enoent=_errno(lambda: fs.resolve(2, "/nope")),
           eexist=_errno(lambda: fs.mkdir(2, "etc")),
           enotempty=_errno(lambda: fs.rmdir(2, "etc")),
           enotdir=_errno(lambda: fs.resolve(2, "/etc/motd/x")),
           long=_errno(lambda: fs.create(2, "n" * 300)))


def writer(rt, seconds):
    """Write and sync file s<i> in a loop for `seconds` (or until killed), reporting
    the numbers synced so far, and those given up after an error."""
    fs = FsClient(rt)
    deadline = time.monotonic() + float(seconds)
    synced, given_up = [], []
    i = 0
    while time.monotonic() < deadline:        # a workload for a time, not a wait
        try:
            ino = fs.create(2, f"s{i}", 0o644)
            fs.write(ino, 0, f"synced {i}\n".encode() * 200)
            fs.sync()
            synced.append(i)
            report(synced=synced)
        except OSError as e:
            given_up.append([i, errno.errorcode[e.errno]])
            report(given_up=given_up)
            time.sleep(0.1)                   # not to run through names while it is down
        i += 1


def check(rt, *numbers):
    """Read back files s<i>: the numbers whose content is wrong."""
    fs = FsClient(rt)
    bad = []
    for i in numbers:
        ino, _, size = fs.resolve(2, f"/s{i}")
        if fs.read(ino, 0, size) != f"synced {i}\n".encode() * 200:
            bad.append(int(i))
    report(checked=len(numbers), bad=bad)


def pager(rt):
    """UTIMES, and MAP: into a window, and without one (the fs server survives)."""
    from microkernel.abi import Fpage
    fs = FsClient(rt)
    ino = fs.create(2, "mapped", 0o644)
    fs.write(ino, 0, b"mapped page\n")
    fs.utimes(ino, (1000, 2000))
    st = fs.stat(ino)
    report(atime=st.atime, mtime=st.mtime)
    size = fs.map(ino, 0, Fpage(0x5000_0000, 12))
    report(map_size=size, mapped=rt.mem.read(0x5000_0000, 12))
    report(no_window=_errno(lambda: fs.call(Op.MAP, ino, 0)))
    report(size_after=fs.stat(ino).size, maps=fs.mapinfo()["maps"])
    fs.unlink(2, "mapped")
