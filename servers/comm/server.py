"""The comm server's lthreads (see the package docstring):

    0      redirected IPC from this node's threads -> the engine; COMM requests
    1      net0 RECV -> the engine
    2      the engine's due frames -> net0 SEND (announcements, data, acknowledgements)
    3..    delivery: a remote thread's message to a local thread, in its name (deceit)

lthread 0 hands a redirected message to the engine and, when it is one frame, sends
that frame itself (one call of the NIC driver) before it waits again: no hand-off to
lthread 2 on an RPC's path. A local server's reply to a remote client is a send with
timeout 0 to it, which the kernel lets wait 0.5 s for the comm task (docs/kernel.md,
"Remote IPC"), so nothing is lost while lthread 0 is at the driver.
"""
from __future__ import annotations

import array
import errno
import logging
import os
import time

import msgpack

from microkernel.abi import IpcCode, IpcError, KernelError, Msg, ThreadId, result_byte
from microkernel.abi.ops import REMOTE_ERROR
from protocols import wellknown
from protocols.client import ServiceError
from protocols.comm import COMM, MAX_DESTS, MAX_NODE_NAME, Op
from protocols.names import Names
from protocols.net import MAX_BATCH, NetDevice
from protocols.server import Dispatch, send_reply, serve

from .engine import Comm
from .peers import INTERVAL
from .trace import FrameTrace
from .wire import ETHERTYPE

__all__ = ["main", "Front", "DELIVER_TIMEOUT", "WORKERS"]

log = logging.getLogger("mk.comm")

RX, TX, FIRST_WORKER = 1, 2, 3
WORKERS = 8
DELIVER_TIMEOUT = 5.0         # a remote message waits this long for its local receiver
BUSY_PAUSE, BUSY_TRIES = 0.0005, 200   # net0 EBUSY: every TX slot still the card's


def main(rt, name, names_id) -> None:
    """Find net0, start the lthreads, register as "comm", serve."""
    node = os.path.basename(rt.rundir.rstrip("/")) or f"site{rt.site}"
    mac = NetDevice(rt, name="net0").info()["mac"]
    comm = Comm(node[:MAX_NODE_NAME], rt.site, mac, INTERVAL)
    comm.trace = FrameTrace().watch(rt.rundir)
    rt.lthread_ex_regs(RX, rx_loop, args=(comm,))
    rt.lthread_ex_regs(TX, tx_loop, args=(comm,))
    for i in range(WORKERS):
        rt.lthread_ex_regs(FIRST_WORKER + i, deliver_loop, args=(comm,))
    front = Front(rt, comm)
    Names(rt, tid=int(names_id)).register(wellknown.COMM)
    log.info("comm: node %s, site %d, MAC %s", node, rt.site, mac.hex(":"))
    serve(rt, Dispatch(COMM, front, rt, redirected=front.redirected))


class Front:
    """lthread 0: COMM's handlers, and IPC this node's threads aim at other nodes."""

    def __init__(self, rt, comm: Comm):
        self.rt, self.comm = rt, comm
        self.net = NetDevice(rt, name="net0")

    def redirected(self, msg: Msg) -> None:
        """A local thread's message to an off-site thread: ship it, or end the sender's
        wait with the reason it cannot go (no such node: NOT_EXISTENT)."""
        result, frames = self.comm.send(int(msg.sender), int(msg.intended), msg.words,
                                        msg.strings)
        if result is not None:
            notice(self.rt, int(msg.sender), int(msg.intended), result)
        if frames:                    # a reply to us meanwhile waits in the kernel's grace
            transmit(self.rt, self.net, self.comm, frames)
        return None

    def nodes(self, req, msg):
        return (msgpack.packb(self.comm.table()),)

    def leave(self, req, msg):
        """The node stops: a goodbye to every peer, sent before the reply."""
        transmit(self.rt, self.net, self.comm, self.comm.goodbye())
        return ()

    def resolve(self, req, msg):
        return (self.comm.resolve(req.name.decode(errors="replace")),)

    def datagram(self, req, msg):
        """DATAGRAM: the caller's message to threads of other nodes, one frame each;
        the caller is answered before the frames go to the card (it waits for no
        wire), with which of them went."""
        dests = array.array("Q", req.dests)            # ValueError: EINVAL
        words = array.array("I", req.words)
        if not 1 <= len(dests) <= MAX_DESTS or any(
                ThreadId(d).site in (0, self.rt.site) for d in dests):
            raise OSError(errno.EINVAL, f"1 to {MAX_DESTS} threads of other nodes")
        frames, sent = self.comm.datagram(int(msg.sender), list(dests), words.tolist(),
                                          req.strings)
        send_reply(self.rt, msg.sender, COMM.reply(Op.DATAGRAM, (sent,)))
        transmit(self.rt, self.net, self.comm, frames)
        return None

