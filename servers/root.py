"""The root task (task 4): boots the system and starts tasks for the operator.

It owns every task number but sigma0's and its own (V2: task numbers are handed down
like capabilities). At boot it takes every I/O port from sigma0, starts the default
pager, the name server, a driver for each plugged device and the fs, tty and Unix
servers (all kept alive by servers/devmgr.py), the console monitor on COM1, the comm
server at COMM_TASK, where the kernel sends off-site IPC, and the dsm server (all in
servers/boot.py).

lthread 0 then serves protocols.root.ROOT to the tasks of its clan (DRIVER_HELLO,
ALLOC_TASK), takes the death notices of its clan, and, as the chief of every task it
started, passes on each message that enters or leaves its clan (the pager's requests to
sigma0 above all) in the sender's name. lthread 1 says when the node is ready and serves
the operator's socket `root.sock` in the node folder (protocols.root.OPERATOR): `mk run`
starts, waits for or deletes a task; `mk driver` lists, starts or stops drivers; `mk
down` unmounts the file system first. Notices of ordinary tasks reach lthread 1 through
an in-process socket.
"""
from __future__ import annotations

import errno
import logging
import os
import time

import msgpack
import zmq

from microkernel.abi import SIGMA0_TASK, Fpage, MapItem, Msg, ThreadId
from microkernel.abi.ops import exit_status
from protocols.client import Service, ServiceError
from protocols.comm import CommClient
from protocols.dsm import DSM, Op as DsmOp
from protocols.fs import FsClient
from protocols.names import Names
from protocols.pager import PAGER, Op as PagerOp
from protocols.root import MAX_LOG2, MIN_LOG2, NO_IRQ, ROOT, OperatorOp, parse_operator
from protocols.server import Dispatch, Forward, Reply, serve
from protocols.wellknown import (CONSOLE_LINE, DRIVER_TASKS, DSM_TASK, FIRST_GIVEN_TASK,
                                 FIRST_USER_TASK, PAGER_TASK)

from .boot import boot
from .devmgr import DEFAULT_DRIVERS, DriverManager
from .frames import Frames
from .numbers import KEPT_QUOTA, QUOTA, TaskNumbers

__all__ = ["main", "Chief", "Operator"]

log = logging.getLogger("mk.root")
_EVENTS = "inproc://root-events"
FORWARD_TIMEOUT = 2.0
READY_PATIENCE = 20.0            # seconds boot waits for the servers users need
LOOK = 0.25                      # ... in looks this long, to see one give up at once


def main(rt, devices=()) -> None:
    """Boot the node's tasks, start lthread 1 (the operator's port), then serve ROOT."""
    events = zmq.Context.instance().socket(zmq.PAIR)
    events.bind(_EVENTS)
    pager, names, mgr, wanted = boot(rt, devices)       # servers/boot.py
    rt.lthread_ex_regs(1, operator_loop, args=(pager, mgr, names, wanted))
    chief = Chief(rt, mgr, events)
    mgr.restarted = chief.restarted
    serve(rt, Dispatch(ROOT, chief, rt, notice=chief.notice, redirected=chief.redirected),
          timeout=mgr.due)                 # no receive window: root takes no map items


