"""cli.timeline: kernel trace records become a Chrome trace-event document whose tracks,
slices, flows and counters say what happened; and the kernel's ring entries decode to
those records (microkernel/kernel/trace.py)."""
import json
import os
import sys

import msgpack

from cli.timeline import NODE_PIDS, chrome
from microkernel.abi import Op
from microkernel.abi.ops import PAGE_FAULT_EIP
from microkernel.abi.threadid import ThreadId
from microkernel.kernel.trace import FAST, _decode

sys.path.insert(0, os.path.dirname(__file__))
from trace_events import problems  # noqa: E402

C, S, P = (int(ThreadId.make(no, 0, 1, 1, 4)) for no in (40, 16, 5))
S1 = int(ThreadId.make(16, 1, 1, 1, 4))


def ipc(ts, tid, dest, rcv, src, words=2, nbytes=0, items=0):
    return {"ts": ts, "k": "ipc", "tid": tid, "dest": dest, "rcv": rcv, "from": src,
            "words": words, "bytes": nbytes, "items": items, "label": 7, "deceit": None}


def recv(ts, tid, sender, result=0, pf=False, words=2):
    return {"ts": ts, "k": "recv", "tid": tid, "sender": sender, "result": result,
            "words": words, "bytes": 0, "items": 0, "label": 7, "intended": None, "pf": pf}


def scenario() -> dict:
    """A call client -> fs and its reply, a page fault its pager resolves with a map
    item, an interrupt, a task's end and a frame of remote IPC."""
    return {"node": "n1", "site": 1, "started": 1000.0, "lost": 0,
            "tasks": [[C, 40, "tests.client:main", 4], [S, 16, "servers.fs:main", 4],
                      [P, 5, "servers.pager:main", 4]],
            "threads": [[S1, "irq_loop"]],
            "events": [
                ipc(1010, S, None, "open", 0),
                ipc(1020, C, S, "closed", S, nbytes=12),
                recv(1021, S, C),
                ipc(1030, S, C, "open", 0),
                recv(1031, C, S),
                {"ts": 1040, "k": "pf", "tid": C, "addr": 0x5000, "write": True, "present": False},
                recv(1041, P, C, pf=True),
                ipc(1045, P, C, "open", 0, items=1),
                {"ts": 1045.5, "k": "map", "tid": P, "to": C, "pages": 1, "grant": False},
                {"ts": 1046, "k": "ret", "tid": C, "result": 0},
                {"ts": 1050, "k": "irq", "line": 14, "what": "raised"},
                {"ts": 1051, "k": "irq", "line": 14, "what": "delivered", "tid": S1},
                {"ts": 1060, "k": "frame", "tid": S, "dir": "sent", "peer": 2, "bytes": 64},
                {"ts": 1070, "k": "task", "id": C, "no": 40, "what": "end", "status": 0},
                ipc(1080, S1, None, "open", 0),
                {**recv(1081, S1, P, result=0x05), "intended": S},   # redirected, deceit
            ]}


def test_tracks_slices_flows_and_counters():
    doc = chrome([scenario()])
    json.dumps(doc)                                     # plain JSON, as written
    assert problems(doc) == []
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    assert set(procs.values()) == {"kernel", "tests.client", "servers.fs", "servers.pager"}
    assert all(NODE_PIDS <= pid < 2 * NODE_PIDS for pid in procs)
    pid = {name: p for p, name in procs.items()}
    call = [e for e in ev if e["ph"] == "X" and e["name"] == "call servers.fs"]
    assert len(call) == 1 and call[0]["pid"] == pid["tests.client"]
    assert (call[0]["ts"], call[0]["dur"]) == (20.0, 11.0)
    assert call[0]["args"]["bytes"] == 12
    fault = [e for e in ev if e["ph"] == "X" and e["name"] == "page fault 0x5000"]
    assert fault[0]["dur"] == 6.0 and fault[0]["args"]["access"] == "write"
    assert fault[0]["args"]["pager"] == "servers.pager"
    flows = {}
    for e in sorted((e for e in ev if e["ph"] in "stf"), key=lambda e: e["ts"]):
        flows.setdefault(e["id"], []).append((e["ph"], procs[e["pid"]]))
    assert sorted(flows.values()) == sorted([
        [("s", "tests.client"), ("t", "servers.fs"), ("t", "servers.fs"), ("f", "tests.client")],
        [("s", "tests.client"), ("t", "servers.pager"), ("t", "servers.pager"),
         ("f", "tests.client")],
        [("s", "servers.pager"), ("f", "servers.fs")]])             # a one-way send
    counters = {e["name"]: e["args"] for e in ev if e["ph"] == "C"}
    assert counters["page faults"] == {"faults": 1} and counters["frames"]["sent"] == 1
    waited = [e for e in ev if e["ph"] == "X" and e["tid"] % 256 == 1 and e["name"] == "wait"]
    assert waited[0]["args"]["redirected"] == "intended for servers.fs"
    assert waited[0]["args"]["deceit"] == "in the name of servers.pager"
    threads = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"
               and e["pid"] == pid["servers.fs"]}
    assert threads == {"lthread 0", "lthread 1 irq_loop"}
    instants = {e["name"] for e in ev if e["ph"] == "i"}
    assert {"irq 14 raised", "irq 14 delivered", "map 1 page to tests.client",
            "task end"} <= instants
    frame = [e for e in ev if e["ph"] == "X" and e["name"].startswith("frame sent")]
    assert len(frame) == 1 and frame[0]["pid"] == pid["servers.fs"], frame


