"""The kernel's trace: a bounded ring of what crosses the kernel boundary (`mk trace`).

Off (the default) it costs nothing: `Kernel.tracer` is None and the loop calls the
plain fast path and dispatcher. On, the loop calls this module's wrappers instead
(`Tracer.wrap`, re-bound where the loop already re-reads its sources), and
`Kernel.send` is shadowed on the instance by one that notes each reply. A wrapper
stores the raw header it was given, a host-monotonic time (ns) and the thread, and
nothing else: decoding waits until the operator drains the ring (`drain`), so a
traced IPC pays a clock read and a tuple. The less frequent kernel events (tasks,
threads, interrupts, map/flush) are noted where they happen, behind `if k.tracer`,
off the IPC path.

The ring is a deque of `size` entries: the oldest go first, and `lost` says how many.
The drained records are plain dicts (docs/trace.md lists every kind); the kernel
never gives out a reply's content beyond its result (a HELLO reply holds a secret).
"""
from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Callable

import msgpack

from microkernel.abi import REPLY_FAULT, Op, RcvMode
from microkernel.abi.ops import PAGE_FAULT_EIP

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["Tracer", "switch", "brief", "DEFAULT_SIZE", "MAX_SIZE", "NOTE_KINDS"]

DEFAULT_SIZE, MAX_SIZE = 1 << 17, 1 << 22
IN, FAST, OUT, NOTE = range(4)          # what a ring entry is (its second field)
# kinds a process of the node may add (traceport.py, or control.py's `trace` note):
# the comm task's frames of remote IPC (servers/comm/trace.py)
NOTE_KINDS = frozenset({"frame"})
_MODES = {int(m): m.name.lower() for m in RcvMode}
_OPS = {int(o): o.name.lower() for o in Op}
_clock = time.monotonic_ns


def switch(k: "Kernel", tracer: "Tracer | None") -> None:
    """Tracing on (a Tracer) or off (None): `k.send` is the tracer's on the instance,
    and the loop re-binds its fast path and dispatch on its next turn."""
    k.tracer = tracer
    if tracer is None:
        k.__dict__.pop("send", None)
    else:
        k.send = tracer.send
    k.sources_changed()


def brief(v, depth: int = 3):
    """A task's arguments, bounded for the ring: strings cut at 60 characters, lists
    at 6 items, 3 levels deep; bytes and other objects as a short description."""
    if v is None or type(v) in (bool, int, float):
        return v
    if type(v) is str:
        return v[:60]
    if type(v) in (list, tuple) and depth:
        return [brief(x, depth - 1) for x in v[:6]]
    if type(v) in (bytes, bytearray):
        return f"<{len(v)} bytes>"
    return repr(v)[:60]


def _size(frames) -> int:
    return sum(len(f) for f in frames) if frames else 0


