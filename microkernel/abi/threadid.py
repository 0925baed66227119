"""L4 V2 thread ids: the 64-bit layout, with `site` as the node number.

    low word   31..28 version_high | 27..17 task | 16..10 lthread | 9..0 version_low
    high word  31..28 nest         | 27..17 chief | 16..0 site

(V2 `types.h`, l4env @f68bf96b.) A `ThreadId` *is* its raw 64-bit integer, so it hashes,
compares and travels on the wire as a plain int; the properties decode the fields.
nil is 0, invalid is all ones, interrupt n is the id n + 1 (V2 §7). Nodes are sites
1, 2, ...: an id of another site than a node's own is off-site there (remote IPC), one
of site 0 (nil, interrupts, an id made without a site) is no node's. The kernel's hot
paths hold raw ints and slice the task and lthread fields with the shifts and masks
below, where building a ThreadId to ask it would cost a call per field.
"""
from __future__ import annotations

__all__ = ["ThreadId", "NIL", "INVALID", "INVALID_RAW", "irq_id", "MAX_TASKS",
           "MAX_LTHREADS", "VERSION_MASK", "KERNEL_TASK", "SIGMA0_TASK", "ROOT_TASK",
           "COMM_TASK", "TASK_SHIFT", "TASK_MASK", "LTHREAD_SHIFT", "LTHREAD_MASK",
           "LTHREAD_FIELD", "SITE_SHIFT", "SITE_MASK"]

MAX_TASKS = 2048
MAX_LTHREADS = 128
KERNEL_TASK, SIGMA0_TASK, ROOT_TASK = 0, 2, 4     # the well-known tasks (Fiasco)
COMM_TASK = 8        # the communication server: the task the kernel redirects off-site IPC to
VERSION_MASK = (1 << 14) - 1                      # a task number's version: 14 bits
TASK_SHIFT, TASK_MASK = 17, MAX_TASKS - 1         # task: bits 17..27 of the low word
LTHREAD_SHIFT, LTHREAD_MASK = 10, MAX_LTHREADS - 1   # lthread: bits 10..16
LTHREAD_FIELD = LTHREAD_MASK << LTHREAD_SHIFT     # clear it: the task's id (lthread 0)
SITE_SHIFT, SITE_MASK = 32, (1 << 17) - 1          # site: bits 0..16 of the high word


class ThreadId(int):
    """A V2 thread id. Build with `ThreadId.make(...)`; the int value is the raw id."""

    __slots__ = ()

    @classmethod
    def make(cls, task: int, lthread: int = 0, version: int = 0, site: int = 0,
             chief: int = 0, nest: int = 0) -> "ThreadId":
        if not (0 <= task < MAX_TASKS and 0 <= lthread < MAX_LTHREADS and
                0 <= version <= VERSION_MASK and 0 <= site < (1 << 17) and
                0 <= chief < MAX_TASKS and 0 <= nest < 16):
            raise ValueError("thread id field out of range")
        low = ((version & 0x3FF) | lthread << LTHREAD_SHIFT | task << TASK_SHIFT
               | (version >> 10) << 28)
        high = site | chief << 17 | nest << 28
        return cls(high << 32 | low)

    @property
    def low(self) -> int: return self & 0xFFFFFFFF
    @property
    def high(self) -> int: return self >> 32
    @property
    def task(self) -> int: return (self >> TASK_SHIFT) & TASK_MASK
    @property
    def lthread(self) -> int: return (self >> LTHREAD_SHIFT) & LTHREAD_MASK
    @property
    def version(self) -> int: return (self & 0x3FF) | ((self >> 28) & 0xF) << 10
    @property
    def site(self) -> int: return (self >> SITE_SHIFT) & SITE_MASK
    @property
    def chief(self) -> int: return (self >> 49) & 0x7FF
    @property
    def nest(self) -> int: return (self >> 60) & 0xF

    @property
    def is_nil(self) -> bool: return self == 0
    @property
    def is_invalid(self) -> bool: return self == INVALID_RAW
    @property
    def is_irq(self) -> bool: return 1 <= self <= 16

    def task_id(self) -> "ThreadId":
        """The task id: this id with lthread 0 (l4_get_taskid)."""
        return ThreadId(self & ~LTHREAD_FIELD)

    def lthread_id(self, lthread: int) -> "ThreadId":
        return ThreadId((self & ~LTHREAD_FIELD) | (lthread & LTHREAD_MASK) << LTHREAD_SHIFT)

    def same_task(self, other: int) -> bool:
        return (self ^ other) & ~LTHREAD_FIELD == 0

    def __repr__(self) -> str:
        if self == 0:
            return "ThreadId(nil)"
        if self == INVALID_RAW:
            return "ThreadId(invalid)"
        if self.is_irq:
            return f"ThreadId(irq {self - 1})"
        site = f"@{self.site}" if self.site else ""
        return f"ThreadId({self.task}.{self.lthread} v{self.version}{site})"

    __str__ = __repr__


INVALID_RAW = (1 << 64) - 1     # all ones, also the largest value an id can have
NIL = ThreadId(0)
INVALID = ThreadId(INVALID_RAW)


def irq_id(n: int) -> ThreadId:
    """The V2 interrupt thread id of IRQ n (0..15): n + 1."""
    if not 0 <= n < 16:
        raise ValueError(f"IRQ {n} outside 0..15")
    return ThreadId(n + 1)