class Chief:
    """lthread 0: the handlers of protocols.root.ROOT, of its clan's death notices, and
    of the messages redirected to it as the clan's chief."""

    def __init__(self, rt, mgr: DriverManager, events):
        self.rt, self.mgr, self.events = rt, mgr, events
        self.numbers = TaskNumbers()
        self.frames = Frames(rt)

    def driver_hello(self, req, msg):
        """DRIVER_HELLO: the driver's IRQ (NO_IRQ: none) and its ports as map items."""
        irq, items = self.mgr.hello(msg.sender)
        return Reply((NO_IRQ if irq is None else irq,), items)

    def alloc_task(self, req, msg):
        """ALLOC_TASK: an inactive task number, handed to the sender as its chief so it
        can create a task of its own (servers/numbers.py); EAGAIN: its quota, or none."""
        kept = self.mgr is not None and self.mgr.by_task.get(msg.sender.task) is not None
        no = self.numbers.take(int(msg.sender.task_id()), KEPT_QUOTA if kept else QUOTA)
        self.rt.task_new(no, "", None, new_chief=msg.sender.task)
        return (no,)

    def memory(self, req, msg):
        """MEMORY: a zeroed block, mapped on to the sender (servers/frames.py)."""
        s = req.log2size
        if not MIN_LOG2 <= s <= MAX_LOG2:
            raise OSError(errno.EINVAL, f"blocks are 2**{MIN_LOG2}..2**{MAX_LOG2} bytes")
        block = self.frames.give(int(msg.sender.task_id()), s)
        if block is None:
            raise OSError(errno.ENOMEM, f"no block of 2**{s} bytes left")
        addr, phys = block
        return Reply((phys,), (MapItem(Fpage(addr, s), addr),))

    def give_up(self, req, msg):
        """GIVE_UP: a kept server stops for good; it is lost, boot fails with why."""
        self.mgr.give_up(msg.sender.task, req.why.decode(errors="replace"))
        return ()

    def notice(self, msg: Msg) -> None:
        """A task of the clan ended: its blocks come back, a kept task's restart is
        planned, and lthread 1 hears of it (the pager's FORGET, the operator's wait)."""
        status = exit_status(msg.words[1])
        self.frames.reclaim(int(msg.sender.task_id()))
        self.numbers.reclaim(int(msg.sender.task_id()))
        if msg.sender.task == PAGER_TASK:       # it holds live address spaces: for good
            self.mgr.lost["pager"] = f"died (status {status})"
            log.error("root: the default pager died (status %s): the node is degraded", status)
        self.mgr.died(msg.sender, status)
        self.events.send(msgpack.packb(["exit", int(msg.sender.task_id()), status]))

    def restarted(self, rec) -> None:
        """A kept task came back; after the name server, lthread 1 gives names back."""
        if rec.name == "names":
            self.events.send(msgpack.packb(["names"]))

    def redirected(self, msg: Msg) -> Forward | None:
        """Chief's duty (V2 C&C): a message of the clan to outside it. One to sigma0 is
        answered in sigma0's name with its "no" (an empty message): memory comes from
        root (MEMORY). Any other is passed on, in the sender's name (deceiving),
        atomically followed by the next wait; root takes no map items, so none go on."""
        if msg.intended is None:
            return None
        if msg.intended.task == SIGMA0_TASK:
            return Forward(msg.sender, Msg(), deceit=msg.intended, timeout=0)
        return Forward(msg.intended, Msg(msg.words, msg.strings), deceit=msg.sender,
                       timeout=FORWARD_TIMEOUT)


def give_names_back(rt, names: ThreadId, mgr: DriverManager) -> None:
    """The name server was restarted with an empty table: give every server and driver
    root keeps its name again (on lthread 1: lthread 0 must stay free to pass the new
    name server's memory requests on to sigma0)."""
    ns = Names(rt, tid=names, timeout=5.0)
    for name, tid in mgr.named():
        try:
            ns.assign(name, tid)
        except ServiceError as e:
            log.warning("root: could not give %s its name back: %s", name, e)


def wait_for_servers(rt, names: ThreadId, mgr: DriverManager,
                     wanted: list[type[Service]]) -> str | None:
    """Boot is ready when the servers that users need have registered their names; it
    has failed, at once, when one of them gave up: (the reason, or None when ready)."""
    deadline = time.monotonic() + READY_PATIENCE
    for cls in wanted:
        while True:
            if mgr.lost:
                return "; ".join(mgr.lost.values())
            try:                           # in short looks, to see a give-up at once
                cls(rt, names=names).server(min(deadline, time.monotonic() + LOOK))
                break
            except ServiceError as e:
                if time.monotonic() >= deadline:
                    log.warning("root: ready without %s: %s", cls.name, e)
                    break
    return "; ".join(mgr.lost.values()) or None


