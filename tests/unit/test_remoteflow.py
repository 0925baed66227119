"""cli.remoteflow: a remote call on two traced nodes is one flow from the caller's slice
through the comm tasks' frames, the delivery and the reply on the other node, back to
the caller; with the other node untraced the flow keeps the caller's side."""
import os
import sys

from cli.timeline import chrome
from microkernel.abi import COMM_TASK
from microkernel.abi.threadid import ThreadId

sys.path.insert(0, os.path.dirname(__file__))
from trace_events import problems  # noqa: E402
from test_timeline import ipc, recv  # noqa: E402

C1, D2 = int(ThreadId.make(40, 0, 1, 1, 4)), int(ThreadId.make(50, 0, 1, 2, 4))
M1, RX1, W1 = (int(ThreadId.make(COMM_TASK, lt, 1, 1, 4)) for lt in (0, 1, 3))
M2, RX2, W2 = (int(ThreadId.make(COMM_TASK, lt, 1, 2, 4)) for lt in (0, 1, 3))
TASKS = [[int(ThreadId.make(COMM_TASK, 0, 1, s, 4)), COMM_TASK, "servers.comm:main", 4]
         for s in (1, 2)]


def frame(ts, tid, what, src, dst, boot, txn, frm=None, to=None):
    r = {"ts": ts, "end": ts + 0.5, "k": "frame", "tid": tid, "dir": what, "frame": "data",
         "src": src, "dst": dst, "boot": boot, "txn": txn, "frag": 0, "nfrags": 1,
         "ack": [0, 0], "bytes": 80}
    return {**r, "from": frm, "to": to} if frm else r


def nodes():
    n1 = {"node": "n1", "site": 1, "started": 0.0, "lost": 0, "threads": [],
          "tasks": [[C1, 40, "tests.caller:main", 4], TASKS[0]], "events": [
              ipc(90, M1, None, "open", 0),
              ipc(100, C1, D2, "closed", D2),
              {**recv(101, M1, C1, result=0x04), "intended": D2},
              frame(102, M1, "sent", 1, 2, 11, 5, C1, D2),
              ipc(106.6, W1, C1, "none", 0),
              recv(106.7, C1, D2, result=0x01),
              # the reply's frame, pushed late: the ring is not in time order
              frame(106, RX1, "received", 2, 1, 22, 9, D2, C1)]}
    n2 = {"node": "n2", "site": 2, "started": 0.0, "lost": 0, "threads": [],
          "tasks": [[D2, 50, "tests.server:main", 4], TASKS[1]], "events": [
              ipc(90, D2, None, "open", 0),
              frame(104, RX2, "received", 1, 2, 11, 5, C1, D2),
              ipc(104.6, W2, D2, "none", 0),
              recv(104.7, D2, C1, result=0x01),
              {"ts": 104.8, "k": "ret", "tid": W2, "result": 0},
              ipc(105, D2, C1, "open", 0),
              {**recv(105.1, M2, D2, result=0x04), "intended": C1},
              frame(105.2, M2, "sent", 2, 1, 22, 9, D2, C1)]}
    return n1, n2


def _flows(doc) -> dict:
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    out: dict = {}
    for e in sorted((e for e in ev if e["ph"] in "stf"), key=lambda e: e["ts"]):
        out.setdefault(e["id"], []).append((e["ph"], procs[e["pid"]], e["pid"] // 100000))
    return out


def test_a_remote_call_is_one_flow_across_nodes():
    doc = chrome(list(nodes()))
    assert problems(doc) == []
    remote = [f for f in _flows(doc).values() if len({node for *_, node in f}) == 2]
    assert remote == [[
        ("s", "tests.caller", 1), ("t", "servers.comm", 1),      # the redirected call
        ("t", "servers.comm", 1), ("t", "servers.comm", 2),      # its frame out, in
        ("t", "tests.server", 2), ("t", "tests.server", 2),      # delivered; the reply
        ("t", "servers.comm", 2), ("t", "servers.comm", 1),      # its frame out, in
        ("f", "tests.caller", 1)]]
    ev = doc["traceEvents"]
    slices = {e["name"] for e in ev if e["ph"] == "X"}
    assert {"call tests.server@n2", "reply to tests.caller@n1, wait"} <= slices
    names = {e["name"] for e in ev if e["ph"] == "X" and e["name"].startswith("frame")}
    assert names == {"frame sent data 5.0 to site 2", "frame received data 5.0 from site 1",
                     "frame sent data 9.0 to site 1", "frame received data 9.0 from site 2"}
    last = {e["pid"]: e["args"] for e in ev if e["ph"] == "C" and e["name"] == "frames"}
    assert list(last.values()) == [{"sent": 1, "received": 1, "retransmitted": 0}] * 2


def test_with_one_node_traced_the_callers_side_stays_linked():
    n1, _ = nodes()
    doc = chrome([n1])
    assert problems(doc) == []
    assert list(_flows(doc).values()) == [[
        ("s", "tests.caller", 1), ("t", "servers.comm", 1), ("t", "servers.comm", 1),
        ("t", "servers.comm", 1), ("f", "tests.caller", 1)]]     # the reply's frame in


def test_a_strange_frame_note_is_shown_and_linked_to_nothing():
    n1, n2 = nodes()
    n1["events"].append({"ts": 103, "k": "frame", "tid": M1, "dir": "sent", "frame": "data",
                         "from": [C1], "to": D2, "src": [1], "txn": "x"})
    doc = chrome([n1, n2])
    assert problems(doc) == []
    assert "frame sent data x.None to all" in {e["name"] for e in doc["traceEvents"]}
    remote = [f for f in _flows(doc).values() if len({node for *_, node in f}) == 2]
    assert len(remote) == 1 and len(remote[0]) == 9
