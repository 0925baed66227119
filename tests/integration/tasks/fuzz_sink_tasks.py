"""The fuzz's partners: `sink`, a task that receives whatever comes, answers and maps
back, and `comm_sink`, the same as the comm task, answering in off-site ids' names
(see fuzz_kernel_tasks.py and test_fuzz.py)."""
from __future__ import annotations

import os
import random
import sys
import time

from microkernel.abi import Op
from microkernel.user.testing import report

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from fuzz_common import M32, SAFE_PAGES, WHOLE  # noqa: E402


def sink(rt, seconds="300"):
    """Receive whatever comes (open wait, whole-space window), answer with send timeout
    0, sometimes with a map or grant item of its own pages, and now and then flush what
    it holds. Gives the fuzz a live partner in another address space, so map, grant,
    string limits and flush run across spaces. Ends after `seconds` or when killed."""
    report(sink=int(rt.myself()))
    _sink(rt, float(seconds))


def comm_sink(rt, name="comm", names="0"):
    """The sink as the comm task (root keeps it at COMM_TASK during the fuzz): what the
    kernel redirects to it from off-site ids is answered in those ids' names (deceit),
    now and then as an error notice [REMOTE_ERROR, result], good or bad, and now and
    then in a wrong name (another off-site id, a local one). Runs until deleted."""
    report(comm=int(rt.myself()))
    _sink(rt, 1e9, comm=True)


def _sink(rt, seconds: float, comm: bool = False) -> None:
    from microkernel.abi import KernelError
    from microkernel.abi import timeouts as _t
    from microkernel.abi.ops import REMOTE_ERROR

    me = rt.myself()
    r = random.Random(int(me))
    to = _t.encode(0, 0.05)
    wait = [1, None, [], [], to, 2, 0, WHOLE, [4, 1 << 16], None]
    mine = [WHOLE, 0x10000000 | 24 << 2 | 2, 0x20400000 | 12 << 2] + \
           [p | 12 << 2 | 2 for p in SAFE_PAGES]
    h, n, redirected = wait, 0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reply = rt._syscall(h)
        except KernelError:
            h = wait
            continue
        h = wait
        if reply[0] & 0xF0 or len(reply) < 5 or type(reply[1]) is not int or reply[1] <= 16:
            continue
        n += 1
        if n % 50 == 0:
            try:
                rt._syscall([Op.FPAGE_UNMAP, WHOLE, True, r.random() < 0.5])
            except KernelError:
                pass
        items = []
        if r.random() < 0.3:
            items = [[r.choice(mine), r.getrandbits(32), r.random() < 0.2]]
        words, deceit, x = [n & M32], None, r.random()
        if comm and reply[4] is not None:        # redirected: an off-site id's message
            redirected += 1
            if redirected % 100 == 1:
                report(redirected=redirected)
            deceit = reply[4] if x < 0.9 else r.choice((reply[4] ^ 1 << 32, int(me), 1))
            if r.random() < 0.15:
                words, items = [REMOTE_ERROR, r.choice((0x10, 0x30, 0xC0, 0xE0, 0x15, 0, 256))], []
        h = [1, reply[1], words, items, to, 2, 0, WHOLE, [4, 1 << 16], deceit]

