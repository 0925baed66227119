"""personalities/unix/nodeio/ without a node: libc's calls are pointed at the host's
os (a host directory plays the node's files), and nodeio's open must then behave as the
host's own open does, mode by mode; os.scandir/listdir, the errors it raises, the
finalizer's hold-back, and `install` (in a child interpreter: it cannot be undone)."""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import textwrap

import pytest

from personalities.unix import libc, nodeio

pytestmark = pytest.mark.timeout(30)

_TYPES = {True: 2, False: 1}                  # ext2 directory entry types: dir, regular


def _write_all(fd, data):
    data = bytes(data)
    done = 0
    while done < len(data):
        done += os.write(fd, data[done:])
    return done


def _readdir(path="."):
    return [(".", 0, 2), ("..", 0, 2)] + [(e.name, e.inode(), _TYPES[e.is_dir()])
                                         for e in os.scandir(path)]


@pytest.fixture
def host_libc(monkeypatch, tmp_path):
    """libc over the host's os, in tmp_path."""
    for name, fn in {"open": os.open, "read": lambda fd, n: os.read(fd, min(n, libc.MAX_IO)),
                     "write": _write_all, "close": os.close, "lseek": os.lseek,
                     "fstat": os.fstat, "stat": os.stat, "lstat": os.lstat,
                     "isatty": os.isatty, "readdir": _readdir}.items():
        monkeypatch.setattr(libc, name, fn)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _session(opener, mode: str, **kw):
    """What a short session with a file opened by `opener` gives (or what it raised)."""
    try:
        with opener("f", mode, **kw) as f:
            out = [type(f).__name__.replace("NodeFile", "FileIO"), f.mode if not isinstance(f, io.BufferedIOBase)
                   else f.raw.mode, f.name, f.readable(), f.writable(), f.seekable()]
            text = "b" not in mode
            if f.writable():
                out.append(f.write("añ\r\nb\n" if text else b"a\x00\xff\r\nb\n"))
                f.flush()
            if f.readable():
                f.seek(0)
                out.append(f.read())
                f.seek(2)
                out.append(f.read(3))
            out.append(f.tell())
    except (OSError, ValueError) as e:
        return [type(e).__name__, getattr(e, "errno", None)]
    with io.open("f", "rb") as f:
        out.append(f.read())
    return out


MODES = ["r", "rt", "w", "x", "a", "r+", "w+", "a+", "x+", "rb", "wb", "ab", "r+b", "w+b",
         "a+b", "xb"]


