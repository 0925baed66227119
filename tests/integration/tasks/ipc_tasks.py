"""Task code for the IPC tests: each function is a task's `main(rt, *args)` and reports
(one fact line, microkernel.user.testing.report) what the test checks. Several use a
second lthread as the partner."""
import time

from microkernel.abi import (IpcError, KernelError, Msg, StringLimits, ThreadId)
from microkernel.user.testing import report, wait_until


def outcome(request, *args, **kw):
    """What `request(*args, **kw)` came to: "ok", an IPC error's [code, phase], or the
    fault the kernel refused it with."""
    try:
        request(*args, **kw)
        return "ok"
    except IpcError as e:
        return [e.code, e.phase]
    except KernelError as e:
        return e.fault


def until_state(rt, lthreads, state: str, timeout: float = 5.0) -> None:
    """Wait until each of my `lthreads` is in IPC state `state` (thread_schedule's)."""
    me = rt.myself()
    wait_until(lambda: all(rt.thread_schedule(me.lthread_id(i))["state"] == state
                           for i in lthreads), timeout, f"lthreads {lthreads} {state}")


def echo_server(rt):
    """lthread 1: reply to each message with its words + 1 and its strings reversed."""
    from protocols.server import serve
    serve(rt, lambda msg: Msg(words=tuple((w + 1) & 0xFFFFFFFF for w in msg.words),
                              strings=tuple(s[::-1] for s in msg.strings)))


def rpc(rt):
    rt.lthread_ex_regs(1, echo_server)
    server = rt.myself().lthread_id(1)
    r = rt.call(server, Msg(words=(41, 0xFFFFFFFF)))
    report(server=server, sender=r.sender, words=r.words)
    r = rt.call(server, Msg(words=(1,), strings=(b"abc", bytes(range(256)) * 2)))
    report(strings=[r.strings[0], len(r.strings[1]), r.strings[1][:2].hex()])
    big = bytes(range(256)) * 256
    r = rt.call(server, Msg(strings=(big,)))
    report(big_len=len(r.strings[0]), big_reversed=r.strings[0] == big[::-1])
    report(cut=outcome(rt.call, server, Msg(strings=(b"x" * 100,)),
                       limits=StringLimits(1, 10)))


def errors(rt):
    t0 = time.monotonic()
    report(sleep=outcome(rt.receive, 0, timeout=0.05),      # sleep: receive from nil
           slept=time.monotonic() - t0)
    idle = rt.myself().lthread_id(5)                          # exists, never receives
    ghost = ThreadId.make(2000, 0, version=77, site=rt.site)
    report(poll_send=outcome(rt.send, idle, Msg(words=(1,)), timeout=0),
           timed_send=outcome(rt.send, idle, Msg(words=(1,)), timeout=0.05),
           ghost_call=outcome(rt.call, ghost, Msg(words=(1,))),
           ghost_receive=outcome(rt.receive, ghost, timeout=1),
           bad_op=outcome(rt._syscall, [99]),
           bad_word=outcome(rt._syscall, [1, 1, ["x"], [], 0, 0, 0, 0, None, None]))


def _blocked_receiver(rt, out):
    try:
        rt.wait()
        out.append("received")
    except IpcError as e:
        out.append([e.code, e.phase])


def cancel(rt):
    out = []
    rt.lthread_ex_regs(1, _blocked_receiver, args=(out,))
    until_state(rt, [1], "receiving")
    old = rt.lthread_ex_regs(1, None)
    report(cancelled=wait_until(lambda: out, 5, "lthread 1's IPC to end"),
           old_state=old["state"])


def _sender(rt, prio, tag, target):
    rt.thread_schedule(rt.myself(), prio=prio)
    rt.send(target, Msg(words=(tag,)))


def priority(rt):
    me = rt.myself()
    for i, prio in ((1, 10), (2, 30), (3, 20)):
        rt.lthread_ex_regs(i, _sender, args=(prio, i, me))
    until_state(rt, [1, 2, 3], "sending")
    report(order=[rt.wait().words[0] for _ in range(3)])


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
    until_state(rt, [1], "receiving", timeout=30)
    spun, idle = rt.thread_schedule(me.lthread_id(1))["cpu"], rt.thread_schedule(me)["cpu"]
    report(spinner=round(spun, 2), idle=round(idle, 2), own=round(time.thread_time(), 2))


def deceit(rt):
    me = rt.myself()
    fake = ThreadId.make(me.task, 7, me.version, rt.site, me.chief, me.nest)
    got = []
    rt.lthread_ex_regs(2, lambda rt2: got.append(rt2.wait()))
    until_state(rt, [2], "receiving")
    rt.send(me.lthread_id(2), Msg(words=(5,)), deceit=fake)
    m = wait_until(lambda: got, 5, "lthread 2's message")[0]
    report(me=me, fake=fake, sender=m.sender, deceited=m.deceited)


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
    report(first=rt.call(s, Msg(words=(7,))).words)
    call = [1, s, [8], [], timeouts.encode(NEVER, NEVER), 1, s, 0, None, None]
    refused = {}
    for name, index, value in (("rmode-bool", 5, True), ("window-false", 7, False),
                               ("items-map", 3, {}), ("tword-float", 4, 0.0),
                               ("rfrom-str", 6, "x"), ("word-float", 2, [8.0]),
                               ("limits-str", 8, "x")):
        h = list(call)
        h[index] = value
        refused[name] = outcome(rt._syscall, h)
    report(refused=refused, after=rt.call(s, Msg(words=(9,))).words, server_got=got)
