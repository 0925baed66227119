"""Task code of `mk bench dsm` (bench/dsm.py). Servers print `ID <tid>`; the client
prints one `BLOCK <r> <json>` per repeat and `DONE`.

    page4k        on the home (n1): answers any message with a 4 KiB string (the floor:
                  a remote RPC that returns a page)
    sharer NAME   attaches the segment and serves (op, first, count): TOUCH_WRITE stores
                  a byte in each page, TOUCH_READ loads one; registered as NAME
    client        on n2: per repeat, in one block: the floor (M calls), M read faults of
                  pages the home has just written, and M write faults of pages that k =
                  1, 2 other nodes (n3, n4) hold read copies of
"""
import json
import time

from microkernel.abi import Msg
from bench.remote_tasks import median_ns
from protocols.client import Service
from protocols.names import NAMES, Names
from servers.dsm.segment import Segment

SEGMENT = "bench@n1"
SIZE = 1 << 20
ADDR = 0x5000_0000
PAGE = 4096
TOUCH_WRITE, TOUCH_READ = 1, 2
_ns = time.perf_counter_ns


def page4k(rt):
    """Register as "page4k": answer each message with 4 KiB."""
    Names(rt).register("page4k")
    print("ID", int(rt.myself()), flush=True)
    page = bytes(range(256)) * 16
    msg = rt.wait()
    while True:
        msg = rt.reply_and_wait(msg.sender, Msg(words=(0,), strings=(page,)))


def sharer(rt, name):
    """Attach the segment; serve TOUCH_WRITE / TOUCH_READ over a range of pages."""
    seg = Segment.attach(rt, SEGMENT, SIZE, ADDR, ahead=1)      # one page a fault
    Names(rt).register(name)
    print("ID", int(rt.myself()), flush=True)
    msg = rt.wait()
    while True:
        op, first, count = msg.words[:3]
        for p in range(first, first + count):
            if op == TOUCH_WRITE:
                seg.write(p * PAGE, b"\x01")
            else:
                seg.read(p * PAGE, 1)
        msg = rt.reply_and_wait(msg.sender, Msg(words=(0,)))


def _touch(rt, tid, op, first, count):
    rt.call(tid, Msg(words=(op, first, count)), timeout=60.0)


def client(rt, repeats, m):
    """The paired blocks (see the module docstring)."""
    repeats, m = int(repeats), int(m)
    seg = Segment.attach(rt, SEGMENT, SIZE, ADDR, ahead=1)       # each fault alone
    tid = {n: Service(rt, n, iface=NAMES).server() for n in      # looked up by name
           ("page4k@n1", "home_sharer@n1", "sharer@n3", "sharer@n4")}
    floor_msg = Msg(words=(0,))
    for r in range(repeats):
        out = {}
        rt.call(tid["page4k@n1"], floor_msg)
        out["rpc4k"] = median_ns(lambda: rt.call(tid["page4k@n1"], floor_msg), m)
        _touch(rt, tid["home_sharer@n1"], TOUCH_WRITE, 0, m)        # the home writes
        out["read_fault"] = _faults(lambda p: seg.read(p * PAGE, 1), m)
        for k in (1, 2):
            _touch(rt, tid["home_sharer@n1"], TOUCH_WRITE, 0, m)
            for reader in ("sharer@n3", "sharer@n4")[:k]:
                _touch(rt, tid[reader], TOUCH_READ, 0, m)
            out[f"write_fault_k{k}"] = _faults(lambda p: seg.write(p * PAGE, b"\x02"), m)
        print("BLOCK", r, json.dumps(out), flush=True)
    print("DONE", flush=True)


def _faults(access, m: int) -> float:
    """The median ns of `access(page)` for pages 0..m-1, each a first touch."""
    times = []
    for p in range(m):
        t0 = _ns()
        access(p)
        times.append(_ns() - t0)
    times.sort()
    return float(times[len(times) // 2])
