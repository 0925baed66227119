"""Task code for the kernel's part of remote IPC (tests/integration/test_remote_kernel.py).

`comm` plays the comm task: root keeps it at COMM_TASK (the operator's driver_start
with `task`), and it does with each message redirected to it what the message's first
word asks, in the name of the off-site thread the message was aimed at (deceit):

    ECHO                  reply to the sender: what I saw (`seen`), then the words
    FAIL result           the error notice [REMOTE_ERROR, result] to the sender
    PUSH lo hi [local]    send what I saw to thread hi:lo (in the name of my own chief,
                          a local thread, when `local` is 1)
    HOLD                  nothing: the sender waits until I end
    PROBE                 try what is refused to me, report it, and reply as ECHO

It reports (one fact line, microkernel.user.testing.report) what it saw and what its
own IPCs came to; the other functions are the tasks the test runs, which report what
their threads received. An off-site id here is an id of this node's site + 1."""
import time

from microkernel.abi import (IpcError, KernelError, Msg, Phase, ThreadId, IpcCode,
                             result_byte)
from microkernel.abi.ops import REMOTE_ERROR
from microkernel.user.testing import report, wait_until
from protocols.root import Root

HERE = __file__
ECHO, FAIL, PUSH, HOLD, PROBE = 1, 2, 3, 4, 5


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


def off_site(rt, tid: int) -> ThreadId:
    """`tid` as the id of a thread of another node (site + 1): the same fields else."""
    t = ThreadId(tid)
    return ThreadId.make(t.task, t.lthread, t.version, rt.site + 1, t.chief, t.nest)


def seen(msg: Msg) -> tuple:
    """What a receiver saw of a message, as words: flags, intended (low, high), sender
    (low, high)."""
    intended = msg.intended or ThreadId(0)
    return (int(msg.flags), intended.low, intended.high, msg.sender.low, msg.sender.high)


def unseen(words) -> dict:
    """`seen`'s words taken apart, ids as raw ints."""
    flags, il, ih, sl, sh = words[:5]
    return {"flags": flags, "intended": ih << 32 | il, "sender": sh << 32 | sl}


def until_state(rt, lthreads, state: str, timeout: float = 5.0) -> None:
    me = rt.myself()
    wait_until(lambda: all(rt.thread_schedule(me.lthread_id(i))["state"] == state
                           for i in lthreads), timeout, f"lthreads {lthreads} {state}")


# -- the comm task -------------------------------------------------------------------------

def comm(rt, name="comm", names="0"):
    """The test's comm task: serves redirected messages forever (root keeps it)."""
    report(comm_id=int(rt.myself()))
    while True:
        msg = rt.wait()
        if msg.intended is None or not msg.words:
            continue
        report(**{f"saw_{msg.words[0]}": unseen(seen(msg)) | {"words": list(msg.words)}})
        act(rt, msg)


def act(rt, msg: Msg) -> None:
    cmd, args, to, name = msg.words[0], msg.words[1:], msg.sender, msg.intended
    if cmd == ECHO:
        report(echo=outcome(rt.send, to, Msg(words=seen(msg) + args), timeout=0, deceit=name))
    elif cmd == FAIL:
        report(fail=outcome(rt.send, to, Msg(words=(REMOTE_ERROR, args[0])), timeout=0,
                            deceit=name))
    elif cmd == PUSH:
        witness = ThreadId(args[1] << 32 | args[0])
        deceit = rt.chief() if len(args) > 2 and args[2] else name
        report(**{f"push_{args[2] if len(args) > 2 else 0}": outcome(
            rt.send, witness, Msg(words=seen(msg)), timeout=1, deceit=deceit)})
    elif cmd == HOLD:
        report(holding=int(to))
    elif cmd == PROBE:
        other = off_site(rt, rt.chief())
        report(probe_bad_result=outcome(rt.send, to, Msg(words=(REMOTE_ERROR, 0x15)),
                                        timeout=0, deceit=name),
               probe_no_waiter=outcome(rt.send, to, Msg(words=(REMOTE_ERROR, 0x10)),
                                       timeout=0, deceit=other),
               probe_send_off_site=outcome(rt.send, name, Msg(words=(1,)), timeout=0),
               probe_nearest=outcome(rt.id_nearest, name))
        rt.send(to, Msg(words=seen(msg)), timeout=0, deceit=name)


