"""Code for the Unix personality's tests.

`drive` is an ordinary task (started by root, as `mk run` does): it asks the Unix
server to SPAWN one of the `p_*` functions below as a process (SPAWN_MODULE), waits
for it, and reports its wait status and captured output as facts. The `p_*` functions
run as Unix processes: main(argv, envp), libc only; what they find they report as
facts on fd 1 (report() prints, and a process's sys.stdout is its fd 1), which the
tests read from the captured output. `shell` runs `sh -c CMD`, `tty_shell` a shell on
a tty line, `processes` reports the Unix server's process table.
"""
import errno
import os
import signal
import time

from microkernel.user.testing import report, wait_until
from personalities.unix import libc
from protocols.unix import Unix

HERE = __file__


def drive(rt, func, *argv):
    c = Unix(rt)
    t0 = time.monotonic()
    pid = c.spawn(f"{HERE}:{func}", [func, *argv], module=True)
    status, out = c.wait(pid, timeout=40)
    report(pid=pid, status=status, out=out.decode(errors="replace"),
           seconds=round(time.monotonic() - t0, 3))


def shell(rt, cmd, stdin=""):
    """Run `sh -c CMD` from /bin (a program file on the ext2 image)."""
    c = Unix(rt)
    t0 = time.monotonic()
    pid = c.spawn("/bin/sh", ["sh", "-c", cmd], stdin=stdin.encode())
    status, out = c.wait(pid, timeout=40)
    report(pid=pid, status=status, out=out.decode(errors="replace"),
           seconds=round(time.monotonic() - t0, 3))


def tty_shell(rt, line):
    """Run an interactive /bin/sh on tty line `line` until it exits."""
    c = Unix(rt)
    pid = c.spawn("/bin/sh", ["sh"], stdio=f"tty:{line}")
    report(pid=pid)
    status, _ = c.wait(pid, timeout=100)
    report(status=status)


def processes(rt):
    """The Unix server's processes, as ps lists them."""
    rows = [row.split(" ", 4) for row in Unix(rt).ps()]
    report(processes=[{"pid": int(p), "ppid": int(pp), "pgrp": int(g), "state": s, "name": n}
                      for p, pp, g, s, n in rows])


