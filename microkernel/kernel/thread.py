"""Thread control blocks: what the kernel knows of each L4 thread.

A thread's host side is a host thread with its own ZeroMQ socket; `ident` is that
socket's routing id, bound to the thread once by HELLO. A thread is RUNNING while its
host code runs, and blocked in the kernel while SENDING (queued at its partner, with
its message held here as its "registers") or RECEIVING. A page fault is a call the
kernel makes on the thread's behalf (V2 §5): the thread is then SENDING or RECEIVING
with `pf` set, and the pager's reply resumes the access instead of being delivered.
"""
from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hw.clock import Timer
    from .task import Task

__all__ = ["Thread", "ThreadState", "InFlight", "DEFAULT_PRIO", "DEFAULT_TIMESLICE"]

DEFAULT_PRIO = 16
DEFAULT_TIMESLICE = 0.010
_TICKS = os.sysconf("SC_CLK_TCK")


class ThreadState(enum.Enum):
    INACTIVE = "inactive"      # exists implicitly (V2: all 128 lthreads), not started
    RUNNING = "running"        # host code runs (or waits for its socket to attach)
    SENDING = "sending"        # blocked until the partner receives
    RECEIVING = "receiving"    # blocked until a message (or interrupt) arrives
    DEAD = "dead"


class InFlight:
    """A message in flight: made by the send phase, held in the sender's TCB while it
    waits (its "registers"), and moved to the receiver by `ipc.transfer`. `sender` is
    the id the receiver sees (the sender's own, or the one a chief deceives with),
    `flags` the result bits known at send time (deceited, redirected, src inside)."""

    __slots__ = ("words", "items", "frames", "sender", "flags", "intended")

    def __init__(self, words: list, items: list, frames, sender: int, flags: int,
                 intended: int | None):
        self.words, self.items, self.frames = words, items, frames
        self.sender, self.flags, self.intended = sender, flags, intended


class Thread:
    """The TCB. Plain attributes: the IPC path touches them on every message."""

    __slots__ = ("tid", "task", "lthread", "ident", "state", "prio", "timeslice",
                 "pager", "partner", "senders", "pending", "timer", "pf",
                 "snd", "rcv_mode", "rcv_from", "rcv_window", "rcv_limits", "rcv_timeout",
                 "irq", "entry", "host_tid")

    def __init__(self, task: "Task", lthread: int, tid: int):
        self.tid = tid                   # raw V2 id (int)
        self.task = task
        self.lthread = lthread
        self.ident: bytes | None = None  # routing id of the thread's socket
        self.state = ThreadState.INACTIVE
        self.prio = DEFAULT_PRIO
        self.timeslice = DEFAULT_TIMESLICE
        self.pager = 0                   # raw id of the pager (0 = none)
        self.partner = 0                 # whom it sends to / receives from
        self.senders: list[Thread] = []  # threads blocked sending to this one
        self.pending: list[Any] = []     # kernel notices (task death) for open waits
        self.timer: Timer | None = None
        self.pf = False                  # blocked in a kernel-made page-fault call
        self.snd: InFlight | None = None  # the held message while SENDING
        self.rcv_mode = 0                # RcvMode: none, closed (from rcv_from), open
        self.rcv_from = 0
        self.rcv_window = None
        self.rcv_limits: tuple[int, int] | None = None
        self.rcv_timeout: float | None = None
        self.irq: int | None = None      # the IRQ this thread is attached to
        self.entry = ""
        self.host_tid: int | None = None  # the host thread's id, told at HELLO

    @property
    def blocked(self) -> bool:
        return self.state is ThreadState.SENDING or self.state is ThreadState.RECEIVING

    def cpu(self) -> float:
        """Seconds of CPU its host thread has used (V2's thread_schedule reports a
        thread's consumed time); 0.0 when the host no longer knows the thread."""
        pid = self.task.pid
        if pid is None or self.host_tid is None:
            return 0.0
        try:
            with open(f"/proc/{pid}/task/{self.host_tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(b")") + 2:].split()    # after "pid (comm) "
        return (int(fields[11]) + int(fields[12])) / _TICKS   # utime + stime (proc(5))

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def __repr__(self) -> str:
        return f"<Thread {self.task.no}.{self.lthread} {self.state.value}>"
