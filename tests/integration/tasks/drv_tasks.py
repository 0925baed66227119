"""Test drivers for the driver manager: one that serves, one that crashes at once, one
that spins, one that touches a port it was not given; and a client. Root starts each
driver as `main(rt, name, names_id)`. The serving one speaks TEST, a protocol of two
operations declared here the way protocols/ declares a service's. What a test checks is
reported as facts (microkernel.user.testing.report)."""
import enum
import time

from drivers.driver import start
from microkernel.abi import KernelError
from microkernel.user.testing import report
from protocols import Dispatch, Service, call, serve
from protocols.interface import Interface


class Op(enum.IntEnum):
    PING = 1
    SLOW = 2


TEST = Interface("test", Op, {
    Op.PING: call("", "answer", retry=True),        # answered at once: 101
    Op.SLOW: call("", "answer", retry=True),        # answered after a second: 102
})


class Steady:
    """TEST's handlers (a SLOW request stays in flight long enough to be cut off)."""

    def ping(self, req, msg):
        return (101,)

    def slow(self, req, msg):
        time.sleep(1.0)                 # deliberately long: in flight when the test kills us
        return (102,)


def steady(rt, name, names_id):
    start(rt, name, names_id).register(rt)
    print("steady up", rt.myself(), flush=True)
    serve(rt, Dispatch(TEST, Steady(), rt))


def crash(rt, name, names_id):
    start(rt, name, names_id).register(rt)
    raise RuntimeError("this driver always crashes")


def spin(rt, name, names_id):
    start(rt, name, names_id).register(rt)
    report(spinning=True)
    while True:
        pass


def rogue(rt, name, names_id):
    drv = start(rt, name, names_id)
    drv.register(rt)
    writes = {}
    for port, value in ((0x43, 0x30), (0x3FB, 0x80), (0x1F7, 0xEC)):
        try:
            rt.outb(port, value)
            writes[hex(port)] = "written"
        except KernelError as e:
            writes[hex(port)] = e.fault
    report(granted=drv.ports, writes=writes)
    rt.receive(0)


def thief(rt, line, seconds):
    """Try to take IRQ `line` over and over for `seconds` (V2 attach: a closed receive
    from irq_id(n) with timeout 0); report how often, and whether it ever got it."""
    from microkernel.abi import IpcCode, IpcError, irq_id
    tries, stolen, end = 0, False, time.monotonic() + float(seconds)
    report(spinning=True)
    while time.monotonic() < end:
        try:
            rt.receive(irq_id(int(line)), timeout=0)
        except IpcError as e:
            stolen = stolen or e.code == IpcCode.TIMEOUT     # "timeout": attached
        tries += 1
    report(tries=tries, stolen=stolen)


def client(rt, name, op):
    """Call driver `name` once through Service, which resends the request to the new
    driver if the old one dies meanwhile; reports the answer and the resends."""
    svc = Service(rt, name, iface=TEST, timeout=10)
    report(answer=svc.call(int(op)).answer, retries=svc.retries)