# -- the tasks the test runs ---------------------------------------------------------------

def no_comm(rt):
    """With no comm task, an off-site id is no one's."""
    far = off_site(rt, rt.myself())
    report(call=outcome(rt.call, far, Msg(words=(ECHO,)), timeout=5),
           send=outcome(rt.send, far, Msg(words=(1,)), timeout=0),
           receive=outcome(rt.receive, far, timeout=5),
           nearest=outcome(rt.id_nearest, far))


def _record(rt, out, timeout):
    try:
        msg = rt.wait(timeout=timeout)
        out.append({"sender": int(msg.sender), "words": list(msg.words),
                    "deceited": msg.deceited})
    except IpcError as e:
        out.append([e.code, e.phase])


def call(rt):
    """A call to an off-site id that is my own lthread 1's but for its site: it goes to
    the comm task, not to lthread 1 (which waits openly and must get nothing)."""
    me = rt.myself()
    far = off_site(rt, me.lthread_id(1))
    got = []
    rt.lthread_ex_regs(1, _record, args=(got, 3))
    until_state(rt, [1], "receiving")
    reply = rt.call(far, Msg(words=(ECHO, 7, 8)), timeout=10)
    report(far=int(far), me=int(me), reply_sender=int(reply.sender),
           reply_deceited=reply.deceited, reply_redirected=reply.redirected,
           comm_saw=unseen(reply.words), reply_words=list(reply.words[5:]))
    rel, nearest = rt.id_nearest(far)
    report(nearest_relation=rel, nearest_task=nearest.task, nearest_lthread=nearest.lthread)
    report(lthread1=wait_until(lambda: got, 10, "lthread 1's wait to end")[0])


def send_and_deceit(rt):
    """A send to an off-site id reaches the comm task, which passes what it saw on to
    my lthread 1 (open wait) in that id's name; the comm task's deceit as a local
    thread, and mine as an off-site one, are plain sends."""
    me = rt.myself()
    far = off_site(rt, me.lthread_id(5))
    w = me.lthread_id(1)
    got = []

    def witness(rt1):
        for _ in range(3):
            _record(rt1, got, 10)
    rt.lthread_ex_regs(1, witness)
    until_state(rt, [1], "receiving")
    rt.send(far, Msg(words=(PUSH, w.low, w.high)), timeout=10)
    wait_until(lambda: len(got) >= 1, 10, "the message in the off-site id's name")
    until_state(rt, [1], "receiving")
    rt.send(far, Msg(words=(PUSH, w.low, w.high, 1)), timeout=10)
    wait_until(lambda: len(got) >= 2, 10, "the comm task's deceit as a local thread")
    until_state(rt, [1], "receiving")
    rt.send(w, Msg(words=(9,)), timeout=10, deceit=far)
    wait_until(lambda: len(got) >= 3, 10, "my deceit as an off-site thread")
    report(far=int(far), me=int(me), pushed=got[0], pushed_saw=unseen(got[0]["words"]),
           local_deceit=got[1], mine=got[2])


def closed_receive(rt):
    """My lthread 1 receives from an off-site id (closed, timeout NEVER): a message in
    another off-site id's name is not for it (the comm task's send times out), one in
    that id's name is."""
    me = rt.myself()
    far, other = off_site(rt, me.lthread_id(6)), off_site(rt, me.lthread_id(7))
    w = me.lthread_id(1)
    got = []

    def receiver(rt1):
        msg = rt1.receive(far)
        got.append({"sender": int(msg.sender), "deceited": msg.deceited})
    rt.lthread_ex_regs(1, receiver)
    until_state(rt, [1], "receiving")
    rt.send(other, Msg(words=(PUSH, w.low, w.high)), timeout=10)
    time.sleep(1.5)                               # the comm task's send (1 s) times out
    report(still=rt.thread_schedule(w)["state"])
    rt.send(far, Msg(words=(PUSH, w.low, w.high)), timeout=10)
    report(far=int(far), received=wait_until(lambda: got, 10, "lthread 1's message")[0])


