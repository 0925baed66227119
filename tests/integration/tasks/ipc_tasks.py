"""Task code for the IPC tests: each function is a task's `main(rt, *args)` and prints
what the test checks. Several use a second lthread as the partner."""
import threading
import time

from microkernel.abi import (IpcError, KernelError, Msg, StringLimits, ThreadId)


def echo_server(rt):
    """lthread 1: reply to each message with its words + 1 and its strings reversed."""
    from protocols.server import serve
    serve(rt, lambda msg: Msg(words=tuple((w + 1) & 0xFFFFFFFF for w in msg.words),
                              strings=tuple(s[::-1] for s in msg.strings)))


def rpc(rt):
    rt.lthread_ex_regs(1, echo_server)
    server = rt.myself().lthread_id(1)
    r = rt.call(server, Msg(words=(41, 0xFFFFFFFF)))
    print("words", list(r.words), "sender_ok", r.sender == server)
    r = rt.call(server, Msg(words=(1,), strings=(b"abc", bytes(range(256)) * 2)))
    print("strings", r.strings[0], len(r.strings[1]), r.strings[1][:2].hex())
    big = bytes(range(256)) * 256
    r = rt.call(server, Msg(strings=(big,)))
    print("big", len(r.strings[0]), r.strings[0] == big[::-1])
    try:
        rt.call(server, Msg(strings=(b"x" * 100,)), limits=StringLimits(1, 10))
    except IpcError as e:
        print("cut", e.code.name, e.phase.value)


def errors(rt):
    t0 = time.monotonic()
    try:
        rt.receive(0, timeout=0.05)                     # sleep: receive from nil
    except IpcError as e:
        print("sleep", e.code.name, e.phase.value, time.monotonic() - t0 >= 0.045)
    idle = rt.myself().lthread_id(5)                     # exists, never receives
    try:
        rt.send(idle, Msg(words=(1,)), timeout=0)
    except IpcError as e:
        print("poll-send", e.code.name, e.phase.value)
    try:
        rt.send(idle, Msg(words=(1,)), timeout=0.05)
    except IpcError as e:
        print("timed-send", e.code.name, e.phase.value)
    ghost = ThreadId.make(2000, 0, version=77, site=rt.site)
    try:
        rt.call(ghost, Msg(words=(1,)))
    except IpcError as e:
        print("ghost", e.code.name, e.phase.value)
    try:
        rt.receive(ghost, timeout=1)
    except IpcError as e:
        print("ghost-rcv", e.code.name)
    try:
        rt._syscall([99])
    except KernelError as e:
        print("bad-op", e.fault.name)
    try:
        rt._syscall([1, 1, ["x"], [], 0, 0, 0, 0, None, None])
    except KernelError as e:
        print("bad-word", e.fault.name)


def _blocked_receiver(rt, out):
    try:
        rt.wait()
    except IpcError as e:
        out.append((e.code.name, e.phase.value))


def cancel(rt):
    out = []
    rt.lthread_ex_regs(1, _blocked_receiver, args=(out,))
    me1 = rt.myself().lthread_id(1)
    deadline = time.monotonic() + 5
    while rt.thread_schedule(me1)["state"] != "receiving" and time.monotonic() < deadline:
        time.sleep(0.01)
    old = rt.lthread_ex_regs(1, None)
    deadline = time.monotonic() + 5
    while not out and time.monotonic() < deadline:
        time.sleep(0.01)
    print("cancelled", out, "old-state", old["state"])


def _sender(rt, prio, tag, target):
    rt.thread_schedule(rt.myself(), prio=prio)
    rt.send(target, Msg(words=(tag,)))


def priority(rt):
    me = rt.myself()
    for i, prio in ((1, 10), (2, 30), (3, 20)):
        rt.lthread_ex_regs(i, _sender, args=(prio, i, me))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = [rt.thread_schedule(me.lthread_id(i))["state"] for i in (1, 2, 3)]
        if states == ["sending"] * 3:
            break
        time.sleep(0.01)
    order = [rt.wait().words[0] for _ in range(3)]
    print("order", order)


def _spin_then_wait(rt, seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    rt.wait()                               # then block, so the caller can read it


def thread_cpu(rt, seconds="0.3"):
    """thread_schedule reports each thread's consumed CPU time: lthread 1 spins for
    `seconds` of its own CPU, lthread 0 mostly sleeps."""
    me = rt.myself()
    rt.lthread_ex_regs(1, _spin_then_wait, args=(float(seconds),))
    deadline = time.monotonic() + 30
    while rt.thread_schedule(me.lthread_id(1))["state"] != "receiving" \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    spun, idle = rt.thread_schedule(me.lthread_id(1))["cpu"], rt.thread_schedule(me)["cpu"]
    print("spinner", round(spun, 2), "idle", round(idle, 2), "own", round(time.thread_time(), 2))


def deceit(rt):
    rt.lthread_ex_regs(1, echo_server)
    server = rt.myself().lthread_id(1)
    fake = ThreadId.make(rt.myself().task, 7, rt.myself().version, rt.site,
                         rt.myself().chief, rt.myself().nest)
    got = []

    def catcher(rt2):
        got.append(rt2.wait())
    rt.lthread_ex_regs(2, catcher)
    catcher_id = rt.myself().lthread_id(2)
    deadline = time.monotonic() + 5
    while rt.thread_schedule(catcher_id)["state"] != "receiving" and time.monotonic() < deadline:
        time.sleep(0.01)
    rt.send(catcher_id, Msg(words=(5,)), deceit=fake)
    deadline = time.monotonic() + 5
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    m = got[0]
    print("seen-as-self", m.sender == rt.myself(), "deceited", m.deceited)
    _ = server, threading


def fastpath_refusals(rt):
    """A server waits; a call to it, as the runtime would send it, except for one field
    of a wrong type, is refused as the general path refuses it (the fast path must not
    take it), and the server receives none of them. Then a good call goes through."""
    from microkernel.abi import NEVER, timeouts
    got = []

    def server(rt1):
        msg = rt1.wait()
        while True:
            got.append(list(msg.words))
            msg = rt1.reply_and_wait(msg.sender, Msg(words=(len(got),)))
    rt.lthread_ex_regs(1, server)
    s = int(rt.myself().lthread_id(1))
    print("first", list(rt.call(s, Msg(words=(7,))).words))
    call = [1, s, [8], [], timeouts.encode(NEVER, NEVER), 1, s, 0, None, None]
    for name, index, value in (("rmode-bool", 5, True), ("window-false", 7, False),
                               ("items-map", 3, {}), ("tword-float", 4, 0.0),
                               ("rfrom-str", 6, "x"), ("word-float", 2, [8.0]),
                               ("limits-str", 8, "x")):
        h = list(call)
        h[index] = value
        try:
            rt._syscall(h)
            print(name, "taken")
        except KernelError as e:
            print(name, e.fault.name)
    print("after", list(rt.call(s, Msg(words=(9,))).words), "got", got)
