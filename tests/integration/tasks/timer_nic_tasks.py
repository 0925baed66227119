"""Task code for the timer and NIC driver tests: clients of the `timer` and `net0`
drivers through the protocols' stubs (found through the name server); each prints what
the test checks. Only the hostile requests (malformed, unknown, with a map item) are
built by hand. Arguments arrive as strings."""
import errno
import statistics
import struct
import threading
import time

from microkernel.abi import Fpage, IpcError, MapItem, Msg
from protocols import ServiceError
from protocols.net import NetDevice, Op as Net
from protocols.timer import Op as Tim, Timer

ETHERTYPE = 0x88B5                     # IEEE "local experimental"


def device(rt, name: str, timeout=5):
    """The stub of driver `name` (timer or net0), each call bounded by `timeout`."""
    return Timer(rt, timeout=timeout) if name == "timer" else NetDevice(rt, name,
                                                                        timeout=timeout)


def serving(rt, *names: str) -> None:
    """Wait until each driver of `names` answers (timer: NOW, net0: INFO); a restarted
    driver registers its name before its setup is done, and calls meanwhile wait."""
    deadline = time.monotonic() + 30
    for name in names:
        dev = device(rt, name, timeout=1)
        while True:
            try:
                dev.now() if name == "timer" else dev.info()
                break
            except ServiceError:            # not yet waiting, or an older instance
                if time.monotonic() > deadline:
                    raise
        print("serving", name, True)


def _refusals(rt, dest, cases) -> None:
    """Each hand-built request (name, words, strings, errno it should get): print
    "bad NAME True" when it got that errno."""
    for name, words, strings, code in cases:
        r = rt.call(dest, Msg(words=words, strings=strings), timeout=5)
        print("bad", name, r.words == (code,))


# -- timer ---------------------------------------------------------------------------

def timer_now(rt):
    timer = Timer(rt, timeout=5)
    timer.server()                                      # looked up before the timing
    h0 = time.monotonic()
    ms1, t1, _ = timer.now()
    h1 = time.monotonic()
    time.sleep(0.3)
    h2 = time.monotonic()
    ms2, t2, _ = timer.now()
    h3 = time.monotonic()
    print("now increases", ms2 > ms1, t2 > t1)
    # the two readings happened somewhere inside [h0, h1] and [h2, h3]
    print(f"now delta {ms2 - ms1} host {round((h2 - h1) * 1000)} "
          f"to {round((h3 - h0) * 1000)} ticks {t2 - t1}")


def timer_sleep(rt, ms, n):
    """n sleeps of ms each, timed by the host clock; prints min/mean/max in ms."""
    timer = Timer(rt, timeout=10)
    timer.server()
    ms, n = int(ms), int(n)
    got = []
    for _ in range(n):
        t0 = time.monotonic()
        timer.sleep(ms)
        got.append((time.monotonic() - t0) * 1000)
    print(f"slept min {min(got):.1f} mean {statistics.mean(got):.1f} max {max(got):.1f}"
          f" stdev {statistics.pstdev(got):.1f}")


def _sleeper(rt, tid, ms, woke, lock):
    """lthread: one sleep of `ms` (its own stub: a Service is one thread's)."""
    try:
        Timer(rt, tid=tid, timeout=10).sleep(ms)
        ok = True
    except ServiceError:
        ok = False
    with lock:
        woke.append((ms, ok, time.monotonic()))


def timer_sleepers(rt, *mss):
    """One lthread per argument, each sleeping that many ms, all at once; prints the
    order in which they woke."""
    tid = Timer(rt).server()
    woke, lock = [], threading.Lock()
    t0 = time.monotonic()
    for i, ms in enumerate(mss):
        rt.lthread_ex_regs(i + 1, _sleeper, args=(tid, int(ms), woke, lock))
    deadline = time.monotonic() + 10
    while len(woke) < len(mss) and time.monotonic() < deadline:
        time.sleep(0.01)
    order = [ms for ms, _, _ in woke]
    print("woke", order, "ok", all(ok for _, ok, _ in woke))
    print("late", all((at - t0) * 1000 >= ms - 15 for ms, _, at in woke))


def timer_bad(rt):
    timer = Timer(rt, timeout=5)
    N, S = Tim.NOW, Tim.SLEEP
    _refusals(rt, timer.server(), [
        ("empty", (), (), errno.ENOSYS), ("now-arg", (N, 1), (), errno.EINVAL),
        ("sleep-no-ms", (S,), (), errno.EINVAL), ("sleep-two", (S, 1, 2), (), errno.EINVAL),
        ("sleep-huge", (S, 0xFFFFFFFF), (), errno.EINVAL),
        ("unknown", (0x1234,), (), errno.ENOSYS), ("net-op", (Net.SEND,), (), errno.ENOSYS),
        ("due-from-outside", (Tim.DUE,), (), errno.EPERM)])
    timer.sleep(0)
    print("sleep0", True)
    try:                                                # a sleeper that gives up
        Timer(rt, tid=timer.server(), timeout=0.05).sleep(300)
    except ServiceError as e:
        print("gave up", errno.errorcode[e.errno])
    time.sleep(0.4)                                     # its reply is due meanwhile
    t0 = time.monotonic()
    timer.sleep(50)
    print("still serving", True, timer.now().ms > 0,
          round((time.monotonic() - t0) * 1000) >= 40)


# -- NIC -----------------------------------------------------------------------------