def failures(rt):
    """Calls (timeout NEVER) that the comm task ends with error notices."""
    far = off_site(rt, rt.myself().lthread_id(9))
    for name, code, phase in (("gone", IpcCode.NOT_EXISTENT, Phase.RECEIVE),
                              ("send_timeout", IpcCode.TIMEOUT, Phase.SEND),
                              ("aborted", IpcCode.ABORTED, Phase.RECEIVE)):
        report(**{name: outcome(rt.call, far, Msg(words=(FAIL, result_byte(code, phase))))})
    reply = rt.call(far, Msg(words=(PROBE,)), timeout=10)
    report(after_probe=unseen(reply.words)["intended"] == far)


def notice_from_a_stranger(rt):
    """[REMOTE_ERROR, code] from me (not the comm task) in an off-site id's name to my
    lthread 1, which waits for that id: a plain send from me, which it does not take."""
    me = rt.myself()
    far = off_site(rt, me.lthread_id(4))
    got = []

    def receiver(rt1):
        try:
            rt1.receive(far, timeout=2)
            got.append("received")
        except IpcError as e:
            got.append([e.code, e.phase])
    rt.lthread_ex_regs(1, receiver)
    until_state(rt, [1], "receiving")
    report(stranger_notice=outcome(rt.send, me.lthread_id(1), Msg(words=(REMOTE_ERROR, 0x10)),
                                   timeout=0, deceit=far),
           receiver=wait_until(lambda: got, 10, "lthread 1's receive to end")[0])


def hold(rt):
    """A call (timeout NEVER) the comm task never answers: it ends when the comm task
    does."""
    far = off_site(rt, rt.myself().lthread_id(3))
    report(held=outcome(rt.call, far, Msg(words=(HOLD,))))


def alias(rt):
    """My lthread 1 waits for the off-site id of my child's thread; my child's deletion
    does not end that wait (its id is another task's: another site's)."""
    no = Root(rt).alloc_task()
    child = rt.task_new(no, f"{HERE}:sleeper", rt.pager)
    far = off_site(rt, child)
    w = rt.myself().lthread_id(1)
    got = []

    def receiver(rt1):
        try:
            msg = rt1.receive(far)
            got.append(int(msg.sender))
        except IpcError as e:
            got.append([e.code, e.phase])
    rt.lthread_ex_regs(1, receiver)
    until_state(rt, [1], "receiving")
    rt.task_new(no, "", None, new_chief=rt.task_no)           # delete the child
    report(child=int(child), after_delete=rt.thread_schedule(w)["state"], got_then=list(got))
    rt.send(far, Msg(words=(PUSH, w.low, w.high)), timeout=10)
    report(far=int(far), received=wait_until(lambda: got, 10, "lthread 1's message")[0])


def sleeper(rt):
    rt.sleep(60)


def nested(rt):
    """A child of my clan calls an off-site id: the call goes to the comm task and the
    reply to the child, neither through me (its chief), who waits openly meanwhile."""
    no = Root(rt).alloc_task()
    child = rt.task_new(no, f"{HERE}:nested_child", rt.pager)
    msg = rt.wait(timeout=20)
    report(parent_got={"sender": int(msg.sender), "words": list(msg.words),
                       "redirected": msg.redirected}, child=int(child))


def nested_child(rt):
    far = off_site(rt, rt.chief())
    reply = rt.call(far, Msg(words=(ECHO,)), timeout=10)
    report(nested_far=int(far), nested_sender=int(reply.sender),
           nested_saw=unseen(reply.words), nested_me=int(rt.myself()))
