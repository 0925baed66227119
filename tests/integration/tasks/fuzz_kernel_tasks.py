"""A hostile task: it sends the kernel random and mutated requests on its own sockets.

`fuzz(rt, seed, total, threads, partner, check_every)` runs `threads` workers (lthread
0, 1, ...), each with its own seed, that together send `total` requests, one
outstanding per thread (no pipelining: every request must be answered before the next
goes). `partner` is the id of a `sink` task (in another address space, answering and
mapping back) that most IPCs aim at; with `check_every`, lthread 0 stops the others and
runs the kernel's self-check through the control port that often, while the fuzz and
its partner are still live. The mix:

  * raw random bytes as the header frame, and valid msgpack of random structures;
  * mutations of valid requests of every operation: a field replaced by junk (wrong
    types, out-of-range and negative ints, 2**64, floats, None, strings, bytes, huge and
    nested lists, maps), fields dropped, added or swapped, bit flips, extra frames,
    bogus thread ids, fpage words with bad sizes and alignments, I/O fpages, timeout
    words, receive modes;
  * requests from a socket that never said HELLO, and HELLOs with wrong secrets;
  * valid requests whose answer is known and checked (id_nearest(nil) is myself, an IPC
    with send timeout 0 to a thread that does not exist is NOT_EXISTENT, ...), and a few
    state-changing cycles: EXIT then HELLO again on the same socket, a spare lthread that
    attaches on a socket of its own, page faults resolved by the pager.

Nothing may block for long: before a request goes out it is decoded here exactly as the
kernel will decode it, and an IPC whose timeouts are long or never has them shortened
to at most about 1 ms (a real hostile task could block itself forever, which is legal
and not the kernel's fault). A page fault's address is moved onto a few known pages
(each one costs the pager a frame), and lthread_ex_regs may only set a pager that
cannot deadlock a page fault. Everything else goes out as generated.

Every request must get exactly one reply within REPLY_TIMEOUT (EXIT gets none, by the
ABI). A missing reply, an unsolicited one, a wrong answer to a checked request, or a
task_new that succeeds is a failure: it is printed with the request, and the task exits
with status 1, as does a broken kernel invariant found mid-run. At the end the task
prints a histogram of the replies by operation and result, the results that took
longest, `mid-run checks=C violations=V`, and
`fuzz done requests=N answered=A failures=F seconds=S rate=R/s`.

The generator is fuzz_gen.py, a worker fuzz_worker.py (with its probes, fuzz_probes.py),
and what they share fuzz_common.py. The partner is in fuzz_sink_tasks.py; a normal task
and the reproducers of the kernel bugs the fuzz found are in fuzz_repro_tasks.py.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

from microkernel.user.testing import report

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from fuzz_worker import Gate, Worker  # noqa: E402


def _worker(rt, seed, count, stop, out, done, partners=(), check_every=0, gate=None, comm=0):
    w = Worker(rt, seed, count, stop, partners, check_every, gate, comm)
    try:
        w.run()
    except BaseException as e:               # a bug here must not look like a kernel hang
        w.fail(f"worker crashed: {type(e).__name__}: {e}")
        stop.set()
    finally:
        out.append(w)
        done.set()


def fuzz(rt, seed="1", total="100000", threads="2", partner="0", check_every="0", comm="0"):
    """The fuzz task: `threads` workers send `total` requests; `partner` is the id of
    a task that answers (see `sink`), `check_every` > 0 makes lthread 0 run the kernel's
    self-check that often (through the control port) while the fuzz is live, `comm` is
    the comm task's id (see `comm_sink`; 0: there is none)."""
    seed, total, threads = int(seed), int(total), int(threads)
    partners = [int(partner)] if int(partner) else []
    check_every, comm = int(check_every), int(comm)
    per = -(-total // threads)
    stop = threading.Event()
    gate = Gate()
    workers: list[Worker] = []
    dones = []
    t0 = time.monotonic()
    for i in range(1, threads):
        done = threading.Event()
        dones.append(done)
        rt.lthread_ex_regs(i, _worker, args=(seed * 1000 + i, per, stop, workers, done,
                                             partners, 0, gate, comm))
    mine = threading.Event()
    _worker(rt, seed * 1000, per, stop, workers, mine, partners, check_every, gate, comm)
    for d in dones:
        if not d.wait(60 + per / 500):
            print("FAIL a worker did not finish", flush=True)
            stop.set()
            raise SystemExit(1)
    seconds = time.monotonic() - t0
    hist: Counter = Counter()
    for w in workers:
        hist.update(w.hist)
    width = max(len(k) for k in hist)
    print("histogram (operation -> result: replies)")
    for key, n in sorted(hist.items()):
        print(f"  {key:<{width}}  {n:7d}")
    spent: Counter = Counter()
    for w in workers:
        spent.update(w.spent)
    print("slowest results (seconds waited in total, mean ms):",
          ", ".join(f"{k} {v:.2f}s {1000 * v / hist[k]:.2f}ms"
                    for k, v in spent.most_common(5)))
    sent = sum(w.sent for w in workers)
    answered = sum(w.answered for w in workers)
    failures = sum(len(w.failures) for w in workers)
    report(checks=sum(w.checks for w in workers),
           violations=sum(len(w.violations) for w in workers), requests=sent,
           answered=answered, failures=failures, seconds=round(seconds, 1),
           task_new_ok=hist.get("TASK_NEW -> ok", 0))
    if failures:
        raise SystemExit(1)

