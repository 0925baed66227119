"""Test drivers for the driver manager: one that serves, one that crashes at once, one
that spins, one that touches a port it was not given; and a client. Root starts each
driver as `main(rt, name, names_id)`. The serving one speaks TEST, a protocol of two
operations declared here the way protocols/ declares a service's."""
import enum
import time

from drivers.driver import start
from microkernel.abi import KernelError
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
        time.sleep(1.0)
        return (102,)


def steady(rt, name, names_id):
    start(rt, name, names_id)
    print("steady up", rt.myself(), flush=True)
    serve(rt, Dispatch(TEST, Steady(), rt))


def crash(rt, name, names_id):
    start(rt, name, names_id)
    raise RuntimeError("this driver always crashes")


def spin(rt, name, names_id):
    start(rt, name, names_id)
    print("spinning", flush=True)
    while True:
        pass


def rogue(rt, name, names_id):
    drv = start(rt, name, names_id)
    print("granted", drv.ports, flush=True)
    for port, value in ((0x43, 0x30), (0x3FB, 0x80), (0x1F7, 0xEC)):
        try:
            rt.outb(port, value)
            print("wrote", hex(port))
        except KernelError as e:
            print("refused", hex(port), e.fault.name, flush=True)
    rt.receive(0)


def client(rt, name, op):
    """Call driver `name` once through Service, which resends the request to the new
    driver if the old one dies meanwhile; prints the answer and the resends."""
    svc = Service(rt, name, iface=TEST, timeout=10)
    r = svc.call(int(op))
    print("answer", r.answer, "retries", svc.retries, flush=True)