def operator_loop(rt, pager: ThreadId, mgr: DriverManager, names: ThreadId,
                  wanted: list[type[Service]]) -> None:
    """lthread 1: says the node is ready once the servers users need have registered
    (lthread 0 meanwhile answers drivers), then serves the operator's requests and the
    exits lthread 0 passes on."""
    failed = wait_for_servers(rt, names, mgr, wanted)
    final = os.path.join(rt.rundir, "failed" if failed else "ready")
    with open(final + ".new", "w") as f:         # whole, or not there at all
        f.write(failed or "")
    os.replace(final + ".new", final)
    ctx = zmq.Context.instance()
    events = ctx.socket(zmq.PAIR)
    events.connect(_EVENTS)
    path = os.path.join(rt.rundir, "root.sock")
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(f"ipc://{path}")
    os.chmod(path, 0o600)
    ops = Operator(rt, pager, mgr)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    poller.register(events, zmq.POLLIN)
    while True:
        for s, _ in poller.poll():
            if s is events:
                kind, *what = msgpack.unpackb(events.recv())
                if kind == "names":
                    give_names_back(rt, names, mgr)
                    continue
                tid, status = what
                task = ThreadId(tid).task
                for ident in ops.exited(tid, status):
                    sock.send_multipart([ident, msgpack.packb({"task": task, "status": status})])
            else:
                ident, raw = sock.recv_multipart()
                try:
                    reply = ops.request(ident, msgpack.unpackb(raw, raw=False))
                except Exception as e:          # a bad request is answered, not fatal
                    reply = {"error": f"{type(e).__name__}: {e}"}
                if reply is not None:
                    sock.send_multipart([ident, msgpack.packb(reply)])


