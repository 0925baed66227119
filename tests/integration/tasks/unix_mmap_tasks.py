"""Code for tests/integration/test_unix_mmap.py: files mapped with mmap (the fs server
as their pager), and utime / touch.

`drive` is an ordinary task, like unix_tasks.drive, which also reads the fs server's
page-cache counters (MAPINFO) before and after the process ran: a mapped file must
have been paged by the fs server, not copied by the Unix server. The processes report
what they find as facts on fd 1 (microkernel.user.testing.report).
"""
import os
import sys
import time

from microkernel.user.testing import report
from personalities.unix import libc
from protocols.fs import FsClient
from protocols.unix import Unix

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from unix_common import error  # noqa: E402

HERE = __file__
PAGE = 4096


def drive(rt, func, *argv):
    fs = FsClient(rt)
    c = Unix(rt)
    before = fs.mapinfo()
    pid = c.spawn(f"{HERE}:{func}", [func, *argv], module=True)
    status, out = c.wait(pid, timeout=50)
    report(pid=pid, status=status, out=out.decode(errors="replace"), before=before,
           after=fs.mapinfo())


def _put(path, data: bytes) -> None:
    fd = libc.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    libc.write(fd, data)
    libc.close(fd)


def _get(path) -> bytes:
    fd = libc.open(path)
    out = b""
    while chunk := libc.read(fd, 65536):
        out += chunk
    libc.close(fd)
    return out


# -- mapping files ---------------------------------------------------------------------

def p_map_file(argv, envp):
    """Map the file `argv[1]` with one page to spare: memory equals the file, then
    zeros; with an offset of a page, the file from there."""
    path = argv[1]
    data = _get(path)
    fd = libc.open(path)
    length = (len(data) + PAGE - 1) // PAGE * PAGE + PAGE
    addr = libc.mmap_file(fd, length)
    report(size=len(data), same=libc.peek(addr, len(data)) == data,
           zeros=libc.peek(addr + len(data), length - len(data)) == bytes(length - len(data)))
    if len(data) > PAGE:
        at = libc.mmap(PAGE * 2, fd, PAGE)
        report(offset=libc.peek(at, len(data) - PAGE) == data[PAGE:])
    libc.close(fd)                        # the mapping outlives the descriptor
    report(after_close=libc.peek(addr, 16) == data[:16])
    return 0


def p_write_file(argv, envp):
    """Write `argv[2]` bytes of a pattern to `argv[1]` through libc."""
    n = int(argv[2])
    _put(argv[1], bytes((i * 7 + i // 251) & 0xFF for i in range(n)))
    return 0


def p_shared(argv, envp):
    """Two processes map one file: both see a later write(2) to it, at once; a write
    through memory stays private to the process that made it."""
    path = "/tmp/shared"
    _put(path, b"A" * 5000)
    fd = libc.open(path)
    addr = libc.mmap_file(fd, 2 * PAGE)
    report(parent_first=libc.peek(addr, 2))
    up_r, up_w = libc.pipe()
    down_r, down_w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        mine = libc.mmap_file(libc.open(path), 2 * PAGE)
        before = libc.peek(mine, 4)
        libc.write(up_w, b"ready")
        libc.read(down_r, 2)
        seen = libc.peek(mine, 4) + libc.peek(mine + 4094, 4) + libc.peek(mine + 6000, 4)
        inherited = libc.peek(addr, 4)
        libc.poke(mine, b"priv")                          # a private copy of page 0
        libc.write(up_w, before + seen + inherited + libc.peek(mine, 4))
        libc.exit(0)
    libc.read(up_r, 5)
    w = libc.open(path, os.O_WRONLY)
    libc.write(w, b"NEW!")
    libc.lseek(w, 4094, os.SEEK_SET)
    libc.write(w, b"XYZW")                                # across the page boundary
    libc.lseek(w, 6000, os.SEEK_SET)
    libc.write(w, b"TAIL")                                # the file grows into page 1
    libc.close(w)
    libc.write(down_w, b"go")
    got = libc.read(up_r, 100)
    libc.waitpid(pid)
    report(child_before=got[:4], child_saw=got[4:16], child_inherited=got[16:20],
           child_own=got[20:])
    report(parent_sees=libc.peek(addr, 4) + libc.peek(addr + 4094, 4) + libc.peek(addr + 6000, 4),
           file=_get(path)[:4])
    return 0


def p_errors(argv, envp):
    fd = libc.open("/tmp/err", os.O_WRONLY | os.O_CREAT, 0o644)
    libc.write(fd, b"x" * 100)
    r, _ = libc.pipe()
    ro = libc.open("/tmp/err")
    report(badfd=error(lambda: libc.mmap_file(42, PAGE)),
           dir=error(lambda: libc.mmap_file(libc.open("/tmp"), PAGE)),
           wronly=error(lambda: libc.mmap_file(fd, PAGE)),
           pipe=error(lambda: libc.mmap_file(r, PAGE)),
           offset=error(lambda: libc.mmap_file(ro, PAGE, 100)),
           length=error(lambda: libc.mmap_file(ro, 0)))
    return 0


def p_big(argv, envp):
    """A file of more pages than the fs server caches: every page right, the first
    one again after it was evicted (flushed from this process, then faulted back)."""
    n = int(argv[1])
    path = "/tmp/big"
    fd = libc.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for i in range(0, n, 16):
        libc.write(fd, b"".join(b"page%06d" % j + bytes(PAGE - 10)
                                for j in range(i, min(n, i + 16))))
    libc.close(fd)
    addr = libc.mmap_file(libc.open(path), n * PAGE)
    bad = [i for i in range(n) if libc.peek(addr + i * PAGE, 10) != b"page%06d" % i]
    report(bad=bad, again=libc.peek(addr, 10))
    libc.munmap(addr, n * PAGE)
    report(unmapped=libc.peek(addr, 10) == bytes(10))
    return 0


def p_unlinked(argv, envp):
    """A file removed while mapped: the fs server drops its pages, and the next access
    is a MemoryFault (a limit: POSIX would keep the pages)."""
    from microkernel.user.vmem import MemoryFault
    _put("/tmp/gone", b"old contents")
    addr = libc.mmap_file(libc.open("/tmp/gone"), PAGE)
    report(before=libc.peek(addr, 12))
    libc.unlink("/tmp/gone")
    try:
        report(after=libc.peek(addr, 12))
    except MemoryFault as e:
        report(after=type(e).__name__)
    return 0


# -- utime and touch -------------------------------------------------------------------

def p_touch(argv, envp):
    path = "/tmp/touched"
    _put(path, b"x")
    libc.utime(path, (1000, 2000))
    st = libc.stat(path)
    report(set=[st.st_atime, st.st_mtime])
    t0 = int(time.time())
    report(t0=t0)
    pid = libc.fork()
    if pid == 0:
        libc.execve("/bin/touch", ["touch", path, "/tmp/touch-new"], {"PATH": "/bin"})
    _, status = libc.waitpid(pid)
    st = libc.stat(path)
    report(touch_exit=os.WEXITSTATUS(status), touched=[st.st_atime, st.st_mtime],
           created_size=libc.stat("/tmp/touch-new").st_size)
    libc.utime(path, (5, 6))
    libc.utime(path)
    st = libc.stat(path)
    report(now=[st.st_atime, st.st_mtime], enoent=error(lambda: libc.utime("/tmp/nope")))
    return 0
