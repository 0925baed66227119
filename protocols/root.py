"""The root task's protocols (servers/root.py, task 4, and its driver manager,
servers/devmgr.py): to the tasks of its clan over IPC, and to the operator over the node's
`root.sock`.

Over IPC, from the tasks root started (Who.CLAN):

    DRIVER_HELLO  | name     -> irq + map items for exactly the driver's I/O ports
                                (irq NO_IRQ: none); ENODEV for a task that is no driver
    ALLOC_TASK               -> task    an inactive task number, now the sender's (its
                                chief), to create a task of its own; EAGAIN: the sender
                                holds its quota (64; 512 for a server root keeps), or
                                none is left. A task's numbers come back when it ends
    MEMORY  log2size         -> phys + a map item of 2**log2size bytes (12..22) of
                                zeroed physical memory, aligned, at physical address
                                `phys`; ENOMEM: none left. The block is the sender's
                                until it ends (servers/frames.py)
    GIVE_UP | why            -> (nothing)  a server root keeps stops for good, saying why
                                in one line (the fs server: a disk it cannot mount);
                                root does not restart it, and a node still booting
                                fails with `why` (its `failed` file) instead of ready

Memory comes from root, never from sigma0 directly: root is sigma0's one client and maps
blocks on, and root takes no map items from anyone, so no stranger can displace the
parents of the clan's memory; no reply crosses a chief that may not be waiting (the
caller of MEMORY waits in its call). A message of root's clan to sigma0 is refused in
sigma0's name (an empty reply: V2 sigma0's "no").

Between root's own threads (Who.SELF): HAND and GRAB tell the holder thread of an IRQ
line (lthread HOLDER_BASE + irq) to hand the line down to a driver's task (the kernel
gives it back to the holder when that task ends: docs/kernel.md, Interrupts), or to
take it again.

The operator's port `root.sock` (a ZeroMQ ROUTER, mode 0600) takes msgpack maps
{"op": NAME, field: value...}, the fields of OPERATOR[NAME] and no others, and answers
with a map; a refusal is {"error": "one line"}. `wait` is answered when the task ends.

    run           entry, args [task]     -> task, id, log   start a task (mk run) in the
                  next free number after the last given (task: in that free one)
    wait          task                   -> task, status
    kill          task                   -> task, killed
    drivers                              -> drivers          (mk driver list)
    driver_start  name [class entry ports irq task]  -> driver   (defaults: the known
                  drivers; task: a fixed number, free and root's, for a kept server)
    driver_stop   name [force]           -> stopped          (force: also the console's line)
    health                               -> servers, lost    each kept server's state, and
                                                             the core servers that died and
                                                             cannot come back (the pager)
    shutdown                             -> unmounted        the fs writes back (mk down)
"""
from __future__ import annotations

import enum
import errno

from microkernel.abi import Fpage

from .client import Service, ServiceError
from .interface import Interface, Who, call

__all__ = ["Op", "ROOT", "HolderOp", "HOLDER", "Root", "NO_IRQ", "HOLDER_BASE",
           "OperatorOp", "OPERATOR", "parse_operator", "MIN_LOG2", "MAX_LOG2"]

NO_IRQ = 0xFFFF_FFFF
HOLDER_BASE = 32                 # lthread 32 + n holds IRQ n while no driver has it


class Op(enum.IntEnum):
    DRIVER_HELLO = 0xD0FF
    ALLOC_TASK = 0xFFFF_7A5C
    MEMORY = 0xFFFF_7A5D
    GIVE_UP = 0xFFFF_7A5E


ROOT = Interface("root", Op, {
    Op.DRIVER_HELLO: call("| name", "irq", Who.CLAN),
    Op.ALLOC_TASK: call("", "task", Who.CLAN),
    Op.MEMORY: call("log2size", "phys", Who.CLAN),
    Op.GIVE_UP: call("| why", "", Who.CLAN),
})
MIN_LOG2, MAX_LOG2 = 12, 22      # the block sizes MEMORY gives (sigma0's)


class HolderOp(enum.IntEnum):
    HAND = 0x1E01
    GRAB = 0x1E02