class Operator:
    """The operator's port (protocols.root.OPERATOR): task numbers, running tasks, who
    waits for which; drivers via the manager. One handler per OperatorOp, named after
    it, each taking (ident, fields) and returning the reply map (None: later)."""

    def __init__(self, rt, pager: ThreadId, mgr: DriverManager):
        self.rt = rt
        self.pager = pager
        self.mgr = mgr
        self.running: dict[int, str] = {}
        self.exits: dict[int, int | None] = {}
        self.waiters: dict[int, list[bytes]] = {}
        self.last = FIRST_GIVEN_TASK - 1                 # the number `run` gave last
        self.table = {op: getattr(self, op.value) for op in OperatorOp}

    def request(self, ident: bytes, req) -> dict | None:
        """The reply to one request; a malformed one gets {"error": why}."""
        try:
            op, fields = parse_operator(req)
        except ValueError as e:
            return {"error": str(e)}
        return self.table[op](ident, fields)

    def run(self, ident: bytes, f: dict) -> dict:
        """Start `entry` with `args` in the next free task number after the last one
        given (or in number `task`, if free), paged by the pager."""
        # Round the range like Unix pids: a number ended just now is not given again at
        # once, so whoever waited for it still reads its log and status, not a newcomer's.
        numbers = range(FIRST_USER_TASK, FIRST_GIVEN_TASK)
        if "task" in f:
            if f["task"] not in numbers or f["task"] in self.running:
                return {"error": f"task {f['task']} is not a free number of `mk run` "
                                 f"({numbers.start}..{numbers.stop - 1})"}
            no = f["task"]
        else:
            turn = numbers.index(self.last) + 1
            no = next((n for n in [*numbers[turn:], *numbers[:turn]]
                       if n not in self.running), None)
            if no is None:
                return {"error": f"all {len(numbers)} task numbers of `mk run` are running"}
            self.last = no
        self.exits.pop(no, None)
        tid = self.rt.task_new(no, f["entry"], self.pager,
                               args=[str(a) for a in f.get("args", [])])
        self.running[no] = f["entry"]
        return {"task": no, "id": str(tid),
                "log": os.path.join(self.rt.rundir, "logs", f"task-{no}.log")}

    def wait(self, ident: bytes, f: dict) -> dict | None:
        """The task's exit status, now if it has ended, else when it ends."""
        task = f["task"]
        if task in self.exits:
            return {"task": task, "status": self.exits[task]}
        if task not in self.running:
            return {"error": f"no task {task}"}
        self.waiters.setdefault(task, []).append(ident)
        return None

    def kill(self, ident: bytes, f: dict) -> dict:
        """Delete a running task (its exit is reported like any other)."""
        task = f["task"]
        if task not in self.running:
            return {"error": f"no task {task}"}
        self.rt.task_new(task, "", None, new_chief=self.rt.task_no)
        return {"task": task, "killed": True}

    def drivers(self, ident: bytes, f: dict) -> dict:
        """Every driver's record (mk driver list)."""
        return {"drivers": self.mgr.list()}

    def driver_start(self, ident: bytes, f: dict) -> dict:
        """Start driver `name`; what is not given comes from the known drivers. With
        `task`, it is kept at that fixed number (a server's, like the comm task's)."""
        cls, entry, ports, irq = DEFAULT_DRIVERS.get(f["name"], ("", "", [], None))
        if not (f.get("entry") or entry):
            return {"error": f"no driver {f['name']!r} is known: give its entry"}
        why = "task" in f and self.not_free(f["task"])
        if why:
            return {"error": why}
        rec = self.mgr.add(f["name"], f.get("class") or cls, f.get("entry") or entry,
                           [tuple(p) for p in f.get("ports", ports)], f.get("irq", irq),
                           fixed=f.get("task", 0))
        self.mgr.start(rec)
        return {"driver": rec.describe()}

    def not_free(self, no: int) -> str | None:
        """Why task `no` cannot be a kept server's fixed number, or None: it must be one
        root keeps for its servers (below FIRST_USER_TASK, no driver slot, not sigma0,
        root or the pager) that no other kept task holds."""
        if not 0 < no < FIRST_USER_TASK or no in DRIVER_TASKS or \
                no in (SIGMA0_TASK, self.rt.task_no, PAGER_TASK):
            return (f"task {no} is not root's to give a server: those are 1.."
                    f"{FIRST_USER_TASK - 1} but sigma0 ({SIGMA0_TASK}), root "
                    f"({self.rt.task_no}), the pager ({PAGER_TASK}) and the driver slots "
                    f"({DRIVER_TASKS.start}..{DRIVER_TASKS.stop - 1})")
        with self.mgr.lock:
            holder = next((r.name for r in self.mgr.records.values()
                           if no in (r.fixed, r.task)), None)
        return None if holder is None else f"task {no} is taken by {holder!r}"

    def driver_stop(self, ident: bytes, f: dict) -> dict:
        """Delete the driver's task and forget it; its IRQ line goes back to root. The
        console's line only with `force` (the console then waits for it to come back)."""
        if f["name"] == CONSOLE_LINE and "console" in self.mgr.records and not f.get("force"):
            return {"error": f"{CONSOLE_LINE} carries the console (mk console): "
                             "detach it with --force"}
        self.mgr.remove(f["name"])
        return {"stopped": f["name"]}

    def health(self, ident: bytes, f: dict) -> dict:
        """Each kept server's and driver's state, and the core servers lost for good."""
        return self.mgr.health()

    def nodes(self, ident: bytes, f: dict) -> dict:
        """The cluster as the comm server sees it (protocols.comm NODES)."""
        rec = self.mgr.records.get("comm")
        if rec is None or not rec.tid or rec.state != "running":
            return {"error": "no comm server runs on this node"}
        try:
            return CommClient(self.rt, tid=rec.tid, timeout=2.0).nodes()
        except ServiceError as e:
            return {"error": f"comm: {e.strerror}"}

    def shutdown(self, ident: bytes, f: dict) -> dict:
        """Before the kernel stops the node: the comm server tells the cluster it leaves;
        the file server writes back and unmounts."""
        comm = self.mgr.records.get("comm")
        if comm is not None and comm.tid and comm.state == "running":
            try:
                CommClient(self.rt, tid=comm.tid, timeout=1.0).leave()
            except ServiceError as e:
                log.warning("root: the comm server could not say goodbye: %s", e)
        rec = self.mgr.records.get("fs")
        if rec is None or not rec.tid:
            return {"unmounted": False}
        rec.state = "stopped"
        try:
            FsClient(self.rt, tid=rec.tid).umount()
        except ServiceError as e:
            return {"unmounted": False, "error": f"fs: {e}"}
        return {"unmounted": True}

    def exited(self, tid: int, status: int | None) -> list[bytes]:
        """Task `tid` of the clan ended: the default pager and the dsm server take its
        pages back; an operator's task's exit is recorded; the operators waiting for it."""
        task = ThreadId(tid).task
        dsm = self.mgr.records.get("dsm")
        for pager, iface, op in ((self.pager, PAGER, PagerOp.FORGET),
                                 (task != DSM_TASK and dsm and dsm.tid, DSM, DsmOp.FORGET)):
            try:
                if pager:
                    Service(self.rt, tid=pager, iface=iface, timeout=1.0).call(op, tid)
            except ServiceError as e:
                log.warning("root: %s did not forget task %d: %s", iface.name, task, e)
        if self.running.pop(task, None) is None:
            return []                            # a kept server or driver, or no task
        self.exits[task] = status
        return self.waiters.pop(task, [])
