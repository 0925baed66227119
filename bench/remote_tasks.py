"""Task code of `mk bench net`'s remote IPC part (bench/remote.py): servers on the far
node, the measuring client on the near one. Each prints result lines `WORD rest`.

Raw frames are EtherType 0x88B6 (the comm server's is 0x88B5), read with RECVV 0 (every
queued frame in one call, as the comm server reads its own) and the stream sent with
SENDV (31 a call, as the comm server sends a window):
    payload[0] b"E"   echo it back (a ping)
    payload[0] b"S"   count it (the link floor's stream)
    payload[0] b"C"   answer with the count and the seconds they took (first to last S,
                      scaled by n / (n - 1): the time of n frames at that pace)
"""
import statistics
import struct
import sys
import time

from microkernel.abi import IpcError, Msg, StringLimits
from protocols.client import ServiceError
from protocols.comm import CommClient
from protocols.names import Names
from protocols.net import MAX_BATCH, NetDevice
from protocols.wellknown import names_id

ETHERTYPE = 0x88B6
INC, HOLD = 1, 2
_ns = time.perf_counter_ns


def out(*words) -> None:
    print(*words, flush=True)


def echo(rt):
    """Register as "echo": answer every message with its strings and words (INC: the
    count of INCs so far; HOLD: never)."""
    Names(rt).register("echo")
    out("ID", int(rt.myself()))
    count, msg = 0, rt.wait(limits=StringLimits())
    while True:
        w = msg.words
        if w[:1] == (HOLD,):
            msg = rt.wait(limits=StringLimits())
            continue
        if w[:1] == (INC,):
            count += 1
            w = (count,)
        try:
            msg = rt.reply_and_wait(msg.sender, Msg(words=w), limits=StringLimits())
        except IpcError:
            msg = rt.wait(limits=StringLimits())


def raw(rt):
    """The far end of the raw-frame floors (see the module docstring)."""
    net = NetDevice(rt, "net0")
    me = net.info()["mac"]
    out("READY", me.hex())
    stream = [0, None, None]                           # S count, first S, last S
    while True:
        for f in net.recvv():                          # all that is queued, one call
            _raw_one(net, me, f, stream)


def _raw_one(net, me: bytes, f: bytes, stream: list) -> None:
    """One frame of `raw`'s; `stream` counts the S frames and when the first and the
    last came (the rate is theirs: frames past the queue are dropped, not slow)."""
    if f[12:14] == ETHERTYPE.to_bytes(2, "big"):
        kind = f[14:15]
        if kind == b"E":
            net.send(f[6:12] + me + f[12:])
        elif kind == b"S":
            now = time.monotonic()
            stream[0] += 1
            stream[1], stream[2] = stream[1] or now, now
        elif kind == b"C":                              # f[15]: the round, echoed
            count, first, last = stream
            secs = (last - first) * count / (count - 1) if count > 1 else 0.0
            body = f[15:16] + struct.pack(">Id", count, secs)
            net.send((f[6:12] + me + f[12:14] + b"C" + body).ljust(60, b"\0"))
            stream[:] = [0, None, None]


def _frame(dst: bytes, src: bytes, kind: bytes, size: int) -> bytes:
    return (dst + src + ETHERTYPE.to_bytes(2, "big") + kind).ljust(size, b"\0")


def far_echo(rt, node: str):
    """The echo server of `node`, through that node's name server (remote IPC)."""
    return Names(rt, tid=names_id(CommClient(rt).resolve(node))).lookup("echo")


def median_ns(f, n: int) -> float:
    """Median ns of n calls of f, after one untimed (warm) call."""
    f()
    samples = []
    for _ in range(n):
        t = _ns()
        f()
        samples.append(_ns() - t)
    return statistics.median(samples)


def client(rt, peer_mac, node, repeats, n, stream):
    """The paired figures: each repeat times a block of each, one after the other."""
    repeats, n, stream = int(repeats), int(n), int(stream)
    net = NetDevice(rt, "net0")
    me, peer = net.info()["mac"], bytes.fromhex(peer_mac)
    far = far_echo(rt, node)
    near = Names(rt).lookup("echo")
    null = Msg(words=(0,))

    def ping(size):
        f = _frame(peer, me, b"E", size)

        def once():
            net.send(f)
            while net.recv()[12:15] != f[12:15]:
                pass
        return once
    ping60, ping1514 = ping(60), ping(1514)
    for r in range(repeats):
        out("ROUND", r, median_ns(ping60, n), median_ns(ping1514, n),
            median_ns(lambda: rt.call(far, null), n), median_ns(lambda: rt.call(near, null), n))
    s = _frame(peer, me, b"S", 1514)
    for r in range(repeats):
        for i in range(0, stream, MAX_BATCH):          # back to back, 31 a call
            sent = 0
            while sent < min(MAX_BATCH, stream - i):
                sent += net.sendv([s] * (min(MAX_BATCH, stream - i) - sent))
        count, secs = _count(net, _frame(peer, me, b"C" + bytes([r]), 60))
        data = bytes(1 << 20)
        t = _ns()
        rt.call(far, Msg(words=(0,), strings=(data,)), limits=StringLimits())
        bulk = (_ns() - t) / 1e9
        out("BULK", r, count * 1514, secs, len(data), bulk)
    out("DONE")


def _count(net, ask: bytes) -> tuple[int, float]:
    """The far end's count of S frames and the seconds they took (ask again if the
    question or its answer was lost)."""
    for _ in range(20):
        net.send(ask)
        deadline = time.monotonic() + 1.0
        try:
            while time.monotonic() < deadline:
                f = net.recv(timeout=1.0)
                if f[12:16] == ask[12:16]:
                    return struct.unpack(">Id", f[16:28])
        except ServiceError:
            continue
    raise RuntimeError("the far end does not answer C")


def counted(rt, node, n):
    """n INC calls to the far echo: how many returned OK, the last count, seconds."""
    far = far_echo(rt, node)
    ok, last, t = 0, 0, time.monotonic()
    for _ in range(int(n)):
        try:
            last = rt.call(far, Msg(words=(INC,)), timeout=30).words[0]
            ok += 1
        except IpcError as e:
            print(f"ERROR {e}", file=sys.stderr)
    out("COUNTED", ok, last, time.monotonic() - t)


def hold(rt, node):
    """A call with timeout NEVER the far echo never answers; when its error came."""
    far = far_echo(rt, node)
    out("HOLDING")
    try:
        rt.call(far, Msg(words=(HOLD,)))
        out("ENDED", "ok", time.monotonic())
    except IpcError as e:
        out("ENDED", e.code.name, time.monotonic())
