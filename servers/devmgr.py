"""The driver manager inside root: who drives which device, with which ports and IRQ,
and the reincarnation of drivers that die (Minix 3 style). System servers that must
come back after a crash (the file server) are kept the same way, with no ports.

At boot root takes every I/O port from sigma0 and, RMGR-style, attaches every IRQ line
with one holder thread per line (a V2 thread owns at most one line), which serves
protocols.root.HOLDER. Starting a driver means: a task of root's clan running the
driver's entry; when it says DRIVER_HELLO (protocols.root.ROOT), root releases the IRQ
line's holder and replies with map items for exactly the driver's ports and the IRQ
number; the driver attaches the line itself. When a driver task dies, root restarts it
within a second; a driver that keeps dying is backed off (exponentially, up to a
minute) instead of being restarted forever.
"""
from __future__ import annotations

import errno
import logging
import threading
import time
from dataclasses import dataclass, field

from microkernel.abi import Fpage, IpcCode, IpcError, MapItem, Msg, ThreadId, irq_id
from protocols.client import Service, ServiceError
from protocols.root import HOLDER, HOLDER_BASE, HolderOp
from protocols.server import Dispatch, serve
from protocols.wellknown import DRIVER_TASKS

__all__ = ["DriverManager", "Record", "DEFAULT_DRIVERS", "Holder", "holder_loop"]

log = logging.getLogger("mk.root")

# name: (class, entry, port ranges, irq)
DEFAULT_DRIVERS: dict[str, tuple[str, str, list[tuple[int, int]], int | None]] = {
    "com1": ("char", "drivers.uart:main", [(0x3F8, 8)], 4),
    "com2": ("char", "drivers.uart:main", [(0x2F8, 8)], 3),
    "ata0": ("block", "drivers.ata:main", [(0x1F0, 8), (0x3F6, 1)], 14),
    "timer": ("timer", "drivers.timer:main", [(0x40, 4)], 0),
    "net0": ("net", "drivers.nic:main", [(0x300, 32)], 9),
}
USABLE_IRQS = [n for n in range(16) if n != 2]      # IRQ 2 cascades the second 8259A
FAST_RESTARTS = 3                # restarts within CRASH_WINDOW before backing off
CRASH_WINDOW = 10.0
MAX_BACKOFF = 60.0


@dataclass
class Record:
    name: str
    cls: str
    entry: str
    ports: list[tuple[int, int]]
    irq: int | None
    task: int = 0
    tid: int = 0
    fixed: int = 0                    # a server's well-known task number (0: any driver slot)
    version: int | None = None        # the version every incarnation gets (None: the next)
    named: bool = True                # the task registers its record's name with names
    state: str = "stopped"            # starting, running, backoff, stopped, given up
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    restart_at: float = 0.0

    def describe(self) -> dict:
        return {"name": self.name, "class": self.cls, "entry": self.entry,
                "ports": [f"{b:#x}-{b + n - 1:#x}" for b, n in self.ports],
                "irq": self.irq, "task": self.task or None,
                "id": str(ThreadId(self.tid)) if self.tid else "", "state": self.state,
                "restarts": self.restarts}


def fpages_for(base: int, count: int) -> list[Fpage]:
    """Cover ports base..base+count-1 with naturally aligned I/O fpages."""
    out = []
    while count > 0:
        size = 1
        while base % (size * 2) == 0 and size * 2 <= count:
            size *= 2
        out.append(Fpage.ports(base, size.bit_length() - 1))
        base, count = base + size, count - size
    return out