HOLDER = Interface("irq holder", HolderOp, {
    HolderOp.HAND: call("task:64", who=Who.SELF),
    HolderOp.GRAB: call(who=Who.SELF),
})


class Root(Service):
    """Root seen from a task of its clan (a driver, a server that makes tasks)."""

    iface = ROOT

    def __init__(self, rt, **kw):
        super().__init__(rt, tid=rt.chief(), **kw)

    def driver_hello(self, name: str):
        """(irq or None, [(base, count) of each granted port range]): take the resources
        root holds for driver `name`; the port fpages are mapped as they come."""
        r, msg = self.call_msg(Op.DRIVER_HELLO, name.encode(), window=Fpage.whole(),
                               timeout=10)
        ports = [(it.fpage.base, it.fpage.size) for it in msg.items]
        return (None if r.irq == NO_IRQ else r.irq), ports

    def alloc_task(self) -> int:
        """A task number of my own (ServiceError EAGAIN when root has none left)."""
        return self.call(Op.ALLOC_TASK, timeout=10).task

    def memory(self, log2size: int, base: int) -> int | None:
        """2**log2size bytes of physical memory granted to me at `base` (aligned to
        their size); their physical address, or None when there is none left."""
        try:
            r, msg = self.call_msg(Op.MEMORY, log2size, window=Fpage(base, log2size),
                                   timeout=10)
        except ServiceError as e:
            if e.errno == errno.ENOMEM:
                return None
            raise
        return r.phys if msg.fpage_received else None

    def give_up(self, why: str) -> None:
        """Tell root I stop for good, and why (one line): I am not restarted."""
        self.call(Op.GIVE_UP, why.encode(errors="replace")[:1000], timeout=5)

    def frames(self, base: int, sizes=(20, 12)) -> int:
        """Frames at `base` of my space: a block of the first size in `sizes` (log2)
        that `base` is aligned to and root still has; its size in bytes, 0 if none."""
        for s in sizes:
            if base & ((1 << s) - 1) == 0 and self.memory(s, base) is not None:
                return 1 << s
        return 0


class OperatorOp(enum.StrEnum):
    RUN = "run"
    WAIT = "wait"
    KILL = "kill"
    DRIVERS = "drivers"
    DRIVER_START = "driver_start"
    DRIVER_STOP = "driver_stop"
    HEALTH = "health"
    NODES = "nodes"
    SHUTDOWN = "shutdown"


# each request's fields: name -> (type, required)
OPERATOR: dict[OperatorOp, dict[str, tuple[type, bool]]] = {
    OperatorOp.RUN: {"entry": (str, True), "args": (list, False), "task": (int, False)},
    OperatorOp.WAIT: {"task": (int, True)},
    OperatorOp.KILL: {"task": (int, True)},
    OperatorOp.DRIVERS: {},
    OperatorOp.DRIVER_START: {"name": (str, True), "class": (str, False),
                              "entry": (str, False), "ports": (list, False),
                              "irq": ((int, type(None)), False), "task": (int, False)},
    OperatorOp.DRIVER_STOP: {"name": (str, True), "force": (bool, False)},
    OperatorOp.HEALTH: {},
    OperatorOp.NODES: {},
    OperatorOp.SHUTDOWN: {},
}


def parse_operator(req) -> tuple[OperatorOp, dict]:
    """(operation, fields) of an operator request; ValueError says what is wrong."""
    if not isinstance(req, dict):
        raise ValueError("a request is a map")
    try:
        op = OperatorOp(req.get("op"))
    except ValueError:
        raise ValueError(f"unknown request {req.get('op')!r}") from None
    fields = {k: v for k, v in req.items() if k != "op"}
    spec = OPERATOR[op]
    for name, value in fields.items():
        if name not in spec:
            raise ValueError(f"{op}: unknown field {name!r}")
        kind = spec[name][0]
        if not isinstance(value, kind) or (type(value) is bool and kind is not bool):
            raise ValueError(f"{op}: {name} has the wrong type")
    missing = [n for n, (_, required) in spec.items() if required and n not in fields]
    if missing:
        raise ValueError(f"{op}: missing {', '.join(missing)}")
    return op, fields
