"""Kernel trace records -> Chrome trace-event JSON, which Perfetto and chrome://tracing open.

Input: what each node's kernel drained (`mk trace stop`; microkernel/kernel/trace.py
and docs/trace.md list the records), one dict per node with its name. Output:

  * a process per task (pid in the node's own range: node i has pids i*100000 + n),
    named by its entry (`servers.fs`), labelled with its node and task number, and a
    thread per L4 thread; a process `kernel` per node holds its interrupt lines;
  * a complete slice ("X") per stay in the kernel: an IPC from the request until the
    delivery (or reply) that ends it, a page fault until it is resolved, another
    system call until its reply; a slice cut by the end of the trace ends there;
  * flows ("s", "t", "f" with one id): a call -> its receipt by the server -> the
    server's reply -> the caller's delivery; a page fault -> the pager's receipt -> its
    map reply -> the retried access; a one-way send -> its receipt; a remote call
    across nodes through the comm tasks' frames (cli/remoteflow.py);
  * instants ("i") for tasks and threads made and ended, interrupts raised, delivered
    and acknowledged, map, grant and flush; a slice per frame of remote IPC (the comm
    task's `frame` note); counters ("C") per node of IPCs, page faults, and frames
    (sent/received/retransmitted).
Times are µs since the earliest trace start (host-monotonic clock, one for all nodes).
"""
from __future__ import annotations

from microkernel.abi.threadid import LTHREAD_FIELD, LTHREAD_MASK, LTHREAD_SHIFT
from personalities.unix.program import CRT0, CRT0_MODULE

from .remoteflow import EPS, Remote, stitch

__all__ = ["chrome", "NODE_PIDS"]

NODE_PIDS = 100000          # pids of node i: i*NODE_PIDS .. ; tids: pid*256 + lthread


def chrome(nodes: list[dict]) -> dict:
    """The trace-event document for `nodes` (each {"node": NAME, **drained})."""
    origin = min((n["started"] for n in nodes), default=0.0)
    events: list[dict] = []
    flow_ids = iter(range(1, 1 << 62))
    converted = [_Node(node, i, origin, events, flow_ids) for i, node in enumerate(nodes, 1)]
    for n in converted:                          # a remote thread by its node's name for it
        for other in converted:
            if other is not n and other.site != n.site:
                for task, name in other.names.items():
                    n.names.setdefault(task, f"{name}@{other.node['node']}")
    for n in converted:
        n.convert()
    stitch(converted, flow_ids)
    events.sort(key=lambda e: (e["ph"] != "M", e.get("ts", 0)))
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "mk trace", "origin_us": origin,
                          "nodes": {n["node"]: {"site": n.get("site"), "lost": n.get("lost", 0)}
                                    for n in nodes}}}


def short(entry: str) -> str:
    """A task's name from its entry: `servers.fs:main` -> `servers.fs`."""
    return entry[:-5] if entry.endswith(":main") else entry


def task_name(no: int, entry: str, args) -> str:
    """What a task's track is called: a Unix program by its argv[0] and pid (its
    arguments are `[pid, text or entry, argv, envp]`), a task made for a forked
    process `forked task N`, any other by its entry."""
    if entry in (CRT0, CRT0_MODULE) and type(args) is list and len(args) >= 3 \
            and type(args[2]) is list and args[2] and type(args[2][0]) is str:
        return f"{args[2][0]} (pid {args[0]})"
    return f"forked task {no}" if entry == "fork:" else short(entry)


