"""The comm task's frames in the kernel's trace (`mk trace`, docs/trace.md).

The kernel sees the IPC that goes to and comes from this task, not the frames between
nodes. While a trace runs, each frame sent, retransmitted or received is pushed to the
kernel as a `frame` note (microkernel/kernel/traceport.py: notes.sock): its direction,
kind, link (source and destination site, the source's incarnation), txn, fragment, size,
and, for the first fragment of a message, the threads it is from and to, so that the
converter can pair a frame sent on one node with the same frame received on the other
and follow a remote call across nodes. The time it spans is the comm thread's: handing
the frames to the card, or taking one in.

Off, this costs the remote IPC path one attribute test per batch of frames: `on` is
switched by a host thread that listens on the kernel's trace.sock (b"on", b"off").
"""
from __future__ import annotations

import logging
import os
import threading
import time

import msgpack
import zmq

from .wire import Kind, Malformed, parse

__all__ = ["FrameTrace"]

log = logging.getLogger("mk.comm")
_KINDS = {int(k): k.name.lower() for k in Kind}
_clock = time.monotonic_ns


class FrameTrace:
    """Frame notes for one node's kernel; inert until `watch()` is called."""

    def __init__(self):
        self.on = False
        self.lock = threading.Lock()
        self.push = None
        self.sent: dict[tuple, tuple] = {}        # (dst site, dst boot) -> last (txn, frag)

    def watch(self, rundir: str) -> "FrameTrace":
        """Connect to the kernel's trace port, and follow it from a host thread."""
        ctx = zmq.Context.instance()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"ipc://{os.path.join(rundir, 'trace.sock')}")
        self.push = ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.LINGER, 0)
        self.push.setsockopt(zmq.SNDHWM, 100000)
        self.push.connect(f"ipc://{os.path.join(rundir, 'notes.sock')}")
        threading.Thread(target=self._listen, args=(sub, rundir), daemon=True,
                         name="comm-trace").start()
        return self

    def _listen(self, sub, rundir: str) -> None:
        """Follow on/off; a trace already running when this task started counts too."""
        self.on = _running(rundir)
        while True:
            try:
                on = sub.recv() == b"on"
            except zmq.ZMQError:              # the task is ending
                return
            with self.lock:
                self.on = on
                self.sent.clear()

    def frames(self, tid: int, what: str, raws, start: int) -> None:
        """Note `raws`, sent (`what` "sent") or received, from `start` (ns) until now."""
        end = _clock()
        with self.lock:
            for raw in raws:
                note = self._note(raw, what)
                if note is not None:
                    note.update(kind="frame", tid=tid, ts=start, end=end)
                    try:
                        self.push.send(msgpack.packb(note), zmq.NOBLOCK)
                    except zmq.ZMQError:      # the kernel is not taking them: drop
                        return

    def _note(self, raw: bytes, what: str) -> dict | None:
        try:
            _mac, h, payload = parse(raw)
        except Malformed:
            return None
        note = {"dir": what, "frame": _KINDS[h.kind], "src": h.src_site, "dst": h.dst_site,
                "boot": h.src_boot, "bytes": len(raw)}
        if h.kind == Kind.ANNOUNCE:
            return note
        note.update(txn=h.txn, frag=h.frag, nfrags=h.nfrags, ack=[h.ack_txn, h.ack_frag])
        if h.kind == Kind.DATA:
            if what == "sent":
                link, seq = (h.dst_site, h.dst_boot), (h.txn, h.frag)
                if seq <= self.sent.get(link, (0, -1)):
                    note["dir"] = "retransmitted"     # go-back-N: sent before
                else:
                    self.sent[link] = seq
            if h.frag == 0:
                note.update(_ends(payload))
        return note


def _ends(payload: bytes) -> dict:
    """The threads a message is from and to, read from its first fragment."""
    from .engine import MSG           # engine.py holds a FrameTrace: imported here
    u = msgpack.Unpacker(raw=False)
    u.feed(payload[:64])
    try:
        if u.read_array_header() >= 3:
            kind, sender, dest = u.unpack(), u.unpack(), u.unpack()
            return {"msg": "ipc" if kind == MSG else "error", "from": sender, "to": dest}
    except Exception:                 # not a message this server sends: no ends
        pass
    return {}


def _running(rundir: str) -> bool:
    """Whether the kernel traces now (its operator's port's `status`)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    try:
        sock.connect(f"ipc://{os.path.join(rundir, 'control.sock')}")
        sock.send(msgpack.packb({"op": "trace", "action": "status"}))
        return bool(msgpack.unpackb(sock.recv(), raw=False).get("tracing"))
    except (zmq.ZMQError, ValueError, AttributeError) as e:
        log.info("comm: trace status: %s", e)
        return False
    finally:
        sock.close(0)
