"""Task code for the timer and NIC driver tests: clients of the `timer` and `net0`
drivers, found through the name server; each prints what the test checks. Arguments
arrive as strings."""
import statistics
import struct
import threading
import time

from drivers.client import lookup, names_id
from drivers.protocol import E_INVAL, INFO, NOW, OK, RECV, SEND, SLEEP
from microkernel.abi import IpcError, Msg, ThreadId

ETHERTYPE = 0x88B5                     # IEEE "local experimental"


def find(rt, name: str, timeout: float = 10.0) -> ThreadId:
    """The driver registered as `name` (it may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        tid = lookup(rt, names_id(rt), name)
        if tid is not None or time.monotonic() > deadline:
            if tid is None:
                raise SystemExit(f"no driver {name!r}")
            return tid
        time.sleep(0.05)


def serving(rt, *names: str) -> None:
    """Wait until each driver of `names` answers (timer: NOW, net0: INFO); a restarted
    driver registers its name before its setup is done, and calls meanwhile wait."""
    asks = {"timer": NOW, "net0": INFO}
    deadline = time.monotonic() + 30
    for name in names:
        while True:
            try:
                r = rt.call(find(rt, name), Msg(words=(asks[name],)), timeout=1)
                break
            except IpcError:                # not yet waiting, or an older instance
                if time.monotonic() > deadline:
                    raise
        print("serving", name, r.words[0] == OK)


# -- timer ---------------------------------------------------------------------------

def now(rt, timer) -> tuple[int, int]:
    r = rt.call(timer, Msg(words=(NOW,)), timeout=5)
    assert r.words[0] == OK, r.words
    return r.words[1], r.words[2]


def timer_now(rt):
    timer = find(rt, "timer")
    h0 = time.monotonic()
    ms1, t1 = now(rt, timer)
    h1 = time.monotonic()
    time.sleep(0.3)
    h2 = time.monotonic()
    ms2, t2 = now(rt, timer)
    h3 = time.monotonic()
    print("now increases", ms2 > ms1, t2 > t1)
    # the two readings happened somewhere inside [h0, h1] and [h2, h3]
    print(f"now delta {ms2 - ms1} host {round((h2 - h1) * 1000)} "
          f"to {round((h3 - h0) * 1000)} ticks {t2 - t1}")


def timer_sleep(rt, ms, n):
    """n sleeps of ms each, timed by the host clock; prints min/mean/max in ms."""
    timer = find(rt, "timer")
    ms, n = int(ms), int(n)
    got = []
    for _ in range(n):
        t0 = time.monotonic()
        r = rt.call(timer, Msg(words=(SLEEP, ms)), timeout=10)
        got.append((time.monotonic() - t0) * 1000)
        assert r.words == (OK,), r.words
    print(f"slept min {min(got):.1f} mean {statistics.mean(got):.1f} max {max(got):.1f}"
          f" stdev {statistics.pstdev(got):.1f}")


def _sleeper(rt, timer, ms, woke, lock):
    r = rt.call(timer, Msg(words=(SLEEP, ms)), timeout=10)
    with lock:
        woke.append((ms, r.words[0], time.monotonic()))


def timer_sleepers(rt, *mss):
    """One lthread per argument, each sleeping that many ms, all at once; prints the
    order in which they woke."""
    timer = find(rt, "timer")
    woke, lock = [], threading.Lock()
    t0 = time.monotonic()
    for i, ms in enumerate(mss):
        rt.lthread_ex_regs(i + 1, _sleeper, args=(timer, int(ms), woke, lock))
    deadline = time.monotonic() + 10
    while len(woke) < len(mss) and time.monotonic() < deadline:
        time.sleep(0.01)
    order = [ms for ms, _, _ in woke]
    print("woke", order, "ok", all(st == OK for _, st, _ in woke))
    print("late", all((at - t0) * 1000 >= ms - 15 for ms, _, at in woke))


def timer_bad(rt):
    timer = find(rt, "timer")
    for words in [(), (NOW, 1), (SLEEP,), (SLEEP, 1, 2), (SLEEP, 0xFFFFFFFF), (0x1234,),
                  (SEND,)]:
        r = rt.call(timer, Msg(words=words), timeout=5)
        print("bad", words, r.words == (E_INVAL,))
    r = rt.call(timer, Msg(words=(SLEEP, 0)), timeout=5)
    print("sleep0", r.words == (OK,))
    try:                                                # a sleeper that gives up
        rt.call(timer, Msg(words=(SLEEP, 300)), timeout=0.05)
    except IpcError as e:
        print("gave up", e.code.name)
    time.sleep(0.4)                                     # its reply is due meanwhile
    t0 = time.monotonic()
    r = rt.call(timer, Msg(words=(SLEEP, 50)), timeout=5)
    print("still serving", r.words == (OK,), now(rt, timer)[0] > 0,
          round((time.monotonic() - t0) * 1000) >= 40)


# -- NIC -----------------------------------------------------------------------------

def info(rt, net) -> dict:
    r = rt.call(net, Msg(words=(INFO,)), timeout=5)
    assert r.words[0] == OK, r.words
    w = r.words
    mac = (w[1] << 32 | w[2]).to_bytes(6, "big")
    keys = ("link", "tx_frames", "tx_dropped", "rx_frames", "rx_missed", "rx_errors",
            "tx_errors")
    return {"mac": mac, **dict(zip(keys, w[3:]))}


def frame(dst: bytes, src: bytes, seq: int, size: int = 60) -> bytes:
    head = dst + src + struct.pack(">HI", ETHERTYPE, seq)
    return head + bytes(i & 0xFF for i in range(size - len(head)))


def nic_info(rt):
    i = info(rt, find(rt, "net0"))
    print("mac", i["mac"].hex(":"), "link", i["link"])


def nic_send_nolink(rt):
    net = find(rt, "net0")
    before = info(rt, net)
    t0 = time.monotonic()
    r = rt.call(net, Msg(words=(SEND,), strings=(frame(b"\xff" * 6, before["mac"], 1),)),
                timeout=5)
    ms = (time.monotonic() - t0) * 1000
    after = info(rt, net)
    print("send", list(r.words), "prompt", ms < 1000,
          "dropped", after["tx_dropped"] - before["tx_dropped"])
    try:
        rt.call(net, Msg(words=(RECV,)), timeout=0.3)
    except IpcError as e:
        print("recv", e.code.name, e.phase.value)
    print("after", info(rt, net)["link"])


def nic_bad(rt):
    net = find(rt, "net0")
    mac = info(rt, net)["mac"]
    cases = {"empty": Msg(words=()), "send-no-frame": Msg(words=(SEND,)),
             "send-short": Msg(words=(SEND,), strings=(b"x" * 13,)),
             "send-long": Msg(words=(SEND,), strings=(b"x" * 1515,)),
             "send-two": Msg(words=(SEND,), strings=(b"x" * 60, b"y" * 60)),
             "recv-arg": Msg(words=(RECV, 1)), "info-arg": Msg(words=(INFO, 1)),
             "timer-op": Msg(words=(NOW,)), "unknown": Msg(words=(0xBAD,))}
    for name, m in cases.items():
        r = rt.call(net, m, timeout=5)
        print("bad", name, r.words == (E_INVAL,))
    print("still serving", info(rt, net)["mac"] == mac)


def wait_link(rt, net, timeout=10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        i = info(rt, net)
        if i["link"] or time.monotonic() > deadline:
            return i
        time.sleep(0.05)


def nic_link(rt):
    i = wait_link(rt, find(rt, "net0"))
    print("mac", i["mac"].hex(":"), "link", i["link"])


def nic_echo(rt, n):
    """Receive n frames and send each back to its source (the peer side of ping)."""
    net = find(rt, "net0")
    me = wait_link(rt, net)["mac"]
    for _ in range(int(n)):
        r = rt.call(net, Msg(words=(RECV,)), timeout=20)
        f = bytes(r.strings[0])
        s = rt.call(net, Msg(words=(SEND,), strings=(f[6:12] + me + f[12:],)), timeout=5)
        assert s.words == (OK,), s.words
    print("echoed", n)


def nic_ping(rt, peer, n, size):
    """n round trips to the peer MAC with frames of `size` bytes; prints RTT figures."""
    net = find(rt, "net0")
    me = wait_link(rt, net)["mac"]
    peer = bytes.fromhex(peer.replace(":", ""))
    rtts, good = [], 0
    for seq in range(int(n)):
        f = frame(peer, me, seq, int(size))
        t0 = time.monotonic()
        s = rt.call(net, Msg(words=(SEND,), strings=(f,)), timeout=5)
        r = rt.call(net, Msg(words=(RECV,)), timeout=10)
        rtts.append((time.monotonic() - t0) * 1000)
        back = bytes(r.strings[0])
        good += s.words == (OK,) and back[:6] == me and back[6:12] == peer and back[12:] == f[12:]
    print("pinged", good, "of", n)
    print(f"rtt ms min {min(rtts):.2f} median {statistics.median(rtts):.2f} max {max(rtts):.2f}")


def nic_flood(rt, peer, n):
    """Send n numbered frames to the peer as fast as SEND returns."""
    net = find(rt, "net0")
    me = wait_link(rt, net)["mac"]
    peer = bytes.fromhex(peer.replace(":", ""))
    ok = sum(rt.call(net, Msg(words=(SEND,), strings=(frame(peer, me, i),)),
                     timeout=5).words == (OK,) for i in range(int(n)))
    print("flooded", ok)


def nic_drain(rt, n):
    """After a flood nobody received: the counters, then the frames kept in the ring."""
    net = find(rt, "net0")
    before = info(rt, net)
    seqs = []
    for _ in range(int(n)):
        try:
            r = rt.call(net, Msg(words=(RECV,)), timeout=1.0)
        except IpcError:
            break
        seqs.append(struct.unpack(">I", bytes(r.strings[0])[14:18])[0])
    print("missed", before["rx_missed"], "kept", len(seqs),
          "in-order", seqs == list(range(len(seqs))))
    after = info(rt, net)
    print("rx_frames", after["rx_frames"] - before["rx_frames"])


def nic_wait_down(rt):
    """Wait until the carrier is gone (the far end went away)."""
    net = find(rt, "net0")
    deadline = time.monotonic() + 10
    while info(rt, net)["link"] and time.monotonic() < deadline:
        time.sleep(0.05)
    print("link", info(rt, net)["link"])


def bad_senders(rt, name):
    """Messages the kernel cannot deliver to a driver (a map item to a receiver with no
    window): the sender gets the error, and the driver keeps serving."""
    from microkernel.abi import Fpage, MapItem
    drv = find(rt, name)
    rt.mem.write(0x200000, b"page")
    try:
        rt.call(drv, Msg(words=(INFO,), items=(MapItem(Fpage(0x200000, 12), 0),)), timeout=5)
        print("map item accepted")
    except IpcError as e:
        print("map item", e.code.name, e.phase.value)
    op = NOW if name == "timer" else INFO
    print("still serving", rt.call(drv, Msg(words=(op,)), timeout=5).words[0] == OK)
