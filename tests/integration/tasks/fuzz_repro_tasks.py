"""A normal task (`normal`, run before and after the fuzz and by other tests), and the
reproducers of the kernel bugs the fuzz found (see test_fuzz.py)."""
from __future__ import annotations

import os
import sys

from microkernel.abi import Op, ThreadId
from microkernel.user.testing import report, wait_until

sys.path.append(os.path.dirname(os.path.abspath(__file__)))   # loaded by path: its helpers
from fuzz_common import M32, SAFE_PAGES, _pack, control  # noqa: E402


def _echo(rt):
    from microkernel.abi import Msg
    msg = rt.wait()
    while True:
        msg = rt.reply_and_wait(msg.sender, Msg(words=tuple((w + 1) & M32 for w in msg.words)))


def _cut(rt):
    from microkernel.abi import IpcError, StringLimits
    try:
        rt.wait(timeout=5, limits=StringLimits(1, 1 << 16))
    except IpcError:                # MSG_CUT, as meant (no print: it would race main's)
        pass


def normal(rt):
    """What every task does: touch memory (a page fault through the pager) and call a
    server (its own lthread 1). Then a 64 KiB cut: the first big string the kernel cuts
    is its first zero-copy send of a new buffer, which starts pyzmq's garbage-collector
    thread in the kernel (its own ZeroMQ context: 7 fds, once). A test that counts the
    kernel's fds runs this first, so that is in its baseline."""
    from microkernel.abi import IpcError, Msg
    rt.mem.write(SAFE_PAGES[0] + 8, b"hello")
    data = rt.mem.read(SAFE_PAGES[0] + 8, 5)
    rt.lthread_ex_regs(1, _echo)
    reply = rt.call(rt.myself().lthread_id(1), Msg(words=(41,)), timeout=5)
    rt.lthread_ex_regs(2, _cut)
    wait_until(lambda: rt.thread_schedule(rt.myself().lthread_id(2))["state"] == "receiving",
               5, "lthread 2 to receive")
    try:
        rt.send(rt.myself().lthread_id(2), Msg(strings=(bytes(1 << 17),)), timeout=5)
    except IpcError:
        pass
    report(data=data, words=reply.words)


def failed_page_fault(rt):
    """A page fault whose pager does not exist: answered as a refusal, and the thread
    keeps no trace of it (a later IPC must be delivered, not swallowed)."""
    from microkernel.abi import KernelError, Msg
    from microkernel.abi import timeouts as _t
    me = rt.myself()
    ghost = ThreadId.make(2000, 0, 77, rt.site)
    rt.lthread_ex_regs(0, None, pager=int(ghost))
    try:
        report(fault_reply=rt._syscall([Op.PAGE_FAULT, SAFE_PAGES[0], 0, 0]))
    except KernelError as e:
        report(fault_refused=e.fault)
    rt.lthread_ex_regs(0, None, pager=int(rt.pager))
    report(violations=control(rt, {"op": "check"})["violations"])

    def sender(rt2):                      # a rendezvous: waits until main receives
        rt2.send(me, Msg(words=(7,)), timeout=2)
    rt.lthread_ex_regs(1, sender)
    reply = rt._syscall([Op.IPC, None, [], [], _t.encode(0, 3.0), 2, 0, 0, None, None])
    report(received=reply[2] if len(reply) > 2 else reply)


def _sleeper(rt):
    try:
        rt.receive(0, timeout=600)
    except Exception:
        pass


def timer_heap(rt, calls="3000"):
    """RPCs with a long timeout while another thread sleeps long: the kernel's timer
    heap must not keep one dead entry per call."""
    from microkernel.abi import Msg
    rt.lthread_ex_regs(1, _echo)
    rt.lthread_ex_regs(2, _sleeper)
    wait_until(lambda: rt.thread_schedule(rt.myself().lthread_id(2))["state"] == "receiving",
               5, "lthread 2 to sleep")
    server = rt.myself().lthread_id(1)
    before = control(rt, {"op": "status"})["counts"]["timer_heap"]
    for i in range(int(calls)):
        rt.call(server, Msg(words=(i,)), timeout=3600)
    after = control(rt, {"op": "status"})["counts"]["timer_heap"]
    report(timers_before=before, timers_after=after)


def refusals_change_nothing(rt):
    """A refused request leaves no change behind, and wrong types are refused."""
    from microkernel.abi import KernelError
    me = int(rt.myself())
    before = rt.thread_schedule(me)["prio"]
    try:
        rt._syscall([Op.THREAD_SCHEDULE, me, before + 1, "not a time slice"])
        report(schedule="accepted")
    except KernelError as e:
        report(schedule=e.fault)
    report(prio_unchanged=rt.thread_schedule(me)["prio"] == before)
    poll_nil = [Op.IPC, None, [], [], 0x11, 1, 0, 0, None, None]
    cases = {"timeouts True": (4, True), "rcv mode 1.0": (5, 1.0),
             "limits bytes": (8, b"\x01\x02"), "window []": (7, [])}
    results = {}
    for name, (i, v) in cases.items():
        h = list(poll_nil)
        h[i] = v
        try:
            rt._syscall(h)
            results[name] = "accepted"
        except KernelError as e:
            results[name] = e.fault.name
    report(cases=results)


def oversized(rt):
    """A request with one frame over the kernel socket's MAXMSGSIZE (64 MiB; the ABI's
    strings are at most 4 MiB each, and a message of 17 such strings is answered):
    ZeroMQ drops it, so the kernel never sees it. Then the thread goes on."""
    sock = rt._cpu.sock
    sock.send_multipart([_pack([Op.ID_NEAREST, 0]), bytes(65 << 20)], copy=False)
    answered = bool(sock.poll(3000))
    if answered:
        sock.recv_multipart()
    report(answered=answered, then=rt.id_nearest(0)[1] == rt.myself())
