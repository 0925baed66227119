"""Code for the Unix personality's tests.

`drive` is an ordinary task (started by root, as `mk run` does): it asks the Unix
server to SPAWN one of the `p_*` functions below as a process (SPAWN_MODULE), waits
for it, and prints one JSON line with its wait status and captured output. The `p_*`
functions run as Unix processes: main(argv, envp), libc only, output on fd 1.
"""
import json
import os
import signal
import time

from personalities.unix import libc
from protocols.unix import Unix

HERE = __file__


def drive(rt, func, *argv):
    c = Unix(rt)
    t0 = time.monotonic()
    pid = c.spawn(f"{HERE}:{func}", [func, *argv], module=True)
    status, out = c.wait(pid, timeout=40)
    print(json.dumps({"pid": pid, "status": status, "out": out.decode(errors="replace"),
                      "seconds": round(time.monotonic() - t0, 3)}), flush=True)


def shell(rt, cmd, stdin=""):
    """Run `sh -c CMD` from /bin (a program file on the ext2 image)."""
    c = Unix(rt)
    t0 = time.monotonic()
    pid = c.spawn("/bin/sh", ["sh", "-c", cmd], stdin=stdin.encode())
    status, out = c.wait(pid, timeout=40)
    print(json.dumps({"pid": pid, "status": status, "out": out.decode(errors="replace"),
                      "seconds": round(time.monotonic() - t0, 3)}), flush=True)


def tty_shell(rt, line):
    """Run an interactive /bin/sh on tty line `line` until it exits."""
    c = Unix(rt)
    pid = c.spawn("/bin/sh", ["sh"], stdio=f"tty:{line}")
    print("shell", pid, flush=True)
    status, _ = c.wait(pid, timeout=100)
    print(json.dumps({"pid": pid, "status": status}), flush=True)


def say(*parts) -> None:
    libc.write(1, (" ".join(str(p) for p in parts) + "\n").encode())


# -- processes -----------------------------------------------------------------------

def p_hello(argv, envp):
    say("hello", argv[1:], libc.getpid() > 1, libc.getppid(), envp.get("PATH"))
    print("print works too")
    return 3


def p_fork_wait(argv, envp):
    me = libc.getpid()
    pid = libc.fork()
    if pid == 0:
        say("child", libc.getpid() != me, libc.getppid() == me)
        libc.exit(7)
    wpid, status = libc.waitpid(pid)
    say("parent", wpid == pid, os.WIFEXITED(status), os.WEXITSTATUS(status))
    try:
        libc.wait()
    except OSError as e:
        say("no more children", e.errno == 10)
    return 0


def p_many_children(argv, envp):
    n = int(argv[1])
    pids = set()
    for i in range(n):
        pid = libc.fork()
        if pid == 0:
            libc.exit(i + 1)
        pids.add(pid)
    codes = set()
    for _ in range(n):
        pid, status = libc.wait()
        pids.discard(pid)
        codes.add(os.WEXITSTATUS(status))
    say("all reaped", not pids, sorted(codes) == list(range(1, n + 1)))
    return 0


def p_orphan(argv, envp):
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        if libc.fork() == 0:                      # the grandchild outlives its parent
            libc.close(r)
            while libc.getppid() != 1:
                libc.sleep(0.01)
            libc.write(w, b"adopted by init\n")
            libc.exit(0)
        libc.exit(0)
    libc.close(w)
    libc.waitpid(pid)
    say(libc.read(r, 100).decode().strip())
    return 0


def p_crash(argv, envp):
    raise RuntimeError("boom")


# -- signals -------------------------------------------------------------------------

def p_kill_default(argv, envp):
    sig = int(argv[1])
    pid = libc.fork()
    if pid == 0:
        while True:
            libc.sleep(1)
    libc.kill(pid, sig)
    wpid, status = libc.waitpid(pid)
    say("signalled", os.WIFSIGNALED(status), os.WTERMSIG(status) == sig)
    return 0


def p_handler(argv, envp):
    got = []
    libc.signal(signal.SIGTERM, lambda s, f: got.append(s))
    libc.signal(signal.SIGINT, signal.SIG_IGN)
    libc.kill(libc.getpid(), signal.SIGINT)               # ignored
    libc.kill(libc.getpid(), signal.SIGTERM)              # handled
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        sum(range(1000))                                  # running Python: signal thread
    say("handled while running", got == [signal.SIGTERM])
    r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        libc.sleep(0.2)
        libc.kill(libc.getppid(), signal.SIGTERM)
        libc.sleep(0.2)
        libc.write(w, b"x")
        libc.exit(0)
    data = libc.read(r, 1)                                # blocked: EINTR, handler, restart
    say("handled while blocked", got == [signal.SIGTERM] * 2, data)
    libc.waitpid(pid)
    return 0


def p_pause(argv, envp):
    got = []
    libc.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    pid = libc.fork()
    if pid == 0:
        libc.sleep(0.1)
        libc.kill(libc.getppid(), signal.SIGUSR1)
        libc.exit(0)
    libc.pause()
    say("pause returned", got)
    libc.waitpid(pid)
    return 0


