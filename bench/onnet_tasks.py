"""Task and process code of the Unix-across-nodes figures of `mk bench net`
(bench/onnet.py): `client` is an ordinary task on n1 that measures the floors itself
and SPAWN_MODULEs the `p_*` functions as Unix processes of n1 for the figures, one
after the other in each repeat. A process prints its times (ns) as its output, which
SPAWN_WAIT returns. Result lines of the task: `WORD rest`.
"""
from __future__ import annotations

import time

from microkernel.abi import Msg, StringLimits
from protocols.unix import Unix

from bench.remote_tasks import far_echo, median_ns

__all__ = ["client", "p_read", "p_on"]

_ns = time.perf_counter_ns
MIB = 1 << 20
FILE = "/tmp/onnet-big"


def _spawned(rt, func: str, *argv) -> list[float]:
    """Run `func` of this file as a Unix process of this node; the numbers it printed."""
    unix = Unix(rt)
    entry = f"{__file__}:{func}"
    pid = unix.spawn(entry, [func, *map(str, argv)], module=True)
    status, out = unix.wait(pid, timeout=120)
    if status:
        raise RuntimeError(f"{func}: status {status}: {out.decode(errors='replace')}")
    return [float(x) for x in out.split()]


def client(rt, node, repeats, n):
    """Per repeat: a 1 MiB string to `node`'s echo and back (the floor) then a read
    of a 1 MiB file of `node` through /net; a remote null RPC, then `true` run locally
    (fork + exec + wait), by the shell's `on node` and by /bin/on (medians of n)."""
    repeats, n = int(repeats), int(n)
    far = far_echo(rt, node)
    _spawned(rt, "p_write", node)
    data = bytes(MIB)
    for r in range(repeats):
        t = _ns()
        rt.call(far, Msg(words=(0,), strings=(data,)), limits=StringLimits())
        string = _ns() - t
        read, = _spawned(rt, "p_read", node)
        rpc = median_ns(lambda: rt.call(far, Msg(words=(0,))), 20)
        true, on, on_prog = _spawned(rt, "p_on", node, n)
        print("ROUND", r, string, read, rpc, true, on, on_prog, flush=True)
    print("DONE", flush=True)


def p_write(argv, envp) -> int:
    """Write the 1 MiB file on node argv[1] (through /net)."""
    from personalities.unix import libc
    import os
    fd = libc.open(f"/net/{argv[1]}{FILE}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    for _ in range(MIB // 65536):
        libc.write(fd, b"x" * 65536)
    libc.close(fd)
    return 0


def p_read(argv, envp) -> int:
    """Read the 1 MiB file of node argv[1] through /net; print the ns it took."""
    from personalities.unix import libc
    t = _ns()
    got = len(libc.read_all(f"/net/{argv[1]}{FILE}"))
    took = _ns() - t
    if got != MIB:
        return 1
    print(took, flush=True)
    return 0


def p_on(argv, envp) -> int:
    """Medians of argv[2] runs of /bin/true (fork + exec + wait), of `on argv[1] true`
    as the shell's builtin runs it (the ON system call), and of /bin/on (fork + exec
    + wait), in ns."""
    from personalities.unix import libc
    node, n = argv[1], int(argv[2])

    def run(path, args):
        def once():
            pid = libc.fork()
            if pid == 0:
                try:
                    libc.execve(path, args, libc.environ)
                finally:
                    libc.exit(127)
            if libc.waitpid(pid, 0)[1]:
                raise RuntimeError(f"{args} failed")
        return once

    def builtin():
        if libc.on(node, ["/bin/true"], libc.environ):
            raise RuntimeError("on failed")
    print(median_ns(run("/bin/true", ["true"]), n), median_ns(builtin, n),
          median_ns(run("/bin/on", ["on", node, "/bin/true"]), n), flush=True)
    return 0
