"""Task code for the cluster tests: a node's net0 driver (protocols.net.NetDevice) sends
and receives tagged, numbered frames through the switch, and reports (testing.report)
what it saw. Arguments arrive as strings. A frame is Ethernet II, EtherType 0x88B6 (0x88B5 is the comm server's):

    dst(6) src(6) 0x88B6 tag(8, ASCII) seq(4, big-endian) padding to `size`

A test gives each exchange its own tag, so frames of an earlier test still in a ring are
told apart (and counted as `others`)."""
import struct
import time

from microkernel.user.testing import report, wait_until
from protocols import ServiceError
from protocols.net import NetDevice

ETHERTYPE = 0x88B6
BROADCAST = "ff:ff:ff:ff:ff:ff"


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _net(rt) -> NetDevice:
    return NetDevice(rt, "net0", timeout=5)


def info(rt):
    i = _net(rt).info()
    report(mac=i["mac"].hex(":"), link=i["link"])


def wait_link(rt, state):
    """Wait until net0's carrier (INFO's link) is `state` (1 up, 0 down)."""
    net, want = _net(rt), int(state)
    wait_until(lambda: net.info()["link"] == want, 10, f"the link to be {want}")
    report(link=net.info()["link"])


def send(rt, dst, tag, n, size="60"):
    """Once the carrier is up: n frames to `dst` tagged `tag`, seq 0..n-1. Reports
    `sent` (SENDs answered without error) and `mac`."""
    net = _net(rt)
    me = wait_until(lambda: (lambda i: i["mac"] if i["link"] else None)(net.info()), 10,
                    "the link to come up")
    head = _mac(dst) + me + struct.pack(">H", ETHERTYPE) + tag.encode().ljust(8)[:8]
    sent = 0
    for seq in range(int(n)):
        f = head + struct.pack(">I", seq)
        try:
            net.send(f + bytes(max(0, int(size) - len(f))))
            sent += 1
        except ServiceError:
            pass
    report(sent=sent, mac=me.hex(":"))


def recv(rt, tag, n, quiet="0.5"):
    """Receive until n frames tagged `tag` came, or (once one came) nothing for `quiet`
    seconds; the first may take 10 s. Reports `got` (their seqs, in order), `src` and
    `dst` (of the first), `others` (frames of other tags)."""
    net, want = _net(rt), tag.encode().ljust(8)[:8]
    got, others, first = [], 0, None
    while len(got) < int(n):
        try:
            f = net.recv(timeout=float(quiet) if got else 10.0)
        except ServiceError:
            break
        if f[12:14] == struct.pack(">H", ETHERTYPE) and f[14:22] == want:
            got.append(struct.unpack(">I", f[22:26])[0])
            first = first or f
        else:
            others += 1
    report(got=got, others=others, src=first[6:12].hex(":") if first else None,
           dst=first[:6].hex(":") if first else None)


def drain(rt, quiet="0.3"):
    """Take every frame waiting in net0's ring (until `quiet` seconds pass with none)."""
    net, n = _net(rt), 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        try:
            net.recv(timeout=float(quiet))
            n += 1
        except ServiceError:
            break
    report(drained=n)
