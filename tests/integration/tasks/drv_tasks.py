"""Test drivers for the driver manager: one that serves, one that crashes at once, one
that spins, one that touches a port it was not given. Root starts each as
`main(rt, name, names_id)`."""
import time

from drivers.driver import start
from microkernel.abi import IpcError, KernelError, Msg

PING, SLOW = 1, 2


def steady(rt, name, names_id):
    """Answer PING at once and SLOW after a second (so a request can be in flight)."""
    start(rt, name, names_id)
    print("steady up", rt.myself(), flush=True)
    msg = rt.wait()
    while True:
        if msg.words[:1] == (SLOW,):
            time.sleep(1.0)
        try:
            msg = rt.reply_and_wait(msg.sender, Msg(words=(msg.words[0] + 100,)))
        except IpcError:
            msg = rt.wait()


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


def client(rt, name, names_id, op):
    """Call driver `name` once; on an error look it up again and retry."""
    from servers.names import lookup
    op = int(op)
    for attempt in range(20):
        tid = lookup(rt, int(names_id), name)
        if tid is None:
            time.sleep(0.1)
            continue
        try:
            r = rt.call(tid, Msg(words=(op,)), timeout=10)
            print("answer", r.words[0], "attempt", attempt, flush=True)
            return
        except IpcError as e:
            print("error", e.code.name, flush=True)
            time.sleep(0.1)
    print("gave up")
