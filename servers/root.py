"""The root task (task 4): boots the system and starts tasks for the operator.

It owns every task number but sigma0's and its own (V2: task numbers are handed down
like capabilities). At boot it takes every I/O port from sigma0, starts the default
pager, the name server, a driver for each plugged device and the fs, tty and Unix
servers (all kept alive by servers/devmgr.py), and the console monitor on COM1.

lthread 0 then waits for IPC: the death notices of its clan; DRIVER_HELLO and task-number
requests; and, as the chief of every task it started, each message that enters or
leaves its clan (the pager's requests to sigma0 above all), which it forwards in the
sender's name. lthread 1 says when the node is ready and serves the operator's socket
`root.sock` in the node folder: `mk run` starts, waits for or deletes a task; `mk driver`
lists, starts or stops drivers; `mk down` unmounts the file system first. Notices of
ordinary tasks reach lthread 1 through an in-process socket.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time

import msgpack
import zmq

from drivers.protocol import DRIVER_HELLO
from microkernel.abi import (USER_TOP, Fpage, IpcCode, IpcError, MapItem, Msg, ThreadId,
                             place)
from microkernel.abi.ops import TASK_EXIT_NOTICE

from .devmgr import DEFAULT_DRIVERS, HOLDER_BASE, DriverManager, holder_loop
from .fsproto import UMOUNT
from .names import lookup
from .pager import FORGET

__all__ = ["main", "PAGER_TASK", "FIRST_USER_TASK", "ALLOC_TASK"]

log = logging.getLogger("mk.root")
PAGER_TASK = 5
NAMES_TASK = 6
CONSOLE_TASK = 7
FS_TASK = 16
TTY_TASK = 17
UNIX_TASK = 18
UNIX_ENTRY = "personalities.unix.server:main"     # named, not imported: it sits above us
FIRST_USER_TASK = 64
DEVICE_DRIVER = {"pit": "timer"}   # device model name -> its driver's name
FIRST_GIVEN_TASK = 1024          # numbers above this are handed to tasks that ask
ALLOC_TASK = 0xFFFF_7A5C         # request word: "give me a task number"
_EVENTS = "inproc://root-events"
WHOLE = Fpage.whole()
FORWARD_TIMEOUT = 2.0


def main(rt, devices=()) -> None:
    pager, names, mgr, wanted = boot(rt, devices)
    ctx = zmq.Context.instance()
    events = ctx.socket(zmq.PAIR)
    events.bind(_EVENTS)
    rt.lthread_ex_regs(1, operator_loop, args=(pager, mgr, names, wanted))
    numbers = TaskNumbers(rt)
    msg = _wait(rt, mgr)
    while True:
        if msg is None:
            msg = _wait(rt, mgr)
            continue
        w = msg.words
        if msg.redirected and msg.intended is not None:
            msg = forward(rt, msg)
            continue
        if len(w) == 2 and w[0] == TASK_EXIT_NOTICE:
            status = None if w[1] == 0xFFFFFFFF else (w[1] - (1 << 32) if w[1] >> 31 else w[1])
            if not mgr.died(msg.sender.task, status):
                events.send(msgpack.packb([msg.sender.task, status]))
        elif w[:1] == (ALLOC_TASK,):
            msg = _reply(rt, msg, numbers.give(msg.sender.task))
            continue
        elif w[:1] == (DRIVER_HELLO,):
            msg = _reply(rt, msg, mgr.hello(msg))
            continue
        msg = _wait(rt, mgr)


def wait_for_names(rt, names: ThreadId, wanted: list[str], patience: float = 20.0) -> None:
    """Boot is ready when the servers that users need have registered their names."""
    deadline = time.monotonic() + patience
    for name in wanted:
        while lookup(rt, names, name) is None and time.monotonic() < deadline:
            rt.sleep(0.02)


def _wait(rt, mgr: DriverManager) -> Msg | None:
    """Open wait until a message comes or a driver restart is due (then None)."""
    try:
        return rt.wait(timeout=mgr.due(), window=WHOLE)
    except IpcError as e:
        if e.code == IpcCode.TIMEOUT:
            return None
        raise


def operator_loop(rt, pager: ThreadId, mgr: DriverManager, names: ThreadId,
                  wanted: list[str]) -> None:
    """lthread 1: says the node is ready once the servers users need have registered
    (lthread 0 meanwhile answers drivers), then serves the operator's requests and the
    exits lthread 0 passes on."""
    wait_for_names(rt, names, wanted)
    open(os.path.join(rt.rundir, "ready"), "w").close()
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
                task, status = msgpack.unpackb(events.recv())
                for ident in ops.exited(task, status):
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
    """Task numbers, running tasks, who waits for which; drivers via the manager."""

    def __init__(self, rt, pager: ThreadId, mgr: DriverManager):
        self.rt = rt
        self.pager = pager
        self.mgr = mgr
        self.running: dict[int, str] = {}
        self.exits: dict[int, int | None] = {}
        self.waiters: dict[int, list[bytes]] = {}

    def request(self, ident: bytes, req: dict) -> dict | None:
        op = req.get("op")
        if op == "run":
            return self.run(str(req["entry"]), [str(a) for a in req.get("args", [])])
        if op == "wait":
            task = int(req["task"])
            if task in self.exits:
                return {"task": task, "status": self.exits[task]}
            if task not in self.running:
                return {"error": f"no task {task}"}
            self.waiters.setdefault(task, []).append(ident)
            return None
        if op == "kill":
            task = int(req["task"])
            if task not in self.running:
                return {"error": f"no task {task}"}
            self.rt.task_new(task, "", None, new_chief=self.rt.task_no)
            return {"task": task, "killed": True}
        if op == "drivers":
            return {"drivers": self.mgr.list()}
        if op == "driver_start":
            name = str(req["name"])
            cls, entry, ports, irq = DEFAULT_DRIVERS.get(name, (None, None, None, None))
            rec = self.mgr.add(name, str(req.get("class") or cls), str(req.get("entry") or entry),
                               [tuple(p) for p in (req["ports"] if "ports" in req else ports)],
                               req["irq"] if "irq" in req else irq)
            self.mgr.start(rec)
            return {"driver": rec.describe()}
        if op == "shutdown":
            return self.shutdown()
        if op == "driver_stop":
            self.mgr.remove(str(req["name"]))
            return {"stopped": req["name"]}
        return {"error": f"unknown request {op!r}"}

    def shutdown(self) -> dict:
        """Before the kernel stops the node: the file server writes back and unmounts."""
        rec = self.mgr.records.get("fs")
        if rec is None or not rec.tid:
            return {"unmounted": False}
        rec.state = "stopped"
        try:
            self.rt.call(ThreadId(rec.tid), Msg(words=(UMOUNT,)), timeout=10.0)
        except IpcError as e:
            return {"unmounted": False, "error": f"fs: {e}"}
        return {"unmounted": True}

    def run(self, entry: str, args: list[str]) -> dict:
        no = next(n for n in range(FIRST_USER_TASK, FIRST_GIVEN_TASK)
                  if n not in self.running)
        self.exits.pop(no, None)
        tid = self.rt.task_new(no, entry, self.pager, args=args)
        self.running[no] = entry
        return {"task": no, "id": str(tid),
                "log": os.path.join(self.rt.rundir, "logs", f"task-{no}.log")}

    def exited(self, task: int, status: int | None) -> list[bytes]:
        """Record an exit; returns the operators waiting for it."""
        self.running.pop(task, None)
        self.exits[task] = status
        try:
            self.rt.call(self.pager, Msg(words=(FORGET, task, 0)), timeout=1.0)
        except IpcError:
            pass
        return self.waiters.pop(task, [])


def boot(rt, devices) -> tuple[ThreadId, ThreadId, DriverManager, list[str]]:
    """Start the system's tasks; (pager, names, driver manager, the names users need)."""
    sigma0 = rt.pager
    rt.call(sigma0, Msg(words=(Fpage.ports(0, 16).encode(),)), window=WHOLE)  # all ports
    pager = rt.task_new(PAGER_TASK, "servers.pager:main", sigma0, args=[int(sigma0)])
    names = rt.task_new(NAMES_TASK, "servers.names:main", pager)
    mgr = DriverManager(rt, names, pager)
    for irq in range(16):
        if irq != 2:
            rt.lthread_ex_regs(HOLDER_BASE + irq, holder_loop, args=(irq,))
    for dev in devices:
        name = DEVICE_DRIVER.get(dev, dev)
        if name in DEFAULT_DRIVERS:
            mgr.start(mgr.add(name, *DEFAULT_DRIVERS[name]))
    wanted = ["tty"]
    if "ata0" in devices:
        mgr.start(mgr.add("fs", "server", "servers.fs:main", [], None, fixed=FS_TASK))
        wanted.append("fs")
    mgr.start(mgr.add("tty", "server", "servers.tty:main", [], None, fixed=TTY_TASK))
    if "com1" in devices:
        rt.task_new(CONSOLE_TASK, "servers.console:main", pager,
                    args=[int(names), os.path.basename(rt.rundir.rstrip("/"))])
    if importlib.util.find_spec(UNIX_ENTRY.split(":")[0]) is not None:
        mgr.start(mgr.add("unix", "server", UNIX_ENTRY, [], None, fixed=UNIX_TASK))
        wanted.append("unix")
    return pager, names, mgr, wanted