@pytest.mark.parametrize("exists", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_open_behaves_as_the_hosts_open(host_libc, mode, exists):
    results = []
    for opener in (io.open, nodeio.open):
        if exists:
            with io.open("f", "wb") as f:
                f.write(b"old contents\n")
        elif os.path.exists("f"):
            os.unlink("f")
        results.append(_session(opener, mode))
    assert results[0] == results[1]


@pytest.mark.parametrize("kw", [{"newline": ""}, {"newline": "\r\n"}, {"encoding": "latin-1"},
                                {"buffering": 1}, {"buffering": 0}, {"errors": "replace"}])
def test_open_honours_newline_encoding_and_buffering(host_libc, kw):
    binary = kw.get("buffering") == 0
    got = [_session(opener, "w+b" if binary else "w+", **kw) for opener in (io.open,
                                                                             nodeio.open)]
    assert got[0] == got[1]


def test_bad_arguments_are_refused_as_the_host_refuses_them(host_libc):
    for args, kw in [(("f", "rw"), {}), (("f", "rbt"), {}), (("f", "z"), {}),
                     (("f", "rb"), {"encoding": "utf-8"}), (("f", "w"), {"buffering": 0}),
                     (("f", "rr"), {}), (("f", "+"), {})]:
        with pytest.raises(ValueError):
            io.open(*args, **kw)
        with pytest.raises(ValueError):
            nodeio.open(*args, **kw)


def test_errors_name_the_path(host_libc):
    with pytest.raises(FileNotFoundError) as e:
        nodeio.open("nope/x")
    assert (e.value.errno, e.value.filename) == (errno.ENOENT, "nope/x")
    os.mkdir("d")
    with pytest.raises(IsADirectoryError) as e:
        nodeio.open("d")
    assert e.value.filename == "d"
    with pytest.raises(FileNotFoundError) as e:
        nodeio.paths.stat("nope")
    assert e.value.filename == "nope"
    with pytest.raises(FileNotFoundError) as e:
        nodeio.paths.listdir("nope")
    assert e.value.filename == "nope"
    with pytest.raises(NotImplementedError):
        nodeio.paths.stat("d", dir_fd=3)


def test_an_fd_opens_without_a_system_call_and_closefd_is_kept(host_libc):
    fd = os.open("g", os.O_RDWR | os.O_CREAT, 0o644)
    with nodeio.open(fd, "w", closefd=False) as f:
        f.write("via fd\n")
    os.lseek(fd, 0, os.SEEK_SET)
    assert os.read(fd, 100) == b"via fd\n"        # still open: closefd=False
    with nodeio.open(fd, "rb", buffering=0) as f:
        assert f.name == fd and f.mode == "rb"
    with pytest.raises(OSError):
        os.fstat(fd)                               # closed with the file


def test_scandir_and_listdir(host_libc):
    os.makedirs("top/sub")
    with io.open("top/file", "w") as f:
        f.write("12345")
    entries = sorted(nodeio.paths.scandir("top"), key=lambda e: e.name)
    assert [(e.name, e.path, e.is_dir(), e.is_file(), e.is_symlink()) for e in entries] == \
        [("file", "top/file", False, True, False), ("sub", "top/sub", True, False, False)]
    assert entries[0].stat().st_size == 5 and os.fspath(entries[1]) == "top/sub"
    assert sorted(nodeio.paths.listdir(b"top")) == [b"file", b"sub"]
    assert [e.path for e in nodeio.paths.scandir(b"top") if e.name == b"sub"] == [b"top/sub"]


def test_a_finalizer_inside_a_system_call_makes_none(host_libc, monkeypatch):
    """The garbage collector may finalize a file while the main thread waits for a
    reply: closing must then wait, and writing must not reach the socket."""
    f = nodeio.open("h", "wb", buffering=0)
    fd = f.fileno()
    monkeypatch.setattr(libc._s, "depth", 1)
    with pytest.raises(BlockingIOError):
        f.write(b"x")
    f.close()
    os.fstat(fd)                                   # not closed yet: pending
    assert nodeio.rawfile.pending_close == [fd]
    monkeypatch.setattr(libc._s, "depth", 0)
    nodeio.rawfile.close_pending()
    with pytest.raises(OSError):
        os.fstat(fd)


def test_install_switches_the_program_and_leaves_the_runtime_the_hosts():
    """In a child interpreter (install cannot be undone): builtins, io.open, os and
    libc.flush are switched; the runtime's modules keep the host's os."""
    code = textwrap.dedent("""
        import builtins, io, os, sys
        import microkernel.user.runtime as runtime, hw.memory as memory
        from personalities.unix import libc, nodeio
        real_getpid = os.getpid
        nodeio.install(["prog", "a"])
        env = libc.environ
        checks = [builtins.open is nodeio.open, io.open is nodeio.open,
                  builtins.input is nodeio.input, os.getpid is libc.getpid,
                  os.environ is env, os.getenv("X") is None, os.stat is nodeio.paths.stat,
                  runtime.os is nodeio.host.os, memory.os is nodeio.host.os,
                  libc.os is nodeio.host.os, nodeio.host.os.getpid is real_getpid,
                  libc.flush is nodeio.flush_all, sys.argv == ["prog", "a"]]
        try:
            os.chown("x", 0, 0)
        except OSError as e:
            checks.append(e.errno == 38)
        print(checks)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=20, cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__)))))
    assert out.stdout.strip() == str([True] * 14), out.stderr
