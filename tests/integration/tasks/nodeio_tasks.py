"""Processes written as plain Python (open, print, input, os.*, pathlib, shutil), no
libc: their file world is the node's (personalities/unix/nodeio/).

`drive` is an ordinary task: it SPAWN_MODULEs one of the `p_*` functions below as a
Unix process with the given bytes on its fd 0, waits, and reports the wait status and
the captured output as facts. The `p_*` functions report what they found as facts on
fd 1 (report() prints, and print is the node's sys.stdout).
"""
import errno
import os
import sys
import time

from microkernel.user.testing import report
from protocols.unix import Unix

HERE = __file__


def drive(rt, func, stdin, *argv):
    c = Unix(rt)
    t0 = time.monotonic()
    pid = c.spawn(f"{HERE}:{func}", [func, *argv], stdin=stdin.encode(), module=True,
                  envp={"PATH": "/bin", "HOME": "/root", "GREETING": "hi"})
    status, out = c.wait(pid, timeout=40)
    report(pid=pid, status=status, out=out.decode(errors="replace"),
           seconds=round(time.monotonic() - t0, 3))


def _error(fn):
    """[exception class, errno name, filename] of what fn() raised."""
    try:
        fn()
    except OSError as e:
        return [type(e).__name__, errno.errorcode.get(e.errno), e.filename]
    return None


KEEP = []                           # files left open on purpose: exit must flush them


def p_files(argv, envp):
    """Text and binary files, directories and errors, with the builtins and os only."""
    import glob
    import pathlib
    import shutil
    import stat
    import tempfile
    base = argv[1]
    os.mkdir(base)
    os.chdir(base)
    report(cwd=os.getcwd(), argv=sys.argv, env=[os.environ.get("GREETING"),
                                                 os.getenv("HOME"), envp is os.environ])

    with open("text.txt", "w") as f:                 # text: print into a file, UTF-8
        print("héllo", file=f)
        f.write("line two\n")
    with open("text.txt", "a") as f:
        f.write("three\n")
    with open("text.txt", "r+") as f:
        f.write("H")
    with open("text.txt") as f:
        text = f.read()
    with open("text.txt", "rb") as f:
        raw = f.read()
    with open("text.txt", encoding="utf-8") as f:
        lines = [line for line in f]
    with open("crlf", "w", newline="") as f:
        f.write("a\r\nb\n")
    with open("crlf", newline="") as f, open("crlf") as g:
        crlf = [f.read(), g.read()]
    report(text=text, raw=raw.hex(), lines=lines, crlf=crlf)

    data = bytes(range(256)) * 300                   # binary, more than one READ
    with open("bin", "wb") as f:
        f.write(data)
    with open("bin", "rb") as f:
        whole = f.read()
        f.seek(-3, os.SEEK_END)
        tail = f.read()
        f.seek(70000)
        middle = f.read(4)
    with open("bin", "rb", buffering=0) as f:
        unbuffered = f.read(10)
    with open("bin", "r+b") as f:
        f.seek(1)
        f.write(b"\xff\xfe")
        f.seek(0)
        head = f.read(4)
    report(binary_same=whole == data, binary_tail=list(tail), binary_middle=list(middle),
           unbuffered=list(unbuffered), rewritten=list(head))

    os.makedirs("d/e/f")
    open("d/e/f/g", "w").close()
    st = os.stat("bin")
    report(listdir=sorted(os.listdir(".")), listdir_bytes=sorted(os.listdir(b".")),
           size=[st.st_size, os.path.getsize("bin"), stat.S_ISREG(st.st_mode),
                 os.fstat(sys.stdout.fileno()).st_size >= 0],
           exists=[os.path.exists("bin"), os.path.isdir(base), os.path.isfile("bin"),
                   os.path.isdir("bin"), os.path.exists("nope"), os.path.lexists("d")],
           scandir=sorted([e.name, e.is_dir(), e.is_file(), e.inode() > 0]
                          for e in os.scandir(".")),
           walk=[[root, sorted(dirs), sorted(files)] for root, dirs, files in os.walk("d")],
           glob=sorted(glob.glob(base + "/*.txt")), abspath=os.path.abspath("bin"),
           realpath=os.path.realpath("d/e/../e/f"))

    pathlib.Path("p.txt").write_text("via pathlib\n")
    shutil.copyfile("p.txt", "copy.txt")
    os.rename("copy.txt", "moved.txt")
    moved = open("moved.txt").read()
    os.remove("moved.txt")
    fd, tmp = tempfile.mkstemp(dir=base)
    os.write(fd, b"temp")
    os.close(fd)
    with open(tmp, "rb") as f:
        temp = f.read()
    os.unlink(tmp)
    report(pathlib=[pathlib.Path("p.txt").read_text(), sorted(p.name for p in
                                                               pathlib.Path(".").iterdir())],
           moved=moved, temp=temp.decode(), gone=os.path.exists("moved.txt"),
           tree_removed=shutil.rmtree("d") or os.path.exists("d"))

    report(errors={
        "open": _error(lambda: open("missing")),
        "open_abs": _error(lambda: open(base + "/missing", "rb")),
        "stat": _error(lambda: os.stat("nowhere/x")),
        "listdir": _error(lambda: os.listdir("missing")),
        "dir": _error(lambda: open(base)),
        "exclusive": _error(lambda: open("bin", "x")),
        "rmdir": _error(lambda: os.rmdir(base)),
        "rename": _error(lambda: os.rename("missing", "other")),
        "chown": _error(lambda: os.chown("bin", 0, 0))})

    kept = open("unclosed.txt", "w")                 # never closed: flushed at exit
    kept.write("kept at exit\n")
    KEEP.append(kept)
    return 0


def p_stdio(argv, envp):
    """input(), sys.stdin and print on fds 0 and 1; fork, wait and system through os."""
    first = input("name? ")
    rest = sys.stdin.read()
    try:
        input()
        eof = False
    except EOFError:
        eof = True
    print(f"hello {first}")
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        print("child of", "me" if os.getppid() == me else os.getppid())
        os._exit(5)
    _, status = os.waitpid(pid, 0)
    print("system", os.waitstatus_to_exitcode(os.system("echo from sh; exit 3")))
    report(first=first, rest=rest, eof=eof, child=os.WEXITSTATUS(status),
           names=[sys.stdin.name, sys.stdout.name, sys.stderr.name],
           fds=[sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno()],
           pid=os.getpid(), ppid=os.getppid())
    return 0