class Tracer:
    """One trace of one kernel: the ring, the wrappers, and the drain."""

    def __init__(self, k: "Kernel", size: int = DEFAULT_SIZE):
        if type(size) is not int or not 16 <= size <= MAX_SIZE:
            raise ValueError(f"ring size {size!r} outside 16..{MAX_SIZE}")
        self.k = k
        self.ring: deque = deque(maxlen=size)
        self.count = 0                  # entries ever put in (lost = count - len(ring))
        self.started = _clock()
        self.names = {task.base: [task.no, task.entry, task.chief.no if task.chief else None]
                      for task in k.tasks.values()}
        self._wrapped: tuple | None = None

    # -- recording ----------------------------------------------------------------

    def wrap(self, fast: Callable, dispatch: Callable) -> tuple[Callable, Callable]:
        """The loop's (fast path, dispatch), each noting what it was given first."""
        if self._wrapped is None:
            ring, clock = self.ring, _clock

            def traced_fast(t, raw: bytes, frames) -> bool:
                ts = clock()
                if fast(t, raw, frames):       # the delivery's time: clock() now
                    ring.append((ts, FAST, t.tid, raw, _size(frames), clock()))
                    self.count += 1
                    return True
                return False

            def traced_dispatch(ident: bytes, t, raw: bytes, frames) -> None:
                if t is not None:
                    ring.append((clock(), IN, t.tid, raw, _size(frames), 0))
                    self.count += 1
                dispatch(ident, t, raw, frames)
            self._wrapped = traced_fast, traced_dispatch
        return self._wrapped

    def send(self, ident: bytes | None, header: bytes, frames=()) -> None:
        """`Kernel.send`, noting the reply or delivery to a thread first."""
        t = self.k.by_ident.get(ident) if ident is not None else None
        if t is not None:
            self.ring.append((_clock(), OUT, t.tid, header, _size(frames), 0))
            self.count += 1
        type(self.k).send(self.k, ident, header, frames)

    def note(self, kind: str, **fields) -> None:
        """A kernel event besides a system call (a task made, an interrupt raised...)."""
        self.ring.append((_clock(), NOTE, kind, fields, 0, 0))
        self.count += 1

    def pushed(self, note: dict) -> None:
        """A note from a process of the node (traceport.py, or the operator's `note`):
        its kind in NOTE_KINDS, an int `tid`; `ts` and `end`, when given, its start and
        end (host-monotonic ns; `end` is kept in µs). ValueError if it is not so."""
        if type(note) is not dict or note.get("kind") not in NOTE_KINDS \
                or type(note.get("tid")) is not int:
            raise ValueError("a note needs a kind of NOTE_KINDS and a tid")
        fields = {k: brief(v) for k, v in note.items()           # JSON-safe, bounded
                  if type(k) is str and k not in ("kind", "ts", "k")}
        ts = note.get("ts")
        ts = ts if type(ts) is int and ts > 0 else _clock()
        end = note.get("end")
        if "end" in note:
            fields["end"] = end / 1000 if type(end) is int and end >= ts else ts / 1000
        self.ring.append((ts, NOTE, note["kind"], fields, 0, 0))
        self.count += 1

    # -- draining -----------------------------------------------------------------

    def drain(self) -> dict:
        """Everything recorded, decoded, oldest first; the ring is emptied."""
        entries = list(self.ring)
        self.ring.clear()
        out = [rec for e in entries for rec in _decode(e)]
        lost, self.count = self.count - len(entries), 0
        names = dict(self.names)
        for task in self.k.tasks.values():
            names.setdefault(task.base, [task.no, task.entry,
                                         task.chief.no if task.chief else None])
        threads = [[t.tid, t.entry] for task in self.k.tasks.values()
                   for t in task.threads.values() if t.lthread and t.entry]
        return {"site": self.k.site, "started": self.started / 1000, "events": out,
                "lost": lost, "tasks": [[base, *v] for base, v in names.items()],
                "threads": threads}


def _decode(e: tuple) -> list[dict]:
    """The records one ring entry stands for (a fast-path IPC is two: the sender's
    IPC and the receiver's delivery)."""
    ts, what, who, data, nbytes, done = e
    us = ts / 1000
    if what == NOTE:
        return [{"ts": us, "k": who, **data}]
    h = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if what == OUT:
        return [_reply(us, who, h, nbytes)]
    rec = _request(us, who, h, nbytes)
    if what == FAST:                    # delivered at once: result 0, no items
        return [rec, {"ts": done / 1000, "k": "recv", "tid": rec["dest"], "sender": who,
                      "result": 0, "words": rec["words"], "bytes": nbytes, "items": 0,
                      "label": rec["label"], "intended": None, "pf": False}]
    return [rec]


def _request(us: float, tid: int, h: list, nbytes: int) -> dict:
    op = h[0] if h else None
    if op == Op.IPC and len(h) == 10:
        _, dest, words, items, _, rcv, rcv_from, _, _, deceit = h
        words = words if type(words) is list else []
        return {"ts": us, "k": "ipc", "tid": tid, "dest": dest, "rcv": _MODES.get(rcv, rcv),
                "from": rcv_from, "words": len(words), "bytes": nbytes,
                "items": len(items) if type(items) is list else 0,
                "label": words[0] if words else None, "deceit": deceit}
    if op == Op.PAGE_FAULT and len(h) == 4:
        return {"ts": us, "k": "pf", "tid": tid, "addr": h[1], "write": bool(h[2]),
                "present": bool(h[3])}
    return {"ts": us, "k": "sys", "tid": tid, "op": _OPS.get(op, str(op))}


def _reply(us: float, tid: int, h: list, nbytes: int) -> dict:
    if len(h) == 6 and type(h[2]) is list:          # an abi.Delivery
        result, sender, words, items, intended, _ = h
        return {"ts": us, "k": "recv", "tid": tid, "sender": sender, "result": result,
                "words": len(words), "bytes": nbytes, "items": len(items or ()),
                "label": words[0] if words else None, "intended": intended,
                "pf": len(words) == 2 and words[1] == PAGE_FAULT_EIP}
    if h and h[0] == REPLY_FAULT:
        return {"ts": us, "k": "ret", "tid": tid, "result": REPLY_FAULT,
                "fault": h[1] if len(h) > 1 else None}
    return {"ts": us, "k": "ret", "tid": tid, "result": h[0] if h else None}

