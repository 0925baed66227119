"""What the fuzz's modules share: the constants of the fuzz (known pages, spare
lthreads, the whole-space fpage, word masks, how long a reply may take), its
Failure, msgpack at hand, the names of operations and results, and the kernel's
control port.

The task files beside this one (fuzz_kernel_tasks.py, fuzz_sink_tasks.py,
fuzz_repro_tasks.py) are loaded by path, so each puts this folder on sys.path
before it imports its helpers (fuzz_common, fuzz_gen, fuzz_probes, fuzz_worker).
"""
from __future__ import annotations

import os
import time

import msgpack
import zmq

from microkernel.abi import Fault, IpcCode, Op

REPLY_TIMEOUT_MS = 5000
# A page fault whose pager does not exist leaves the thread marked as in a page fault
# (kernel bug, see test_fuzz.py::test_failed_page_fault_leaves_no_stale_state): the
# fuzz sets only pagers that exist, or none, until that is fixed (MK_FUZZ_GHOST_PAGERS=1
# in the environment of the node puts them back).
GHOST_PAGERS = os.environ.get("MK_FUZZ_GHOST_PAGERS") == "1"
_clock = time.perf_counter
_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_unpackb = msgpack.unpackb
_OP_NAMES = {int(o): o.name for o in Op}
_FAULT_NAMES = {int(f): f.name for f in Fault}
_IPC_NAMES = {int(c): c.name for c in IpcCode}
SAFE_PAGES = [0x10000000 + i * 0x1000 for i in range(8)] + \
             [0x20400000 + i * 0x3000 for i in range(8)]
SPARE_LTHREADS = range(100, 110)
WHOLE = 32 << 2 | 2                    # the whole-space fpage, writable
M32 = 0xFFFFFFFF
M64 = (1 << 64) - 1


class Failure(Exception):
    pass


def _pack_any(h) -> bytes:
    """msgpack of h; a mutation can leave an int msgpack cannot hold (below -2**63):
    then the header keeps only its operation."""
    try:
        return _pack(h)
    except (ValueError, OverflowError, TypeError):
        return _pack([h[0] if type(h) is list and h and type(h[0]) is int else 1])


def control(rt, req: dict, timeout_ms: int = 60000) -> dict:
    """One request to the kernel's control port (the operator's; a test may use it)."""
    s = rt._ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(f"ipc://{os.path.join(rt.rundir, 'control.sock')}")
        s.send(msgpack.packb(req))
        if not s.poll(timeout_ms):
            raise Failure("the kernel's control port did not answer")
        return _unpackb(s.recv(), raw=False)
    finally:
        s.close()