def ended(status: int):
    """How a wait status says a process ended: its exit code, or its signal's name."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return signal.Signals(os.WTERMSIG(status)).name


def error(fn) -> str:
    """The errno name fn() raised ("no error" if none)."""
    try:
        fn()
        return "no error"
    except OSError as e:
        return errno.errorcode[e.errno]


def in_blocking_call(tid) -> bool:
    """Thread `tid` (another process's main thread) waits for the Unix server's answer.
    A parent here makes no call after fork but the blocking one under test, so from
    its child this says that the parent is in it."""
    s = libc._s.rt.thread_schedule(tid)
    return s["state"] == "receiving" and s["partner"] == libc._s.unix.tid


# -- processes -----------------------------------------------------------------------

def p_hello(argv, envp):
    """Arguments, ids and environment; output through write(2) and through print."""
    libc.write(1, b"written\n")
    print("printed")
    report(argv=argv[1:], pid=libc.getpid(), ppid=libc.getppid(), path=envp.get("PATH"))
    return 3


def p_fork_wait(argv, envp):
    me = libc.getpid()
    pid = libc.fork()
    if pid == 0:
        report(child_pid=libc.getpid(), child_ppid=libc.getppid())
        libc.exit(7)
    wpid, status = libc.waitpid(pid)
    report(parent_pid=me, forked=pid, waited=wpid, child=ended(status),
           wait_again=error(libc.wait))
    return 0


def p_many_children(argv, envp):
    n = int(argv[1])
    pids = set()
    for i in range(n):
        pid = libc.fork()
        if pid == 0:
            libc.exit(i + 1)
        pids.add(pid)
    codes = []
    for _ in range(n):
        pid, status = libc.wait()
        pids.discard(pid)
        codes.append(ended(status))
    report(not_reaped=pids, codes=sorted(codes, key=str))     # a signal's name sorts too
    return 0


def p_fork_bomb(argv, envp):
    """Fork children that wait for a signal until fork says no; then end them all."""
    pids, refused = [], None
    t0 = time.monotonic()
    while len(pids) < 10_000:
        try:
            pid = libc.fork()
        except OSError as e:
            refused = errno.errorcode[e.errno]
            break
        if pid == 0:
            while True:
                libc.pause()
        pids.append(pid)
    seconds = round(time.monotonic() - t0, 2)
    for pid in pids:
        libc.kill(pid, signal.SIGKILL)
    reaped = sum(1 for _ in pids if libc.wait())
    report(forked=len(pids), refused=refused, reaped=reaped, seconds=seconds)
    return 0


def p_orphan(argv, envp):
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        if libc.fork() == 0:                      # the grandchild outlives its parent
            libc.close(r)
            wait_until(lambda: libc.getppid() == 1, 10, "the orphan's adoption")
            libc.write(w, b"%d" % libc.getppid())
            libc.exit(0)
        libc.exit(0)
    libc.close(w)
    libc.waitpid(pid)
    said = libc.read(r, 100)                      # b"" if the grandchild failed
    report(orphan_ppid=int(said) if said else None)
    return 0


def p_crash(argv, envp):
    raise RuntimeError("boom")


# -- signals -------------------------------------------------------------------------

def p_kill_default(argv, envp):
    sig = int(argv[1])
    pid = libc.fork()
    if pid == 0:
        while True:
            libc.sleep(1)                                 # until the signal ends it
    libc.kill(pid, sig)
    _, status = libc.waitpid(pid)
    report(child=ended(status))
    return 0


def p_handler(argv, envp):
    got = []
    libc.signal(signal.SIGTERM, lambda s, f: got.append(signal.Signals(s).name))
    libc.signal(signal.SIGINT, signal.SIG_IGN)
    libc.kill(libc.getpid(), signal.SIGINT)               # ignored
    libc.kill(libc.getpid(), signal.SIGTERM)              # handled
    wait_until(lambda: got, 5, "the handler (running: by the signal thread)")
    report(handled_while_running=got)
    r, w = libc.pipe()
    parent = libc._s.rt.myself()
    pid = libc.fork()
    if pid == 0:
        wait_until(lambda: in_blocking_call(parent), 5, "the parent to block in read")
        libc.kill(libc.getppid(), signal.SIGTERM)
        wait_until(lambda: in_blocking_call(parent), 5, "the parent's read to restart")
        libc.write(w, b"x")
        libc.exit(0)
    data = libc.read(r, 1)                                # blocked: EINTR, handler, restart
    report(handled=got, read=data)
    libc.waitpid(pid)
    return 0


def p_pause(argv, envp):
    got = []
    libc.signal(signal.SIGUSR1, lambda s, f: got.append(signal.Signals(s).name))
    parent = libc._s.rt.myself()
    pid = libc.fork()
    if pid == 0:
        wait_until(lambda: in_blocking_call(parent), 5, "the parent to pause")
        libc.kill(libc.getppid(), signal.SIGUSR1)
        libc.exit(0)
    libc.pause()
    report(pause_returned_after=got)
    libc.waitpid(pid)
    return 0


def p_sigchld(argv, envp):
    got = []
    libc.signal(signal.SIGCHLD, lambda s, f: got.append(signal.Signals(s).name))
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    libc.waitpid(pid)
    wait_until(lambda: got, 5, "SIGCHLD")
    report(sigchld=got)
    libc.signal(signal.SIGCHLD, signal.SIG_IGN)           # no zombies from now on
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    report(wait_ignored=error(lambda: libc.waitpid(pid)))
    return 0


# -- pipes and descriptors -----------------------------------------------------------

def p_pipe(argv, envp):
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        libc.close(r)
        for i in range(3):
            libc.write(w, b"line %d\n" % i)
        libc.exit(0)
    libc.close(w)
    data = b""
    while chunk := libc.read(r, 4096):                    # to end of file
        data += chunk
    libc.waitpid(pid)
    report(received=data)
    return 0


def p_big_pipe(argv, envp):
    """More than the pipe holds: the writer blocks until the reader takes."""
    r, w = libc.pipe()
    blob = bytes(range(256)) * 4096                       # 1 MiB: four pipes full
    pid = libc.fork()
    if pid == 0:
        libc.close(r)
        n = libc.write(w, blob)
        libc.exit(0 if n == len(blob) else 1)
    libc.close(w)
    got = bytearray()
    while chunk := libc.read(r, 65536):
        got += chunk
    _, status = libc.waitpid(pid)
    report(received=len(got), same=got == blob, writer=ended(status))
    return 0


def p_epipe(argv, envp):
    r, w = libc.pipe()
    libc.close(r)
    libc.signal(signal.SIGPIPE, signal.SIG_IGN)
    report(write_ignoring=error(lambda: libc.write(w, b"x")))
    libc.signal(signal.SIGPIPE, signal.SIG_DFL)
    pid = libc.fork()
    if pid == 0:
        libc.write(w, b"x")                               # SIGPIPE kills it
        libc.exit(0)
    _, status = libc.waitpid(pid)
    report(writer=ended(status))
    return 0


def p_dup(argv, envp):
    r, w = libc.pipe()
    saved = libc.dup(1)
    libc.dup2(w, 1)                                       # fd 1 is now the pipe
    libc.write(1, b"through fd 1\n")
    libc.dup2(saved, 1)
    libc.close(saved)
    libc.close(w)
    report(read_back=libc.read(r, 100))
    report(after_last_writer=libc.read(r, 100), close_again=error(lambda: libc.close(w)))
    return 0


def p_shared_fd(argv, envp):
    """Parent and child share one pipe end through fork; the reader sees both."""
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        libc.write(w, b"c")
        libc.exit(0)
    libc.waitpid(pid)
    libc.write(w, b"p")
    libc.close(w)
    report(read=sorted(libc.read(r, 10).decode()), then=libc.read(r, 10))
    return 0


def p_cow(argv, envp):
    """fork copies the address space copy-on-write."""
    addr = libc.mmap(8192)
    libc.poke(addr, b"parent data")
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        before = libc.peek(addr, 11)
        libc.poke(addr, b"child wrote")
        libc.write(w, before + libc.peek(addr, 11))
        libc.exit(0)
    libc.waitpid(pid)
    child = libc.read(r, 100)
    report(child_saw=child[:11], child_has=child[11:], parent_has=libc.peek(addr, 11))
    return 0


# -- files through libc (needs the fs server) ------------------------------------------

def p_files(argv, envp):
    import stat
    d = "/tmp/pf"
    libc.mkdir(d, 0o755)
    libc.chdir(d)
    report(cwd=libc.getcwd())
    fd = libc.open("f", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
    report(wrote=libc.write(fd, b"0123456789"))
    report(seek=[libc.lseek(fd, 2, os.SEEK_SET), libc.read(fd, 3),
                 libc.lseek(fd, 0, os.SEEK_CUR), libc.lseek(fd, -1, os.SEEK_END),
                 libc.read(fd, 10), libc.read(fd, 10)])
    st = libc.fstat(fd)
    report(fstat={"regular": stat.S_ISREG(st.st_mode), "mode": st.st_mode & 0o777,
                  "size": st.st_size})
    libc.close(fd)
    fd = libc.open("f", os.O_WRONLY | os.O_APPEND)
    libc.write(fd, b"AB")
    libc.close(fd)
    libc.link("f", "g")
    libc.rename("g", "h")
    report(links=libc.stat("h").st_nlink, appended_size=libc.stat(f"{d}/f").st_size,
           listdir=sorted(libc.listdir(".")))
    types = {n: t for n, _, t in libc.readdir(d)}
    report(readdir=sorted(types), f_type=types["f"])
    report(errors={
        "enoent": error(lambda: libc.open("nope")),
        "eexist": error(lambda: libc.open("f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
        "eisdir": error(lambda: libc.open(d, os.O_WRONLY)),
        "enotdir": error(lambda: libc.chdir("f")),
        "enotempty": error(lambda: libc.rmdir(d)),
        "ebadf": error(lambda: libc.read(42, 1))})
    libc.unlink("f")
    libc.unlink("h")
    libc.chdir("/")
    libc.rmdir(d)
    report(tmp_after=libc.listdir("/tmp"))
    libc.sync()
    return 0


def p_exec(argv, envp):
    """execve keeps the pid and fds without close-on-exec."""
    r, w = libc.pipe()
    keep = libc.dup(w)
    libc.set_cloexec(w)
    pid = libc.fork()
    if pid == 0:
        libc.dup2(keep, 1)
        libc.execve("/bin/sh", ["sh", "-c", f"echo $$; echo x >&{w}"], {"PATH": "/bin"})
    libc.close(w)
    libc.close(keep)
    out = b""
    while chunk := libc.read(r, 100):
        out += chunk
    _, status = libc.waitpid(pid)
    report(child=pid, shell_said=out, shell=ended(status),
           exec_motd=error(lambda: libc.execve("/etc/motd", ["motd"], {})))
    return 0


def p_sleeper(argv, envp):
    if libc.fork() == 0:
        libc.sleep(60)                                    # until the test kills the server
    libc.sleep(60)


def p_hostile(argv, envp):
    """Send the Unix server 2,000 random and mutated system calls: every one must be
    answered with a status word (an errno or success), and the server must go on."""
    import random
    from microkernel.abi import Msg
    from protocols.unix import Op
    rng = random.Random(int(argv[1]) if len(argv) > 1 else 7)
    # every call but those that may rightly block, end the process, start processes or
    # close its own stdout: those are exercised by the other tests (TTY_SIGNAL and
    # WORKER_DONE are refused to a process)
    unsafe = {"EXIT", "FORK", "FORK_ABORT", "EXECVE", "WAIT", "KILL", "SIGWAIT", "PAUSE",
              "SLEEP", "READ", "WRITE", "SPAWN", "SPAWN_MODULE", "SPAWN_WAIT", "MMAP",
              "CLOSE", "DUP2", "SETPGID", "TCSETPGRP", "SIGACTION"}
    ops = sorted(op for op in Op if op.name not in unsafe)
    rt, unix = libc._s.rt, libc._s.unix.tid
    answered = refused = 0
    for _ in range(2000):
        words = [rng.choice(ops + [0, 0xFFFFFFFF, rng.getrandbits(32)])]
        words += [rng.choice([0, 1, 2, 0xFFFFFFFF, rng.getrandbits(32)])
                  for _ in range(rng.choice([0, 2, 3, 5, 9]))]
        if len(words) == 2:
            words.append(0)                               # two words are a page fault
        strings = tuple(rng.randbytes(rng.choice([0, 1, 40, 300])) for _ in range(rng.choice([0, 1, 2])))
        r = rt.call(unix, Msg(words=tuple(words), strings=strings), timeout=5)
        answered += 1
        refused += bool(r.words and r.words[0])
    report(answered=answered, refused=refused, pid=libc.getpid())
    return 0