def p_sigchld(argv, envp):
    got = []
    libc.signal(signal.SIGCHLD, lambda s, f: got.append(s))
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    libc.waitpid(pid)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        libc.sleep(0.01)
    say("sigchld", got == [signal.SIGCHLD])
    libc.signal(signal.SIGCHLD, signal.SIG_IGN)           # no zombies from now on
    pid = libc.fork()
    if pid == 0:
        libc.exit(0)
    try:
        libc.waitpid(pid)
        say("zombie left")
    except OSError as e:
        say("auto-reaped", e.errno == 10)
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
    while True:
        chunk = libc.read(r, 4096)
        if not chunk:
            break
        data += chunk
    libc.waitpid(pid)
    say("got", data.decode().split("\n")[:3], "eof")
    return 0


def p_big_pipe(argv, envp):
    """More than the pipe holds: the writer blocks until the reader takes."""
    r, w = libc.pipe()
    blob = bytes(range(256)) * 1024                       # 256 KiB
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
    say("big", got == blob, os.WEXITSTATUS(status))
    return 0


def p_epipe(argv, envp):
    r, w = libc.pipe()
    libc.close(r)
    libc.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        libc.write(w, b"x")
    except OSError as e:
        say("epipe", e.errno == 32)
    libc.signal(signal.SIGPIPE, signal.SIG_DFL)
    pid = libc.fork()
    if pid == 0:
        libc.write(w, b"x")                               # SIGPIPE kills it
        libc.exit(0)
    _, status = libc.waitpid(pid)
    say("sigpipe", os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGPIPE)
    return 0


def p_dup(argv, envp):
    r, w = libc.pipe()
    saved = libc.dup(1)
    libc.dup2(w, 1)                                       # fd 1 is now the pipe
    libc.write(1, b"through fd 1\n")
    libc.dup2(saved, 1)
    libc.close(saved)
    libc.close(w)
    say("read back", libc.read(r, 100))
    say("eof after last writer closed", libc.read(r, 100) == b"")
    try:
        libc.close(w)
    except OSError as e:
        say("ebadf", e.errno == 9)
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
    say("both", sorted(libc.read(r, 10).decode()), libc.read(r, 10))
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
        libc.write(w, before + b"|" + libc.peek(addr, 11))
        libc.exit(0)
    libc.waitpid(pid)
    say("child saw", libc.read(r, 100).decode(), "parent has", libc.peek(addr, 11).decode())
    return 0


# -- files through libc (needs the fs server) ------------------------------------------

def p_files(argv, envp):
    import errno
    import stat
    d = "/tmp/pf"
    libc.mkdir(d, 0o755)
    libc.chdir(d)
    say("cwd", libc.getcwd())
    fd = libc.open("f", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o640)
    say("wrote", libc.write(fd, b"0123456789"))
    say("seek", libc.lseek(fd, 2, os.SEEK_SET), libc.read(fd, 3), libc.lseek(fd, 0, os.SEEK_CUR),
        libc.lseek(fd, -1, os.SEEK_END), libc.read(fd, 10), libc.read(fd, 10))
    st = libc.fstat(fd)
    say("fstat", stat.S_ISREG(st.st_mode), oct(st.st_mode & 0o777), st.st_size)
    libc.close(fd)
    fd = libc.open("f", os.O_WRONLY | os.O_APPEND)
    libc.write(fd, b"AB")
    libc.close(fd)
    libc.link("f", "g")
    libc.rename("g", "h")
    say("stat", libc.stat("h").st_nlink, libc.stat(f"{d}/f").st_size, sorted(libc.listdir(".")))
    names = {n: t for n, _, t in libc.readdir(d)}
    say("readdir", sorted(names), names["f"])
    for what, fn in (("enoent", lambda: libc.open("nope")),
                     ("eexist", lambda: libc.open("f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
                     ("eisdir", lambda: libc.open(d, os.O_WRONLY)),
                     ("enotdir", lambda: libc.chdir("f")),
                     ("enotempty", lambda: libc.rmdir(d)),
                     ("ebadf", lambda: libc.read(42, 1))):
        try:
            fn()
            say(what, "no error")
        except OSError as e:
            say(what, errno.errorcode[e.errno])
    libc.unlink("f")
    libc.unlink("h")
    libc.chdir("/")
    libc.rmdir(d)
    say("gone", "pf" not in libc.listdir("/tmp"))
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
    say("exec", out.decode() == f"{pid}\n", os.WEXITSTATUS(status))
    try:
        libc.execve("/etc/motd", ["motd"], {})
    except OSError as e:
        say("enoexec", e.errno == 8)
    return 0


def p_sleeper(argv, envp):
    if libc.fork() == 0:
        libc.sleep(60)
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
    say("hostile answered", answered, "refused", refused > 1000, "pid", libc.getpid() > 0)
    return 0
