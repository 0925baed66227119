"""Task and process code for `mk bench unix` (bench/unix.py drives it).

`drive` is an ordinary task, started through root as `mk run` does: it asks the Unix
server to SPAWN_MODULE one of the `p_*` functions below as a Unix process (child of
init, output captured), prints `PID <pid>`, waits for it, and prints
`DONE <json: wait status, output>`.

The `p_*` functions are Unix processes: main(argv, envp), the personality's libc for
everything measured. They talk to the bench through the host, outside the system being
measured (as bench/ipc_tasks.py does): each appends lines to a host file, `READY` once
set up and `STEP<r> <json>` per step, and waits for step r by opening a FIFO the bench
made, which blocks in the host kernel using no CPU. So the bench can interleave its
host floors with the process's repeats. A process's `open` is the node's
(personalities/unix/nodeio/), so these host files are opened with `host.open`.

Times are `time.perf_counter_ns` in the process that makes the calls, ns per operation.
"""
from __future__ import annotations

import json
import os
import time

from microkernel.abi import IpcError, Msg
from personalities.unix.nodeio import host
from protocols.unix import UNIX, Op, Unix

__all__ = ["drive", "p_micro", "p_procs", "big_data", "step_path", "wait_go",
           "create_files", "BIG_PATH", "PIPELINE", "BLOCK", "READ_FILE_BLOCKS", "CREATE_DIR"]

_now = time.perf_counter_ns
BLOCK = 4096
READ_FILE_BLOCKS = 64             # the read bench's file: 256 KiB, read 4 KiB at a time
READ_PATH = "/tmp/bench4k"
BIG_PATH = "/tmp/big"
PIPELINE = "cat {path} | grep x | wc -l"
CREATE_DIR = "/tmp/many"
ECHO_LTHREAD = 2                  # lthread 1 is libc's signal thread
QUIT = 0xFFFF_B0FF
WARMUP = 20
PAIR_BLOCK = 10                   # calls per block when getpid alternates with its floor


def big_data(size: int = 1 << 20) -> bytes:
    """`size` bytes of text lines; every third line holds an 'x' (grep's pattern)."""
    out, i = bytearray(), 0
    while len(out) < size:
        out += b"line %06d %s\n" % (i, b"x marks it" if i % 3 == 0 else b"nothing here")
        i += 1
    del out[size:]
    out[-1:] = b"\n"
    return bytes(out)


def step_path(steps: str, r: int) -> str:
    """The FIFO a stepped process opens before its step r (`steps` is a path prefix)."""
    return f"{steps}-{r}"


def wait_go(path: str) -> None:
    """Block until the bench opens the FIFO `path` for writing, and closes it."""
    with host.open(path, "rb") as f:
        f.read()


def _report(results: str, line: str) -> None:
    with host.open(results, "a") as f:
        f.write(line + "\n")


def _stepped(results: str, steps: str, repeats: int, measure) -> None:
    _report(results, "READY")
    for r in range(repeats):
        wait_go(step_path(steps, r))
        _report(results, f"STEP{r} " + json.dumps(measure()))


def _per_op(fn, n: int) -> float:
    t0 = _now()
    fn(n)
    return (_now() - t0) / n


