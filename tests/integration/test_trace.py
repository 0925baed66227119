"""`mk trace` on a real node: a shell pipeline traced into a Chrome trace-event file
that is well formed and shows the IPC the pipeline must make (a Unix process calling
the Unix server, the Unix server calling the file server), linked call to reply."""
import json
import os
import subprocess
import sys

import pytest

from cli.node import NodeError
from microkernel.abi.threadid import ThreadId

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))
from trace_events import problems  # noqa: E402


def _mk(node, *args):
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "MK_HOME": node.home})


def test_a_traced_pipeline(node, tmp_path):
    out = tmp_path / "t.json"
    sh = (sys.executable, "-m", "cli.main", "sh", "--node", node.name, "-c", "ls /bin | wc -l")
    r = _mk(node, "trace", "--node", node.name, "-o", str(out), "--", *sh)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) > 5 and "trace events from 1 node" in r.stderr
    doc = json.loads(out.read_text())
    assert problems(doc) == []
    ev = doc["traceEvents"]
    procs = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    calls = {(procs[e["pid"]], e["name"]) for e in ev if e["ph"] == "X"}
    assert ("personalities.unix.server", "call servers.fs") in calls
    for program in ("ls", "wc"):                 # the pipeline's processes, by argv[0]
        assert any(who.startswith(f"{program} (pid ") and what ==
                   "call personalities.unix.server" for who, what in calls), program
    flows: dict = {}
    for e in ev:
        if e["ph"] in "stf":
            flows.setdefault(e["id"], set()).add(procs[e["pid"]])
    assert {"personalities.unix.server", "servers.fs"} in flows.values()
    # the trace is over: the kernel records nothing more, and says so
    assert _mk(node, "trace", "status", "--node", node.name).stdout.strip() == \
        f"{node.name}: not tracing"


def test_trace_errors_are_one_line(node, tmp_path):
    r = _mk(node, "trace", "stop", "--node", node.name, "-o", str(tmp_path / "x.json"))
    assert r.returncode == 1 and "no trace was started" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.json").exists()
    r = _mk(node, "trace", "--node", node.name, "-o", "/nonexistent/t.json", "--", "true")
    assert r.returncode == 1 and r.stderr.strip() == \
        "Error: /nonexistent/t.json: No such file or directory"
    r = _mk(node, "trace", "start", "--node", "nosuch")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1


def test_top_shows_rates_and_states_then_stops_tracing(node):
    r = _mk(node, "top", "--node", node.name, "-n", "1", "-d", "0.3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"mk top: node {node.name}, every 0.3 s")
    assert lines[2].split() == ["TASK", "ENTRY", "SENT/s", "RECV/s", "FAULT/s", "THREADS"]
    rows = {ln.split()[1]: ln.split() for ln in lines[3:] if ln.strip()}
    assert rows["servers.fs"][0] == "16" and "receiving" in rows["servers.fs"][-1]
    assert _mk(node, "trace", "status", "--node", node.name).stdout.strip() == \
        f"{node.name}: not tracing"


def test_a_frame_note_is_a_counter(node):
    """The hook for remote IPC: a process notes a frame through the operator's port."""
    from cli.timeline import chrome
    me = node.control({"op": "ps"})["tasks"][0]
    assert node.control({"op": "trace", "action": "start", "size": 64})["size"] == 64
    tid = int(ThreadId.make(me["task"], 0, 1, 1))
    for what in ("sent", "retransmitted", "sent"):
        node.control({"op": "trace", "action": "note", "kind": "frame", "tid": tid,
                      "dir": what, "peer": 2, "seq": 7})
    with pytest.raises(NodeError, match="a kind of"):
        node.control({"op": "trace", "action": "note", "kind": "secret", "tid": tid})
    # its own times (host-monotonic ns), and what JSON cannot hold made printable
    node.control({"op": "trace", "action": "note", "kind": "frame", "tid": tid,
                  "dir": "received", "ts": 5_000_000, "end": 5_002_000, "raw": b"abc"})
    drained = node.control({"op": "trace", "action": "stop"})
    frames = [e for e in drained["events"] if e["k"] == "frame"]
    assert [f["dir"] for f in frames] == ["sent", "retransmitted", "sent", "received"]
    assert (frames[-1]["ts"], frames[-1]["end"], frames[-1]["raw"]) == \
        (5000.0, 5002.0, "<3 bytes>")
    frames.pop()
    drained["events"] = [e for e in drained["events"] if e.get("dir") != "received"]
    counters = [e["args"] for e in chrome([{"node": node.name, **drained}])["traceEvents"]
                if e["ph"] == "C" and e["name"] == "frames"]
    assert counters[-1] == {"sent": 2, "received": 0, "retransmitted": 1}