class DriverManager:
    """The table of drivers. Both of root's threads use it, under one lock."""

    def __init__(self, rt, names: ThreadId, pager: ThreadId):
        self.rt = rt
        self.names = names
        self.pager = pager
        self.lock = threading.RLock()
        self.records: dict[str, Record] = {}
        self.restarted = None             # restarted(record), after each restart
        self.lost: dict[str, str] = {}    # core servers dead for good: name -> how
        self.by_task: dict[int, Record] = {}

    # -- starting and stopping -----------------------------------------------------

    def add(self, name: str, cls: str, entry: str, ports, irq, fixed: int = 0,
            version: int | None = None, named: bool = True) -> Record:
        if irq is not None and irq not in USABLE_IRQS:
            raise ValueError(f"IRQ {irq} cannot be a driver's: lines are 0..15 but 2, "
                             "the cascade to the second 8259A")
        if any(not (0 <= b and n > 0 and b + n <= 0x10000) for b, n in ports):
            raise ValueError(f"ports {ports} are outside the 486's 0..0xffff")
        with self.lock:
            if name in self.records:
                raise ValueError(f"driver {name!r} exists")
            taken = {p for r in self.records.values() for b, n in r.ports for p in range(b, b + n)}
            if any(p in taken for b, n in ports for p in range(b, b + n)):
                raise ValueError(f"ports of {name!r} are already another driver's")
            if irq is not None and any(r.irq == irq for r in self.records.values()):
                raise ValueError(f"IRQ {irq} is already another driver's")
            rec = self.records[name] = Record(name, cls, entry, list(ports), irq, fixed=fixed,
                                              version=version, named=named)
            return rec

    def start(self, rec: Record) -> None:
        """Start (or restart) the driver task of `rec`."""
        with self.lock:
            used = {r.task for r in self.records.values() if r.task}
            rec.task = rec.fixed or next(n for n in DRIVER_TASKS if n not in used)
            rec.state = "starting"
            self.by_task[rec.task] = rec
            rec.tid = int(self.rt.task_new(rec.task, rec.entry, self.pager,
                                           args=[rec.name, int(self.names)],
                                           version=rec.version))
            if not rec.ports and rec.irq is None:
                rec.state = "running"          # a server: no DRIVER_HELLO to wait for
            if rec.restarts and self.restarted is not None:
                self.restarted(rec)

    def stop(self, name: str) -> Record:
        """Delete the driver's task; its IRQ goes back to its holder."""
        with self.lock:
            rec = self.records.get(name)
            if rec is None:
                raise ValueError(f"no driver {name!r}")
            rec.state = "stopped"
            if rec.task:
                self.rt.task_new(rec.task, "", None, new_chief=self.rt.task_no)
                self.by_task.pop(rec.task, None)
                rec.task, rec.tid = 0, 0
            return rec

    def remove(self, name: str) -> None:
        with self.lock:
            rec = self.stop(name)
            del self.records[name]
        if rec.irq is not None:
            self.holder(rec.irq, HolderOp.GRAB)

    # -- requests from drivers and notices -------------------------------------------

    def hello(self, sender: ThreadId) -> tuple[int | None, tuple[MapItem, ...]]:
        """DRIVER_HELLO from `sender`: hand its IRQ line down to its task; (the IRQ, map
        items for exactly its ports). ENODEV for a task that is no driver of mine."""
        with self.lock:
            rec = self.by_task.get(sender.task)
            if rec is None:
                raise OSError(errno.ENODEV, f"task {sender.task} is no driver")
            rec.state = "running"
            rec.tid = int(sender)
        if rec.irq is not None:
            self.holder(rec.irq, HolderOp.HAND, int(sender.lthread_id(0)))
        return rec.irq, tuple(MapItem(fp, fp.base) for b, n in rec.ports
                              for fp in fpages_for(b, n))

    def died(self, sender: ThreadId, status) -> bool:
        """Task `sender` (its id, version included) of root's clan ended; True if it was
        a driver (restart planned). The notice of an earlier incarnation at the same
        number (stopped, and started again before its notice came) is not the
        running one's death."""
        task = sender.task
        with self.lock:
            rec = self.by_task.get(task)
            if rec is None or rec.task != task or (
                    rec.tid and ThreadId(rec.tid).task_id() != sender.task_id()):
                return False
            del self.by_task[task]
            rec.task, rec.tid = 0, 0
            if rec.state in ("stopped", "given up"):
                return True
            now = time.monotonic()
            rec.crashes = [t for t in rec.crashes if now - t < CRASH_WINDOW] + [now]
            extra = len(rec.crashes) - FAST_RESTARTS
            delay = 0.0 if extra <= 0 else min(MAX_BACKOFF, 0.5 * 2 ** (extra - 1))
            rec.state, rec.restart_at = "backoff", now + delay
            log.warning("driver %s died (status %s); restart in %.1fs", rec.name, status, delay)
            return True

    def give_up(self, task: int, why: str) -> None:
        """The kept server of `task` stops for good (GIVE_UP): it is lost, with `why`,
        and not restarted when it dies; ENODEV for a task root does not keep."""
        with self.lock:
            rec = self.by_task.get(task)
            if rec is None:
                raise OSError(errno.ENODEV, f"task {task} is no server root keeps")
            rec.state = "given up"
            self.lost[rec.name] = why
        log.error("root: %s stops for good: %s", rec.name, why)

    def due(self) -> float | None:
        """Restart what is due; returns seconds until the next planned restart."""
        with self.lock:
            now, nxt = time.monotonic(), None
            for rec in self.records.values():
                if rec.state != "backoff":
                    continue
                if rec.restart_at <= now:
                    rec.restarts += 1
                    try:
                        self.start(rec)
                    except Exception as e:             # keep the manager alive
                        log.error("restart of %s failed: %s", rec.name, e)
                        rec.restart_at = now + 1.0
                        nxt = 1.0 if nxt is None else min(nxt, 1.0)
                else:
                    wait = rec.restart_at - now
                    nxt = wait if nxt is None else min(nxt, wait)
            return nxt

    def holder(self, irq: int, op: HolderOp, *args) -> None:
        """Tell the holder thread of `irq` to hand its line down, or take it again."""
        tid = self.rt.myself().lthread_id(HOLDER_BASE + irq)
        try:
            Service(self.rt, tid=tid, iface=HOLDER, timeout=2.0).call(op, *args)
        except ServiceError as e:
            log.warning("IRQ %d holder did not answer: %s", irq, e)

    def list(self) -> list[dict]:
        with self.lock:
            return [r.describe() for r in self.records.values()]

    def health(self) -> dict:
        """Each kept task's state, and the core servers lost for good."""
        with self.lock:
            return {"servers": {r.name: r.state for r in self.records.values()},
                    "lost": dict(self.lost)}

    def named(self) -> list[tuple[str, int]]:
        """(name, thread) of every running task that registers its record's name."""
        with self.lock:
            return [(r.name, r.tid) for r in self.records.values()
                    if r.named and r.tid and r.state == "running"]


