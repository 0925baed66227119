"""The trace's side port, for the node's own processes that record what the kernel
does not see (the comm task's frames of remote IPC, docs/trace.md):

    trace.sock  PUB: b"on" when a trace starts, b"off" when it stops, so a process
                notes only while tracing is on and pays nothing otherwise
    notes.sock  PULL: notes pushed without waiting for an answer, msgpack maps
                {"kind": K, "tid": TID, "ts": NS, "end": NS, ...} with K in NOTE_KINDS
                and NS host-monotonic nanoseconds; they go into the running trace's ring

Both are in the node's runtime directory, mode 0600, like the operator's port: only the
node's owner reaches them. A note that is not so, or that comes while no trace runs, is
dropped: a note never costs the kernel more than its decoding.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import msgpack
import zmq

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["TracePort", "MAX_NOTE"]

MAX_NOTE = 4096               # bytes of one note
_BATCH = 256                  # notes taken per turn of the loop


class TracePort:
    """The PUB and PULL sockets of one kernel."""

    def __init__(self, k: "Kernel"):
        self.k = k
        self.pub = self._bind(zmq.PUB, "trace.sock")
        self.pull = self._bind(zmq.PULL, "notes.sock")
        self.pull.setsockopt(zmq.MAXMSGSIZE, MAX_NOTE)
        k.extra_sources[self.pull] = self.take

    def _bind(self, kind: int, name: str):
        sock = self.k.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        path = os.path.join(self.k.rundir, name)
        sock.bind(f"ipc://{path}")
        os.chmod(path, 0o600)
        return sock

    def switched(self, on: bool) -> None:
        """Tell the listeners that tracing is now on (or off)."""
        self.pub.send(b"on" if on else b"off")

    def take(self) -> None:
        """The notes waiting (a bounded batch), into the ring if a trace runs."""
        for _ in range(_BATCH):
            try:
                raw = self.pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            tracer = self.k.tracer
            if tracer is None:
                continue
            try:
                note = msgpack.unpackb(raw, raw=False)
                tracer.pushed(note)
            except (ValueError, TypeError, KeyError, msgpack.UnpackException):
                continue

    def close(self) -> None:
        self.pub.close(0)
        self.pull.close(0)
