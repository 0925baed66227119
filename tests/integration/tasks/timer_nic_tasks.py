"""Task code for the timer and NIC driver tests: clients of the `timer` and `net0`
drivers through the protocols' stubs (found through the name server); each reports
(microkernel.user.testing.report) the facts the test checks. Only the hostile requests
(malformed, unknown, with a map item) are built by hand. Arguments arrive as strings."""
import errno
import statistics
import struct
import threading
import time

from microkernel.abi import Fpage, IpcError, MapItem, Msg
from microkernel.user.testing import report, wait_until
from protocols import ServiceError
from protocols.net import NetDevice, Op as Net
from protocols.timer import Op as Tim, Timer

ETHERTYPE = 0x88B6                     # IEEE "local experimental 2" (0x88B5 is the comm server's)


def device(rt, name: str, timeout=5):
    """The stub of driver `name` (timer or net0), each call bounded by `timeout`."""
    return Timer(rt, timeout=timeout) if name == "timer" else NetDevice(rt, name,
                                                                        timeout=timeout)


def _answers(dev, name: str) -> bool:
    """Whether driver `name` answers a request (timer: NOW, net0: INFO)."""
    try:
        dev.now() if name == "timer" else dev.info()
        return True
    except ServiceError:                    # not yet waiting, or an older instance
        return False


def serving(rt, *names: str) -> None:
    """Wait until each driver of `names` answers; a restarted driver registers its name
    before its setup is done, and calls meanwhile wait. Reports `serving`: the names."""
    for name in names:
        dev = device(rt, name, timeout=1)
        wait_until(lambda: _answers(dev, name), 30, f"{name} to answer")
    report(serving=names)


def _refusals(rt, dest, cases) -> dict:
    """Each hand-built request (name, words, strings) -> the words of its reply (an
    error reply is [errno])."""
    return {name: rt.call(dest, Msg(words=words, strings=strings), timeout=5).words
            for name, words, strings in cases}


# -- timer ---------------------------------------------------------------------------

def timer_now(rt):
    timer = Timer(rt, timeout=5)
    timer.server()                                      # looked up before the timing
    h0 = time.monotonic()
    ms1, t1, _ = timer.now()
    h1 = time.monotonic()
    time.sleep(0.3)                                     # the time to be measured
    h2 = time.monotonic()
    ms2, t2, _ = timer.now()
    h3 = time.monotonic()
    # the two readings happened somewhere inside [h0, h1] and [h2, h3]: the host's
    # time between them is within host_ms
    report(delta_ms=ms2 - ms1, ticks=t2 - t1,
           host_ms=[round((h2 - h1) * 1000), round((h3 - h0) * 1000)])


def timer_sleep(rt, ms, n):
    """n sleeps of ms each, timed by the host clock; reports min/mean/max/stdev in ms."""
    timer = Timer(rt, timeout=10)
    timer.server()
    ms, n = int(ms), int(n)
    got = []
    for _ in range(n):
        t0 = time.monotonic()
        timer.sleep(ms)
        got.append((time.monotonic() - t0) * 1000)
    report(min_ms=round(min(got), 1), mean_ms=round(statistics.mean(got), 1),
           max_ms=round(max(got), 1), stdev_ms=round(statistics.pstdev(got), 1))


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
    """One lthread per argument, each sleeping that many ms, all at once. Reports
    `woke`: the order in which they woke; `failed`: those whose sleep failed; `early`:
    those that woke more than 15 ms before their time."""
    tid = Timer(rt).server()
    woke, lock = [], threading.Lock()
    t0 = time.monotonic()
    for i, ms in enumerate(mss):
        rt.lthread_ex_regs(i + 1, _sleeper, args=(tid, int(ms), woke, lock))
    wait_until(lambda: len(woke) == len(mss), 10, "every sleeper to wake")
    report(woke=[ms for ms, _, _ in woke], failed=[ms for ms, ok, _ in woke if not ok],
           early=[ms for ms, _, at in woke if (at - t0) * 1000 < ms - 15])


def timer_bad(rt):
    """Hand-built bad requests (`refused`: each one's reply words), a sleep of 0, a
    sleeper that gives up (`gave_up`: its errno's name) and, once its reply has come due,
    a sleep of 50 ms (`then_slept_ms`) and a clock reading (`then_now_ms`)."""
    timer = Timer(rt, timeout=5)
    N, S = Tim.NOW, Tim.SLEEP
    refused = _refusals(rt, timer.server(), [
        ("empty", (), ()), ("now-arg", (N, 1), ()), ("sleep-no-ms", (S,), ()),
        ("sleep-two", (S, 1, 2), ()), ("sleep-huge", (S, 0xFFFFFFFF), ()),
        ("unknown", (0x1234,), ()), ("net-op", (Net.SEND,), ()),
        ("due-from-outside", (Tim.DUE,), ())])
    timer.sleep(0)
    try:                                                # a sleeper that gives up
        Timer(rt, tid=timer.server(), timeout=0.05).sleep(300)
        gave_up = None
    except ServiceError as e:
        gave_up = errno.errorcode[e.errno]
    time.sleep(0.4)          # lets its 300 ms come due: the reply finds nobody waiting
    t0 = time.monotonic()
    timer.sleep(50)
    report(refused=refused, slept_0=True, gave_up=gave_up,
           then_slept_ms=round((time.monotonic() - t0) * 1000), then_now_ms=timer.now().ms)


