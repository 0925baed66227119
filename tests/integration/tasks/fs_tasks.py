"""Task code for the file server tests (protocols.fs.FsClient over IPC to the fs server)."""
import errno
import time

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
    print("wrote", st.size, st.nlink, oct(st.mode & 0o777), st.uid, st.gid, flush=True)


def read_host(rt):
    fs = FsClient(rt)
    ino, mode, size = fs.resolve(2, "/etc/motd")
    print("motd", fs.read(ino, 0, size).decode().strip())
    names = sorted(n.decode() for n, _, _ in fs.listdir(2))
    print("root", names)


def errors(rt):
    fs = FsClient(rt)
    for what, fn in (("enoent", lambda: fs.resolve(2, "/nope")),
                     ("eexist", lambda: fs.mkdir(2, "etc")),
                     ("enotempty", lambda: fs.rmdir(2, "etc")),
                     ("enotdir", lambda: fs.resolve(2, "/etc/motd/x")),
                     ("long", lambda: fs.create(2, "n" * 300))):
        try:
            fn()
            print(what, "no error")
        except OSError as e:
            print(what, errno.errorcode[e.errno])


def writer(rt, seconds):
    """Write and sync file s<i> in a loop, printing what was synced, until killed."""
    fs = FsClient(rt)
    deadline = time.monotonic() + float(seconds)
    i = 0
    while time.monotonic() < deadline:
        try:
            ino = fs.create(2, f"s{i}", 0o644)
            fs.write(ino, 0, f"synced {i}\n".encode() * 200)
            fs.sync()
            print("synced", i, flush=True)
            i += 1
        except OSError as e:
            print("error", e.errno, flush=True)       # that file is given up
            i += 1
            time.sleep(0.1)


def check(rt, *numbers):
    fs = FsClient(rt)
    bad = 0
    for i in numbers:
        ino, _, size = fs.resolve(2, f"/s{i}")
        bad += fs.read(ino, 0, size) != f"synced {i}\n".encode() * 200
    print("checked", len(numbers), "bad", bad)


def pager(rt):
    """UTIMES, and MAP: into a window, and without one (the fs server survives)."""
    from microkernel.abi import Fpage
    fs = FsClient(rt)
    ino = fs.create(2, "mapped", 0o644)
    fs.write(ino, 0, b"mapped page\n")
    fs.utimes(ino, (1000, 2000))
    st = fs.stat(ino)
    print("utimes", st.atime, st.mtime, flush=True)
    size = fs.map(ino, 0, Fpage(0x5000_0000, 12))
    print("map", size, rt.mem.read(0x5000_0000, 12), flush=True)
    try:
        fs.call(Op.MAP, ino, 0)
        print("no window: no error")
    except OSError as e:
        print("no window", errno.errorcode[e.errno])
    print("still serving", fs.stat(ino).size, fs.mapinfo()["maps"] >= 2, flush=True)
    fs.unlink(2, "mapped")