def frame(dst: bytes, src: bytes, seq: int, size: int = 60) -> bytes:
    head = dst + src + struct.pack(">HI", ETHERTYPE, seq)
    return head + bytes(i & 0xFF for i in range(size - len(head)))


def nic_info(rt):
    i = NetDevice(rt, "net0", timeout=5).info()
    print("mac", i["mac"].hex(":"), "link", i["link"])


def nic_send_nolink(rt):
    net = NetDevice(rt, "net0", timeout=5)
    before = net.info()
    t0 = time.monotonic()
    try:
        net.send(frame(b"\xff" * 6, before["mac"], 1))
        r = [0]
    except ServiceError as e:
        r = [e.errno, *e.detail]
    ms = (time.monotonic() - t0) * 1000
    after = net.info()
    print("send", r, "prompt", ms < 1000,
          "dropped", after["tx_dropped"] - before["tx_dropped"])
    try:
        net.recv(timeout=0.3)
    except ServiceError as e:
        print("recv", errno.errorcode[e.errno])
    print("after", net.info()["link"])


def nic_bad(rt):
    net = NetDevice(rt, "net0", timeout=5)
    mac = net.info()["mac"]
    S, EINVAL = Net.SEND, errno.EINVAL
    _refusals(rt, net.server(), [
        ("empty", (), (), errno.ENOSYS), ("send-no-frame", (S,), (), EINVAL),
        ("send-short", (S,), (b"x" * 13,), EINVAL), ("send-long", (S,), (b"x" * 1515,), EINVAL),
        ("send-two", (S,), (b"x" * 60, b"y" * 60), EINVAL),
        ("recv-arg", (Net.RECV, 1), (), EINVAL), ("info-arg", (Net.INFO, 1), (), EINVAL),
        ("timer-op", (Tim.NOW,), (), errno.ENOSYS), ("unknown", (0xBAD,), (), errno.ENOSYS)])
    print("still serving", net.info()["mac"] == mac)


def wait_link(net, timeout=10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        i = net.info()
        if i["link"] or time.monotonic() > deadline:
            return i
        time.sleep(0.05)


def nic_link(rt):
    i = wait_link(NetDevice(rt, "net0", timeout=5))
    print("mac", i["mac"].hex(":"), "link", i["link"])


def nic_echo(rt, n):
    """Receive n frames and send each back to its source (the peer side of ping)."""
    net = NetDevice(rt, "net0", timeout=5)
    me = wait_link(net)["mac"]
    for _ in range(int(n)):
        f = net.recv(timeout=20)
        net.send(f[6:12] + me + f[12:])
    print("echoed", n)


def nic_ping(rt, peer, n, size):
    """n round trips to the peer MAC with frames of `size` bytes; prints RTT figures."""
    net = NetDevice(rt, "net0", timeout=5)
    me = wait_link(net)["mac"]
    peer = bytes.fromhex(peer.replace(":", ""))
    rtts, good = [], 0
    for seq in range(int(n)):
        f = frame(peer, me, seq, int(size))
        t0 = time.monotonic()
        net.send(f)
        back = net.recv(timeout=10)
        rtts.append((time.monotonic() - t0) * 1000)
        good += back[:6] == me and back[6:12] == peer and back[12:] == f[12:]
    print("pinged", good, "of", n)
    print(f"rtt ms min {min(rtts):.2f} median {statistics.median(rtts):.2f} max {max(rtts):.2f}")


def _sent(net, f) -> bool:
    try:
        net.send(f)
        return True
    except ServiceError:
        return False


def nic_flood(rt, peer, n):
    """Send n numbered frames to the peer as fast as SEND returns."""
    net = NetDevice(rt, "net0", timeout=5)
    me = wait_link(net)["mac"]
    peer = bytes.fromhex(peer.replace(":", ""))
    print("flooded", sum(_sent(net, frame(peer, me, i)) for i in range(int(n))))


def nic_drain(rt, n):
    """After a flood nobody received: the counters, then the frames kept in the ring."""
    net = NetDevice(rt, "net0", timeout=5)
    before = net.info()
    seqs = []
    for _ in range(int(n)):
        try:
            f = net.recv(timeout=1.0)
        except ServiceError:
            break
        seqs.append(struct.unpack(">I", f[14:18])[0])
    print("missed", before["rx_missed"], "kept", len(seqs),
          "in-order", seqs == list(range(len(seqs))))
    after = net.info()
    print("rx_frames", after["rx_frames"] - before["rx_frames"])


def nic_wait_down(rt):
    """Wait until the carrier is gone (the far end went away)."""
    net = NetDevice(rt, "net0", timeout=5)
    deadline = time.monotonic() + 10
    while net.info()["link"] and time.monotonic() < deadline:
        time.sleep(0.05)
    print("link", net.info()["link"])


def bad_senders(rt, name):
    """Messages the kernel cannot deliver to a driver (a map item to a receiver with no
    window): the sender gets the error, and the driver keeps serving."""
    dev = device(rt, name)
    rt.mem.write(0x200000, b"page")
    try:
        rt.call(dev.server(), Msg(words=(Net.INFO,), items=(MapItem(Fpage(0x200000, 12), 0),)),
                timeout=5)
        print("map item accepted")
    except IpcError as e:
        print("map item", e.code.name, e.phase.value)
    dev.now() if name == "timer" else dev.info()
    print("still serving", True)