class _Node:
    """One node's records, converted in time order."""

    def __init__(self, node: dict, index: int, origin: float, events: list, flow_ids):
        self.node, self.origin, self.out, self.ids = node, origin, events, flow_ids
        self.base = index * NODE_PIDS
        self.site = node.get("site")
        self.remote = Remote(self.site)          # what remoteflow.py links across nodes
        self.kernel_pid = self.base
        self.pids: dict[int, int] = {}           # task id -> pid
        self.names: dict[int, str] = {}          # task id -> name
        self.args: dict[int, str] = {}           # task id -> its arguments, if seen made
        self.entries = dict(node.get("threads", []))   # tid -> an lthread's entry
        self.threads: set[int] = set()
        self.open: dict[int, list] = {}          # tid -> [start, name, cat, args]
        self.flows: dict[int, dict] = {}         # caller tid -> its call's flow
        self.sends: dict[int, float] = {}        # tid -> start of its last send phase
        self.counts = {"ipc": 0, "faults": 0}
        self.frames = {"sent": 0, "received": 0, "retransmitted": 0}
        self.frame_notes: list[dict] = []        # converted after the rest, in time order
        self.current = None                      # the thread whose request is in the kernel
        self.seen: set[int] = set()              # threads with a record so far
        self.end = node.get("started", origin)
        for base, no, entry, _chief in node.get("tasks", []):
            self.names[base] = task_name(no, entry, None)

    # -- tracks -----------------------------------------------------------------------

    def meta(self, kind: str, pid: int, tid: int | None = None, **args) -> None:
        e = {"ph": "M", "name": kind, "pid": pid, "tid": pid * 256 if tid is None else tid,
             "args": args}
        self.out.append(e)

    def pid(self, tid: int) -> int:
        task = tid & ~LTHREAD_FIELD
        pid = self.pids.get(task)
        if pid is None:
            pid = self.pids[task] = self.base + len(self.pids) + 1
            no = (tid >> 17) & 0x7FF
            self.meta("process_name", pid, name=self.names.get(task, f"task {no}"))
            args = f", args {self.args[task]}" if task in self.args else ""
            self.meta("process_labels", pid, labels=f"node {self.node['node']}, task {no}{args}")
            self.meta("process_sort_index", pid, sort_index=pid)
        return pid

    def track(self, tid: int) -> tuple[int, int]:
        """(pid, tid) of an L4 thread's track, made on first use."""
        pid = self.pid(tid)
        lthread = (tid >> LTHREAD_SHIFT) & LTHREAD_MASK
        track = pid * 256 + lthread
        if track not in self.threads:
            self.threads.add(track)
            entry = self.entries.get(tid)
            self.meta("thread_name", pid, track,
                      name=f"lthread {lthread}" + (f" {entry}" if entry else ""))
        return pid, track

    def who(self, tid) -> str:
        if type(tid) is not int or tid == 0:
            return "nil"
        if 1 <= tid <= 16:
            return f"irq {tid - 1}"
        name = self.names.get(tid & ~LTHREAD_FIELD, f"{tid:#x}")
        lthread = (tid >> LTHREAD_SHIFT) & LTHREAD_MASK
        return name if lthread == 0 else f"{name}#{lthread}"

    def emit(self, ph: str, tid: int, ts: float, name: str, **fields) -> None:
        pid, track = self.track(tid) if tid is not None else (self.kernel_pid, self.kernel_pid * 256)
        self.out.append({"ph": ph, "ts": round(ts - self.origin, 3), "pid": pid, "tid": track,
                         "name": name, **fields})

    # -- records --------------------------------------------------------------------

    def convert(self) -> None:
        self.meta("process_name", self.kernel_pid, name="kernel")
        self.meta("process_labels", self.kernel_pid, labels=f"node {self.node['node']}")
        self.meta("process_sort_index", self.kernel_pid, sort_index=self.kernel_pid)
        for r in self.node.get("events", []):
            self.end = max(self.end, r["ts"])
            handler = getattr(self, "on_" + r["k"], None)
            if handler is not None:
                handler(r)
        for r in sorted(self.frame_notes, key=lambda r: r["ts"]):
            self.frame(r)
        for tid, (start, name, cat, args) in list(self.open.items()):
            self.slice(tid, start, self.end, name, cat, {**args, "open": True})

    def slice(self, tid: int, start: float, end: float, name: str, cat: str, args: dict) -> None:
        self.emit("X", tid, start, name, cat=cat, dur=round(max(end - start, 0.0), 3), args=args)

    def begin(self, tid: int, ts: float, name: str, cat: str, args: dict) -> None:
        self.current = tid
        self.seen.add(tid)
        if tid in self.open:                        # its reply was not seen: cut it
            start, oname, ocat, oargs = self.open.pop(tid)
            self.slice(tid, start, ts, oname, ocat, oargs)
            self.flows.pop(tid, None)
        self.open[tid] = [ts, name, cat, args]

    def close(self, tid: int, ts: float, extra: dict, sender=None) -> None:
        """End `tid`'s stay in the kernel at `ts`; finish its call's flow if replied to."""
        opened = self.open.pop(tid, None)
        if opened is None and tid in self.seen:    # e.g. HELLO's reply: no request seen
            return
        start, name, cat, args = opened or [
            self.node.get("started", ts), "wait (from before the trace)", "ipc", {}]
        self.seen.add(tid)
        self.slice(tid, start, ts, name, cat, {**args, **extra})
        flow = self.flows.pop(tid, None)
        if flow is None or flow["received"] is None:
            return
        if flow.get("remote"):                   # linked across nodes by remoteflow.py
            self.remote.calls.append((tid, flow["remote"], flow["start"] + EPS,
                                      flow["steps"], max(ts - EPS, start)))
            return
        server = flow["received"]
        if sender == server and server in self.sends:
            flow["steps"].append((server, self.sends[server] + EPS))
        fid = next(self.ids)
        self.emit("s", tid, flow["start"] + EPS, "call", cat="flow", id=fid)
        for step_tid, step_ts in flow["steps"]:
            self.emit("t", step_tid, step_ts, "call", cat="flow", id=fid)
        self.emit("f", tid, max(ts - EPS, start), "call", cat="flow", id=fid, bp="e")

    def on_ipc(self, r: dict) -> None:
        tid, dest, rcv, src = r["tid"], r["dest"], r["rcv"], r["from"]
        args = {"words": r["words"], "bytes": r["bytes"], "items": r["items"],
                "label": r["label"]}
        if r["deceit"] is not None:
            args["deceit"] = self.who(r["deceit"])
        if dest is None:
            name = "wait" if rcv == "open" else f"receive from {self.who(src)}"
        elif rcv == "closed" and src == dest:
            name = f"call {self.who(dest)}"
        elif rcv == "open":
            name = f"reply to {self.who(dest)}, wait"
        else:
            name = f"send to {self.who(dest)}"
        if dest is not None:
            args["to"] = self.who(dest)
        self.begin(tid, r["ts"], name, "ipc", args)
        if dest is not None:
            self.counts["ipc"] += 1
            self.counter(r["ts"], "IPCs", {"ipc": self.counts["ipc"]})
            self.sends[tid] = r["ts"]
            if rcv == "closed" and src == dest:
                self.flows[tid] = {"start": r["ts"], "steps": [], "received": None,
                                   "remote": dest if self.remote.off_site(dest) else None}
            elif self.remote.off_site(dest):
                self.remote.add("sends", (tid, dest), r["ts"] + EPS)

    def on_pf(self, r: dict) -> None:
        access = "write" if r["write"] else "read"
        self.begin(r["tid"], r["ts"], f"page fault {r['addr']:#x}", "fault",
                   {"address": f"{r['addr']:#x}", "access": access, "present": r["present"]})
        self.flows[r["tid"]] = {"start": r["ts"], "steps": [], "received": None}
        self.counts["faults"] += 1
        self.counter(r["ts"], "page faults", {"faults": self.counts["faults"]})

    def on_sys(self, r: dict) -> None:
        self.begin(r["tid"], r["ts"], r["op"], "syscall", {})

    def on_recv(self, r: dict) -> None:
        tid, ts, sender = r["tid"], r["ts"], r["sender"]
        actual = self.current if self.current not in (None, tid) else sender
        extra = {"from": self.who(sender), "result": f"{r['result']:#x}",
                 "received words": r["words"], "received bytes": r["bytes"],
                 "received items": r["items"]}
        if r["result"] & 0x04:
            extra["redirected"] = f"intended for {self.who(r['intended'])}"
        if r["result"] & 0x01:
            extra["deceit"] = f"in the name of {self.who(sender)}"
        if r["pf"]:
            extra["page fault of"] = self.who(sender)
        start = self.open[tid][0] if tid in self.open else \
            ts if tid in self.seen else self.node.get("started", ts)
        caller = self.flows.get(actual)
        if caller is not None and caller["received"] is None and actual != tid:
            caller["received"] = tid                # the call's receipt
            opened = self.open.get(actual)
            if opened is not None and opened[2] == "fault":
                opened[3]["pager"] = self.who(tid)
            caller["steps"].append((tid, max(ts - EPS, start)))
        elif self.remote.off_site(sender) or self.remote.off_site(r["intended"]):
            if self.remote.off_site(sender):        # from another node: remoteflow.py
                self.remote.add("receipts", (sender, tid), max(ts - EPS, start))
        elif tid not in self.flows and actual in self.sends and not 1 <= actual <= 16:
            fid = next(self.ids)                    # a one-way send and its receipt
            self.emit("s", actual, self.sends[actual] + EPS, "send", cat="flow", id=fid)
            self.emit("f", tid, max(ts - EPS, start), "send", cat="flow", id=fid, bp="e")
        self.close(tid, ts, extra, actual)

    def on_ret(self, r: dict) -> None:
        extra = {"result": r["result"]}
        if r.get("fault") is not None:
            extra["fault"] = r["fault"]
        self.close(r["tid"], r["ts"], extra, self.current)

    def on_task(self, r: dict) -> None:
        if r["what"] == "new":
            self.names[r["id"]] = task_name(r["no"], r["entry"], r.get("args"))
            self.args[r["id"]] = str(r.get("args", ""))[:120]
        self.emit("i", r["id"], r["ts"], f"task {r['what']}", s="p", cat="task",
                  args={k: v for k, v in r.items() if k not in ("ts", "k", "id")})

    def on_thread(self, r: dict) -> None:
        self.seen.add(r["tid"])
        if r.get("entry") and (r["tid"] >> LTHREAD_SHIFT) & LTHREAD_MASK:
            self.entries[r["tid"]] = r["entry"]
        self.emit("i", r["tid"], r["ts"], f"thread {r['what']}", s="t", cat="task",
                  args={"entry": r.get("entry", "")})

    def on_irq(self, r: dict) -> None:
        line, what = r["line"], r["what"]
        track = self.kernel_pid * 256 + 1 + line
        if track not in self.threads:
            self.threads.add(track)
            self.meta("thread_name", self.kernel_pid, track, name=f"irq {line}")
        self.out.append({"ph": "i", "ts": round(r["ts"] - self.origin, 3), "s": "t",
                         "pid": self.kernel_pid, "tid": track, "name": f"irq {line} {what}",
                         "cat": "irq",
                         "args": {"driver": self.who(r["tid"])} if r.get("tid") else {}})

    def on_map(self, r: dict) -> None:
        verb = "grant" if r["grant"] else "map"
        pages = f"{r['pages']} page{'' if r['pages'] == 1 else 's'}"
        self.emit("i", r["tid"], r["ts"], f"{verb} {pages} to {self.who(r['to'])}",
                  s="t", cat="memory", args={"pages": r["pages"], "to": self.who(r["to"])})

    def on_flush(self, r: dict) -> None:
        verb = "flush" if r["flush"] else "write-protect"
        self.emit("i", r["tid"], r["ts"], f"{verb} {r['mappings']} mappings", s="t",
                  cat="memory", args={"mappings": r["mappings"], "own": r["own"]})

    def on_frame(self, r: dict) -> None:
        self.frame_notes.append(r)

    def frame(self, r: dict) -> None:
        """A frame of remote IPC, as the comm task notes it (docs/trace.md): a slice
        over the time the comm thread spent on it, a step of the `frames` counter."""
        what = r.get("dir", "sent")
        if what in self.frames:
            self.frames[what] += 1
            self.counter(r["ts"], "frames", dict(self.frames))
        end = r.get("end") if type(r.get("end")) in (int, float) else r["ts"]
        self.slice(r["tid"], r["ts"], end, self.remote.frame_name(r), "remote",
                   {k: v for k, v in r.items() if k not in ("ts", "k", "tid", "end")})
        self.remote.frames.append((r, r["tid"], r["ts"] + min(EPS, max(end - r["ts"], 0.0))))

    def counter(self, ts: float, name: str, values: dict) -> None:
        self.out.append({"ph": "C", "ts": round(ts - self.origin, 3), "pid": self.kernel_pid,
                         "tid": self.kernel_pid * 256, "name": name, "args": values})