def test_nodes_have_their_own_pids():
    a, b = scenario(), {**scenario(), "node": "n2", "started": 1005.0}
    doc = chrome([a, b])
    assert problems(doc) == []
    labels = {e["pid"]: e["args"]["labels"] for e in doc["traceEvents"]
              if e["ph"] == "M" and e["name"] == "process_labels"}
    assert {p // NODE_PIDS for p, text in labels.items() if "node n2" in text} == {2}
    assert {p // NODE_PIDS for p, text in labels.items() if "node n1" in text} == {1}


def test_the_checker_finds_a_broken_trace():
    doc = chrome([scenario()])
    flow = next(e for e in doc["traceEvents"] if e["ph"] == "f")
    doc["traceEvents"].remove(flow)
    assert any("not s, t..., f" in p for p in problems(doc))
    assert problems({"traceEvents": [{"ph": "X", "name": "x", "pid": 1, "tid": 1, "ts": 0}]})


def test_a_fast_path_entry_is_the_send_and_its_delivery():
    header = msgpack.packb([int(Op.IPC), S, [3, 4], [], 0, 1, S, 0, None, None])
    sent, got = _decode((5_000_000, FAST, C, header, 9, 5_002_000))
    assert sent == {"ts": 5000.0, "k": "ipc", "tid": C, "dest": S, "rcv": "closed", "from": S,
                    "words": 2, "bytes": 9, "items": 0, "label": 3, "deceit": None}
    assert got["k"] == "recv" and got["tid"] == S and got["sender"] == C
    assert got["ts"] == 5002.0 and got["words"] == 2 and not got["pf"]
    assert PAGE_FAULT_EIP not in got.values()


def test_the_ring_keeps_the_newest_and_counts_the_lost():
    from types import SimpleNamespace
    from microkernel.kernel.trace import Tracer
    k = SimpleNamespace(tasks={}, site=1, by_ident={})
    tr = Tracer(k, 16)
    for i in range(100):
        tr.note("irq", line=i % 16, what="raised")
    out = tr.drain()
    assert out["lost"] == 84 and len(out["events"]) == 16
    assert [e["line"] for e in out["events"]] == [i % 16 for i in range(84, 100)]
    assert tr.drain()["events"] == [] and tr.drain()["lost"] == 0


def test_top_counts_each_tasks_ipc_per_second():
    from cli.top import rates, table
    ev = scenario()["events"]
    per = rates(ev, 2.0)
    assert per[40] == {"sent": 0.5, "recv": 0.5, "faults": 0.5}    # the client: 1 in 2 s
    assert per[16] == {"sent": 0.5, "recv": 1.0, "faults": 0.0}    # lthreads 0 and 1
    ps = [{"task": 16, "entry": "servers.fs:main", "threads": [
              {"lthread": 0, "state": "receiving"}]},
          {"task": 4, "entry": "servers.root:main", "threads": [
              {"lthread": n, "state": "receiving" if n else "running"} for n in range(6)]}]
    screen = table("n1", ps, per, 2.0).splitlines()
    assert screen[3].split() == ["16", "servers.fs", "0", "1", "0", "0:receiving"]
    assert screen[4].split()[-4:] == ["5", "receiving,", "1", "running"]


def test_a_unix_program_is_named_by_its_argv():
    from cli.timeline import task_name
    from microkernel.kernel.trace import brief
    from personalities.unix.program import CRT0
    args = brief([7, 1898, ["ls", "/bin"], ["PATH=/bin"] * 9])
    assert args == [7, 1898, ["ls", "/bin"], ["PATH=/bin"] * 6]
    assert task_name(1025, CRT0, args) == "ls (pid 7)"
    assert task_name(1025, "fork:", []) == "forked task 1025"
    assert task_name(16, "servers.fs:main", ["x" * 100]) == "servers.fs"
    assert brief([b"\0" * 9, "y" * 100, object]) == ["<9 bytes>", "y" * 60, "<class 'object'>"]
