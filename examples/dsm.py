"""Distributed shared memory, shown: a matrix product split across the nodes of a
cluster through one shared segment, and a counter every node increments under a lock.

    mk up --nodes 3
    mk run -d --node n2 examples/dsm.py:matmul 1 3
    mk run -d --node n3 examples/dsm.py:matmul 2 3
    mk run --node n1 examples/dsm.py:matmul 0 3       # prints the check and the time

    mk run -d --node n2 examples/dsm.py:counter 200 3
    mk run -d --node n3 examples/dsm.py:counter 200 3
    mk run --node n1 examples/dsm.py:counter 200 3    # total: 600

`matmul PART PARTS [N]`: part 0 fills A and B (N x N, 96 by default) in segment
"matmulN@n1", every part computes its band of rows of C = A x B into the segment, and
part 0 checks C against the product computed on its own. Plain loads and stores on
shared pages; the barriers of the segment's home keep the phases apart.

The same product with explicit remote IPC messages instead (what `mk bench dsm` times
it against): `mk run -d --node n2 examples/dsm.py:mm_server` (and n3), then
`mk run --node n1 examples/dsm.py:mm_client 96 n2 n3`.
"""
from __future__ import annotations

import array
import enum
import operator
import threading
import time

from microkernel.abi import StringLimits
from protocols.client import Service
from protocols.interface import Interface, call
from protocols.names import Names
from protocols.server import Dispatch, serve
from servers.dsm.segment import Segment

ADDR = 0x4000_0000
N = 96


def _matrices(n: int) -> tuple[array.array, array.array]:
    """A and B, n x n, row-major int32, small values (the sums fit)."""
    a = array.array("i", ((i * 7 + 3) % 10 for i in range(n * n)))
    b = array.array("i", ((i * 5 + 1) % 9 for i in range(n * n)))
    return a, b


def band(a: array.array, b: array.array, n: int, rows: range) -> array.array:
    """Rows `rows` of A x B (A's rows and all of B given row-major)."""
    cols = [b[j::n] for j in range(n)]
    out = array.array("i")
    for i in rows:
        ai = a[(i - rows.start) * n:(i - rows.start + 1) * n]
        out.extend(sum(map(operator.mul, ai, cj)) for cj in cols)
    return out


def _rows(part: int, parts: int, n: int) -> range:
    return range(part * n // parts, (part + 1) * n // parts)


def matmul(rt, part, parts, n=N) -> None:
    """One part of C = A x B over the shared segment (see the module docstring)."""
    part, parts, n = int(part), int(parts), int(n)
    size = -(-3 * n * n * 4 // 4096) * 4096
    seg = Segment.attach(rt, f"matmul{n}@n1", size, ADDR)
    m = n * n * 4                                     # A at 0, B at m, C at 2m
    if part == 0:
        a, b = _matrices(n)
        seg.write(0, a.tobytes())
        seg.write(m, b.tobytes())
    seg.barrier(parts, 0)
    t0 = time.perf_counter()
    rows = _rows(part, parts, n)
    a = array.array("i", seg.read(rows.start * n * 4, len(rows) * n * 4))
    b = array.array("i", seg.read(m, m))
    seg.write(2 * m + rows.start * n * 4, band(a, b, n, rows).tobytes())
    seg.barrier(parts, 1)
    if part == 0:
        c = seg.read(2 * m, m)
        took = time.perf_counter() - t0
        a, b = _matrices(n)
        same = c == band(a, b, n, range(n)).tobytes()
        print(f"C = A x B ({n}x{n}) over {parts} parts: "
              f"{'equals' if same else 'DIFFERS FROM'} the single-node result; "
              f"{took * 1000:.1f} ms", flush=True)
        print(f"RESULT {int(same)} {took:.6f}", flush=True)
    seg.barrier(parts, 2)                             # part 0 has read C: all may go


def counter(rt, times, parts) -> None:
    """Add 1 to a shared counter `times` times under the segment's lock 0; print the
    total once every part is done."""
    seg = Segment.attach(rt, "counter@n1", 4096, ADDR)
    for _ in range(int(times)):
        with seg.locked(0):
            seg.write_u32(0, seg.read_u32(0) + 1)
    seg.barrier(int(parts))
    print(f"total: {seg.read_u32(0)}", flush=True)


class MmOp(enum.IntEnum):
    BAND = 0x3301


MM = Interface("mm", MmOp, {MmOp.BAND: call("n first | a b", "| c")})


class Mm:
    """The message-passing version's server: rows of A and all of B in, rows of C out."""

    def band(self, req, msg):
        a, b = array.array("i", req.a), array.array("i", req.b)
        rows = range(req.first, req.first + len(a) // req.n)
        return (band(a, b, req.n, rows).tobytes(),)


def mm_server(rt) -> None:
    """Register as "mm" and serve MM."""
    Names(rt).register("mm")
    serve(rt, Dispatch(MM, Mm(), rt))


def mm_client(rt, n=N, *nodes) -> None:
    """C = A x B with the bands of `nodes` computed by their "mm" servers (A's rows and
    B sent, C's rows returned, over remote IPC, all at once) and band 0 here."""
    n, parts = int(n), len(nodes) + 1
    a, b = _matrices(n)
    servers = [Service(rt, f"mm@{node}", iface=MM) for node in nodes]
    for s in servers:
        s.server()                                    # looked up before the clock runs
    t0 = time.perf_counter()
    got: dict[int, bytes] = {}

    def ask(rt2, part: int, server: Service, done: threading.Event) -> None:
        rows = _rows(part, parts, n)
        got[part] = server.call(MmOp.BAND, n, rows.start,
                                a[rows.start * n:rows.stop * n].tobytes(), b.tobytes(),
                                limits=StringLimits(count=1, size=1 << 22)).c
        done.set()
    events = [threading.Event() for _ in servers]
    for i, (server, ev) in enumerate(zip(servers, events), 1):
        rt.lthread_ex_regs(10 + i, ask, args=(i, server, ev))
    rows = _rows(0, parts, n)
    got[0] = band(a[:rows.stop * n], b, n, rows).tobytes()
    for ev in events:
        ev.wait(60)
    took = time.perf_counter() - t0
    same = b"".join(got.get(p, b"") for p in range(parts)) == band(a, b, n, range(n)).tobytes()
    print(f"C = A x B ({n}x{n}) by messages over {parts} parts: "
          f"{'equals' if same else 'DIFFERS FROM'} the single-node result; "
          f"{took * 1000:.1f} ms", flush=True)
    print(f"RESULT {int(same)} {took:.6f}", flush=True)