class Holder:
    """lthread HOLDER_BASE + irq: owns the line while no driver does (RMGR's grab), keeps
    it while one does (the kernel gives it back when the driver ends), and
    serves protocols.root.HOLDER to root's other threads. Interrupts nobody drives
    are dropped (Dispatch has no irq handler here)."""

    def __init__(self, rt, irq: int):
        self.rt, self.irq = rt, irq

    def attach(self) -> None:
        """Take the line (V2: closed receive from irq_id(n), timeout 0)."""
        try:
            self.rt.receive(irq_id(self.irq), timeout=0)
        except IpcError as e:
            if e.code != IpcCode.TIMEOUT:
                log.info("IRQ %d not grabbed: %s", self.irq, e.code.name)

    def grab(self, req, msg):
        """GRAB: take the line again (its driver has been stopped)."""
        self.attach()
        return ()

    def hand(self, req, msg):
        """HAND(task): hand the line down to that task's threads; it comes back here
        when the task ends or lets go (the kernel's send to irq_id(n), irq.py)."""
        try:
            self.rt.send(irq_id(self.irq), Msg((req.task & 0xFFFF_FFFF, req.task >> 32)), timeout=0)
        except IpcError as e:
            log.warning("IRQ %d not handed to %s: %s", self.irq, ThreadId(req.task), e.code.name)
        return ()


def holder_loop(rt, irq: int) -> None:
    """lthread HOLDER_BASE + irq: take the line, then serve HOLDER forever."""
    holder = Holder(rt, irq)
    holder.attach()
    serve(rt, Dispatch(HOLDER, holder, rt))