def notice(rt, waiter: int, partner: int, result: int) -> None:
    """End `waiter`'s wait for remote `partner` with V2 error `result` (the kernel drops
    it, and says TIMEOUT, if `waiter` no longer waits so)."""
    try:
        rt.send(waiter, Msg(words=(REMOTE_ERROR, result)), timeout=0, deceit=partner)
    except (IpcError, KernelError):
        pass


def rx_loop(rt, comm: Comm) -> None:
    """lthread 1: every frame net0 receives, to the engine."""
    net, trace, me = NetDevice(rt, name="net0"), comm.trace, int(rt.myself())
    while True:
        try:
            frames = net.recvv(etype=ETHERTYPE)   # every frame queued, one IPC
        except ServiceError as e:                 # the driver restarting: ask again
            log.info("comm: net0 RECVV: %s", e)
            time.sleep(0.05)
            continue
        for raw in frames:
            start = time.monotonic_ns() if trace.on else 0
            items = comm.received(raw)
            if start:
                trace.frames(me, "received", (raw,), start)
            for item in items:
                deliver(rt, comm, item, wait=False)


def tx_loop(rt, comm: Comm) -> None:
    """lthread 2: the engine's frames, as they fall due, to net0."""
    net = NetDevice(rt, name="net0")
    while True:
        transmit(rt, net, comm, comm.work())


def transmit(rt, net: NetDevice, comm: Comm, frames: list[bytes]) -> None:
    """Frames to the card, MAX_BATCH a call (SENDV); EBUSY waits for TX slots, another
    error drops the frame it stopped at (the link's retransmission is the remedy).
    While a trace runs, the frames are noted (trace.py)."""
    start = time.monotonic_ns() if comm.trace.on else 0
    i, busy = 0, 0
    while i < len(frames):
        try:
            i += net.sendv(frames[i:i + MAX_BATCH])
            continue
        except ServiceError as e:
            if e.errno == errno.EBUSY and busy < BUSY_TRIES:
                busy += 1
                time.sleep(BUSY_PAUSE)
                continue
            comm.counts["tx_errors" if e.errno != errno.EBUSY else "tx_busy"] += 1
        i += 1
    if start:
        comm.trace.frames(int(rt.myself()), "sent", frames, start)


def deliver_loop(rt, comm: Comm) -> None:
    """lthreads 3..: deliver what came from other nodes, one pair of threads at a time."""
    while True:
        pair, item = comm.deliveries.take()
        try:
            deliver(rt, comm, item, wait=True)
        except Exception:
            log.exception("comm: delivering from %#x to %#x", *pair)
        finally:
            comm.deliveries.done(pair)


def deliver(rt, comm: Comm, item: tuple, wait: bool) -> None:
    """One item of deliver.py's kinds. A message that is no reply may wait for its
    receiver up to DELIVER_TIMEOUT; without `wait` (the receiving lthread, which must
    not block) it is tried once and, if its receiver is busy, queued for a worker."""
    if item[0] == "dgram":                    # no booking, no error back: fire and forget
        _, sender, dest, words, strings, _ = item
        try:
            rt.send(dest, Msg(words=words, strings=tuple(strings)),
                    timeout=DELIVER_TIMEOUT if wait else 0, deceit=sender)
        except IpcError as e:
            if not wait and e.code == IpcCode.TIMEOUT:
                comm.queue((sender, dest), item)
            else:
                comm.counts["datagrams_lost"] += 1
        return
    if item[0] != "msg":
        _, waiter, partner, result = item
        comm.noticing(waiter, partner)
        notice(rt, waiter, partner, result)
        return
    _, sender, dest, words, strings, reply = item
    result = None
    comm.delivering(sender, dest, reply)
    try:
        rt.send(dest, Msg(words=words, strings=tuple(strings)),
                timeout=DELIVER_TIMEOUT if wait and not reply else 0, deceit=sender)
    except IpcError as e:
        if not wait and not reply and e.code == IpcCode.TIMEOUT:
            comm.queue((sender, dest), item)     # busy now: a worker waits for it
            return
        result = result_byte(e.code, e.phase)
    comm.delivered(sender, dest, reply, result)
