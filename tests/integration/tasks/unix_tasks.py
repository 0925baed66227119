"""Code for the Unix personality's tests: the tasks that drive the Unix server, and
the processes that test process lifecycle (test_unix_proc.py).

`drive` is an ordinary task (started by root, as `mk run` does): it asks the Unix
server to SPAWN one of the `p_*` functions below as a process (SPAWN_MODULE), waits
for it, and reports its wait status and captured output as facts (unix_common.driver).
The `p_*` functions run as Unix processes: main(argv, envp), libc only; what they find
they report as facts on fd 1 (report() prints, and a process's sys.stdout is its fd 1),
which the tests read from the captured output. `shell` runs `sh -c CMD`, `tty_shell`
a shell on a tty line, `processes` reports the Unix server's process table.

The processes here fork, wait, exit, crash and misbehave; signals are
unix_signal_tasks.py's, pipes and descriptors unix_pipe_tasks.py's, files and exec
unix_file_tasks.py's.
"""
import errno
import os
import signal
import sys
import time

from microkernel.user.testing import report, wait_until
from personalities.unix import libc
from protocols.unix import Unix

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from unix_common import driver, ended, error  # noqa: E402

drive = driver(__file__)


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