# -- NIC -----------------------------------------------------------------------------

def frame(dst: bytes, src: bytes, seq: int, size: int = 60) -> bytes:
    head = dst + src + struct.pack(">HI", ETHERTYPE, seq)
    return head + bytes(i & 0xFF for i in range(size - len(head)))


def nic_info(rt):
    i = NetDevice(rt, "net0", timeout=5).info()
    report(mac=i["mac"].hex(":"), link=i["link"])


def nic_send_nolink(rt):
    """A SEND with no carrier: `send` its reply ([0] or [errno, *detail]), `send_ms`,
    `dropped` (the tx_dropped counter's step); a RECV that times out (`recv`: errno's
    name); `link_after` from INFO after that."""
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
    report(send=r, send_ms=round(ms), dropped=after["tx_dropped"] - before["tx_dropped"])
    try:
        net.recv(timeout=0.3)
        report(recv="a frame")
    except ServiceError as e:
        report(recv=errno.errorcode[e.errno])
    report(link_after=net.info()["link"])


def nic_bad(rt):
    """Hand-built bad requests (`refused`: each one's reply words); then INFO still
    gives the same MAC (`still_serving`)."""
    net = NetDevice(rt, "net0", timeout=5)
    mac = net.info()["mac"]
    S = Net.SEND
    refused = _refusals(rt, net.server(), [
        ("empty", (), ()), ("send-no-frame", (S,), ()), ("send-short", (S,), (b"x" * 13,)),
        ("send-long", (S,), (b"x" * 1515,)), ("send-two", (S,), (b"x" * 60, b"y" * 60)),
        ("recv-arg", (Net.RECV, 1, 2), ()), ("info-arg", (Net.INFO, 1), ()),
        ("timer-op", (Tim.NOW,), ()), ("unknown", (0xBAD,), ())])
    report(refused=refused, still_serving=net.info()["mac"] == mac)


def wait_link(net, timeout=10.0) -> dict:
    """INFO once the carrier is up."""
    def up():
        i = net.info()
        return i if i["link"] else None
    return wait_until(up, timeout, "the link to come up")


def nic_link(rt):
    i = wait_link(NetDevice(rt, "net0", timeout=5))
    report(mac=i["mac"].hex(":"), link=i["link"])


def nic_flush(rt):
    """Take every frame waiting of a type nobody claimed until none comes for 0.5 s
    (`flushed`: how many): a comm server stopped before it claimed its type leaves
    its peer's announcements there."""
    net, flushed = NetDevice(rt, "net0", timeout=5), 0
    while True:
        try:
            net.recv(timeout=0.5)
        except ServiceError:
            break
        flushed += 1
    report(flushed=flushed)


def nic_echo(rt, n):
    """Receive n frames and send each back to its source (the peer side of ping)."""
    net = NetDevice(rt, "net0", timeout=5)
    me = wait_link(net)["mac"]
    for _ in range(int(n)):
        f = net.recv(timeout=20)
        net.send(f[6:12] + me + f[12:])
    report(echoed=int(n))


def nic_ping(rt, peer, n, size):
    """n round trips to the peer MAC with frames of `size` bytes; reports how many came
    back intact (`pinged`) and RTT figures."""
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
    report(pinged=good, rtt_ms=[round(min(rtts), 2), round(statistics.median(rtts), 2),
                                round(max(rtts), 2)])


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
    report(flooded=sum(_sent(net, frame(peer, me, i)) for i in range(int(n))))


def nic_drain(rt, n):
    """After a flood nobody received: `missed` (the counter), `kept` (the sequence
    numbers of the frames kept in the ring, in the order received), `rx_frames` (the
    counter's step while they were read)."""
    net = NetDevice(rt, "net0", timeout=5)
    before = net.info()
    seqs = []
    for _ in range(int(n)):
        try:
            f = net.recv(timeout=1.0)
        except ServiceError:
            break
        seqs.append(struct.unpack(">I", f[14:18])[0])
    after = net.info()
    report(missed=before["rx_missed"], kept=seqs,
           rx_frames=after["rx_frames"] - before["rx_frames"])


def nic_wait_down(rt):
    """Wait until the carrier is gone (the far end went away)."""
    net = NetDevice(rt, "net0", timeout=5)
    wait_until(lambda: not net.info()["link"], 10, "the carrier to go")
    report(link=net.info()["link"])


def bad_senders(rt, name):
    """Messages the kernel cannot deliver to a driver (a map item to a receiver with no
    window): the sender gets the error (`map_item`, `phase`), and the driver keeps
    serving (`still_serving`)."""
    dev = device(rt, name)
    rt.mem.write(0x200000, b"page")
    try:
        rt.call(dev.server(), Msg(words=(Net.INFO,), items=(MapItem(Fpage(0x200000, 12), 0),)),
                timeout=5)
        report(map_item="accepted")
    except IpcError as e:
        report(map_item=e.code, phase=e.phase)
    report(still_serving=_answers(dev, name))