class TaskNumbers:
    """RMGR's task-number service: hand an inactive number to a task that asks, so it
    can create (and be chief of) a task of its own."""

    def __init__(self, rt):
        self.rt = rt
        self.next = FIRST_GIVEN_TASK

    def give(self, to_task: int) -> Msg:
        if self.next >= 2048:
            return Msg(words=(0,))
        no, self.next = self.next, self.next + 1
        self.rt.task_new(no, "", None, new_chief=to_task)
        return Msg(words=(no,))


def _reply(rt, msg: Msg, reply: Msg) -> Msg:
    try:
        return rt.reply_and_wait(msg.sender, reply, window=WHOLE)
    except IpcError:
        return rt.wait(window=WHOLE)


def forward(rt, msg: Msg) -> Msg:
    """Chief's duty (V2 C&C): pass a redirected message on to where it was aimed, in
    the original sender's name (deceiving), then wait for the next one — atomically,
    so a reply coming back through this chief finds it waiting. Mappings are passed on
    from where they landed in root's own space, so root sits in the mapping tree."""
    items = []
    for it in msg.items:
        if it.fpage.io:
            items.append(MapItem(it.fpage, it.snd_base))
            continue
        _, dst, size = place(it.fpage, it.snd_base, WHOLE)
        if dst < USER_TOP:          # above it the kernel mapped nothing to pass on
            items.append(MapItem(Fpage(dst, size, it.fpage.writable), it.snd_base))
    try:
        return rt.ipc(msg.intended, Msg(msg.words, msg.strings, tuple(items)),
                      snd_timeout=FORWARD_TIMEOUT, rcv=2, window=WHOLE, deceit=msg.sender)
    except IpcError as e:
        log.warning("root: could not forward %s -> %s: %s", msg.sender, msg.intended, e)
        return rt.wait(window=WHOLE)