def _alternating(fns: dict, n: int) -> dict:
    """ns per call of each of `fns` (name -> f(k)), n calls each, in alternating blocks
    of PAIR_BLOCK, each block after one untimed call: each side is timed warm, yet both
    share the host's moments (as bench/ipc_tasks.py pairs the kernel with its floor)."""
    total = dict.fromkeys(fns, 0)
    blocks = max(1, n // PAIR_BLOCK)
    for _ in range(blocks):
        for name, fn in fns.items():
            fn(1)
            t0 = _now()
            fn(PAIR_BLOCK)
            total[name] += _now() - t0
    return {name: t / (blocks * PAIR_BLOCK) for name, t in total.items()}


# -- the driver task ---------------------------------------------------------------

def drive(rt, entry: str, *argv) -> None:
    """SPAWN_MODULE `entry` as a Unix process with `argv`; report its end."""
    c = Unix(rt)
    pid = c.spawn(entry, [entry.rsplit(":", 1)[-1], *argv], module=True)
    print(f"PID {pid}", flush=True)
    status, out = c.wait(pid)
    print("DONE " + json.dumps({"status": status, "out": out.decode(errors="replace")}),
          flush=True)


# -- processes -----------------------------------------------------------------------

def _echo(rt) -> None:
    """lthread ECHO_LTHREAD of the process: answer each call with its own words."""
    msg = rt.wait()
    while msg.words[:1] != (QUIT,):
        try:
            msg = rt.reply_and_wait(msg.sender, Msg(words=msg.words))
        except IpcError:
            msg = rt.wait()
    rt.send(msg.sender, Msg(words=(0,)), timeout=0)


def p_micro(argv, envp) -> int:
    """argv: results, steps, repeats, n. Per step, n of each: a null RPC to this
    process's own second lthread (the floor) and the GETPID system call, in alternating
    blocks; then libc.getpid() and a read(2) of 4 KiB served by the fs server's buffer
    cache."""
    from personalities.unix import libc
    results, steps, repeats, n = argv[1], argv[2], int(argv[3]), int(argv[4])
    rt = libc._s.rt
    rt.lthread_ex_regs(ECHO_LTHREAD, _echo)
    me2 = rt.myself().lthread_id(ECHO_LTHREAD)
    null_msg = UNIX.request(Op.GETPID)            # the same words as the system call
    fd = libc.open(READ_PATH, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    for i in range(READ_FILE_BLOCKS):
        libc.write(fd, bytes([i]) * BLOCK)
    libc.close(fd)
    fd = libc.open(READ_PATH, os.O_RDONLY)
    while libc.read(fd, 65536):                   # every block in the cache once
        pass
    libc.lseek(fd, 0, os.SEEK_SET)
    bad = []

    def null(k):
        call = rt.call
        for _ in range(k):
            call(me2, null_msg)

    def getpid_libc(k):
        getpid = libc.getpid
        for _ in range(k):
            getpid()

    def getpid_call(k):
        call, op = libc._s.unix.call, Op.GETPID
        for _ in range(k):
            call(op)

    at = [0]                                      # the block the file offset is at

    def read(k):
        rd, seek, i = libc.read, libc.lseek, at[0]
        for _ in range(k):
            data = rd(fd, BLOCK)
            if len(data) != BLOCK or data[0] != i:
                bad.append(i)
            i += 1
            if i == READ_FILE_BLOCKS:             # one lseek (no fs IPC) per 64 reads
                seek(fd, 0, os.SEEK_SET)
                i = 0
        at[0] = i

    tests = {"getpid_libc": getpid_libc, "read_4k": read}
    pair = {"null_rpc_local": null, "getpid_call": getpid_call}
    for fn in (*tests.values(), *pair.values()):
        fn(WARMUP)

    def measure() -> dict:
        out = _alternating(pair, n)
        out.update((name, _per_op(fn, n)) for name, fn in tests.items())
        out["read_ok"] = not bad
        return out
    _stepped(results, steps, repeats, measure)
    rt.call(me2, Msg(words=(QUIT, 0, 0)), timeout=5.0)
    libc.close(fd)
    libc.unlink(READ_PATH)
    return 0


def _fork_exec_wait(libc, path: str, argv: list, out: bool = False):
    """fork; the child execs `path`; the parent waits. With `out`, the child's fd 1 is
    a pipe, read to its end by the parent: (status, bytes); else the status."""
    if out:
        r, w = libc.pipe()
    pid = libc.fork()
    if pid == 0:
        try:
            if out:
                libc.dup2(w, 1)
                libc.close(r)
                libc.close(w)
            libc.execve(path, argv, libc.environ)
        finally:
            libc.exit(127)
    if not out:
        return libc.waitpid(pid, 0)[1]
    libc.close(w)
    data = bytearray()
    while chunk := libc.read(r, 65536):
        data += chunk
    libc.close(r)
    return libc.waitpid(pid, 0)[1], bytes(data)


def create_files(api, top: str, n: int) -> int:
    """ns per file for creating `n` empty files (open O_CREAT|O_EXCL|O_WRONLY, close)
    in a new directory `top`; then, untimed, they and `top` are removed. `api` is the
    host's os or the personality's libc: the same calls on either."""
    api.mkdir(top, 0o755)
    names = [f"{top}/f{i:05d}" for i in range(n)]
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY
    t0 = _now()
    for name in names:
        api.close(api.open(name, flags, 0o644))
    took = _now() - t0
    for name in names:
        api.unlink(name)
    api.rmdir(top)
    return took // n


def p_procs(argv, envp) -> int:
    """argv: results, steps, repeats, forks, pipelines, MiB, files. Writes BIG_PATH
    (MiB of `big_data`); per step: `forks` times posix_spawn /bin/true + wait and
    `forks` times fork + exec /bin/true + wait, taking turns, then
    `pipelines` times fork + exec `sh -c 'cat BIG | grep x | wc -l'` with its output
    read through a pipe, and checked, then the creation of `files` empty files."""
    from personalities.unix import libc
    results, steps, repeats = argv[1], argv[2], int(argv[3])
    forks, pipes, size = int(argv[4]), int(argv[5]), int(float(argv[6]) * (1 << 20))
    files = int(argv[7])
    data = big_data(size)
    expect = sum(1 for ln in data.split(b"\n") if b"x" in ln)
    fd = libc.open(BIG_PATH, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    libc.write(fd, data)
    libc.close(fd)
    cmd = ["sh", "-c", PIPELINE.format(path=BIG_PATH)]
    bad: list = []

    def true_once() -> int:
        t0 = _now()
        status = _fork_exec_wait(libc, "/bin/true", ["true"])
        if status:
            bad.append(f"/bin/true: status {status}")
        return _now() - t0

    def spawn_once() -> int:
        t0 = _now()
        status = libc.waitpid(libc.posix_spawn("/bin/true", ["true"], libc.environ), 0)[1]
        if status:
            bad.append(f"spawned /bin/true: status {status}")
        return _now() - t0

    def pipeline_once() -> int:
        t0 = _now()
        status, got = _fork_exec_wait(libc, "/bin/sh", cmd, out=True)
        if status or got.strip() != str(expect).encode():
            bad.append(f"pipeline: status {status}, output {got[:80]!r}, want {expect}")
        return _now() - t0

    true_once()                                    # programs' texts cached, fs warm
    spawn_once()
    pipeline_once()

    def measure() -> dict:
        pairs = [(spawn_once(), true_once()) for _ in range(forks)]
        p = [pipeline_once() for _ in range(pipes)]
        c = create_files(libc, CREATE_DIR, files)
        return {"spawn_wait": [a for a, _ in pairs], "fork_exec_wait": [b for _, b in pairs],
                "pipeline": p, "create_file": [c], "errors": bad[:5]}
    _stepped(results, steps, repeats, measure)
    libc.unlink(BIG_PATH)
    return 0
