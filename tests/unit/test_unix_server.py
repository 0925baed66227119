"""The Unix server's dispatch, without a kernel: every operation of protocols.unix has
exactly one handler, who may call what (a process, any task, the server itself), the
errno convention, page faults and notices routed by kind, and a call that waits (a
pipe read) answered later."""
import errno
import os
import signal

from microkernel.abi import Msg, ThreadId
from microkernel.abi.ops import PAGE_FAULT_EIP, TASK_EXIT_NOTICE
from personalities.unix.calls import ProcessCalls
from personalities.unix.exec import ExecCalls
from personalities.unix.files import FileCalls
from personalities.unix.proc import Proc
from personalities.unix.remote import RemoteCalls
from personalities.unix.server import Server
from personalities.unix.spawn import SpawnCalls
from personalities.unix.spawnio import SpawnIoCalls
from protocols.server import Dispatch
from protocols.unix import UNIX, WNOHANG, WUNTRACED, Op
from protocols.wellknown import ROOT_TASK, UNIX_TASK

ME = ThreadId.make(UNIX_TASK, 0, version=1, chief=ROOT_TASK, nest=1)
PROC = ThreadId.make(1024, 0, version=3, chief=UNIX_TASK, nest=2)
STRANGER = ThreadId.make(64, 0, version=1, chief=ROOT_TASK, nest=1)


class FakeRt:
    """What the server asks of its runtime before it makes IPC."""
    site = 0
    sigma0 = ThreadId.make(2, 0, version=1)

    def __init__(self):
        self.sent = []

    def myself(self):
        return ME

    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self):
        return ThreadId.make(ROOT_TASK, 0, version=1)

    def send(self, dest, msg, timeout=None, deceit=None):
        self.sent.append((dest, msg))


def server():
    rt = FakeRt()
    srv = Server(rt, names=int(ThreadId.make(6, 0, version=1)))
    srv.procs.add(Proc(7, 1, 7, PROC, "p"))
    srv.made(PROC)
    return srv, rt, Dispatch(UNIX, srv, rt, fault=srv.page_fault, notice=srv.notice,
                             redirected=srv.refuse)


def request(sender, op, *values):
    m = UNIX.request(op, *values)
    return Msg(words=m.words, strings=m.strings, sender=sender)


def test_every_operation_has_exactly_one_handler():
    mixins = (ProcessCalls, FileCalls, ExecCalls, SpawnCalls, SpawnIoCalls, RemoteCalls, Server)
    for op in Op:
        where = [c.__name__ for c in mixins if op.name.lower() in vars(c)]
        assert len(where) == 1, (op.name, where)


def test_a_process_calls_and_a_stranger_is_refused():
    srv, rt, handle = server()
    assert handle(request(PROC, Op.GETPID)).words == (0, 7, 1, 7)
    assert handle(request(STRANGER, Op.GETPID)).words == (errno.EPERM,)
    assert handle(request(STRANGER, Op.PS, 0)).strings == (b"1 0 1 running init",
                                                           b"7 1 7 running p")
    assert handle(request(PROC, Op.WORKER_DONE, 1)).words == (errno.EPERM,)
    assert handle(request(PROC, Op.TTY_SIGNAL, 0, 7, 2)).words == (errno.EPERM,)
    assert handle(Msg(words=(0x55EE, 0, 0), sender=PROC)).words == (errno.ENOSYS,)
    assert handle(Msg(words=(Op.CLOSE, 0, 0, 5), sender=PROC)).words == (errno.EINVAL,)
    assert handle(request(PROC, Op.CLOSE, 9)).words == (errno.EBADF,)


def test_a_process_that_ended_is_no_longer_one():
    srv, rt, handle = server()
    assert handle(request(PROC, Op.EXIT, 3)).words == (0,)
    assert handle(request(PROC, Op.GETPID)).words == (errno.EPERM,)


def test_a_pipe_read_waits_for_the_write():
    srv, rt, handle = server()
    r = handle(request(PROC, Op.PIPE))
    rfd, wfd = r.words[1:]
    assert handle(request(PROC, Op.READ, rfd, 10)) is None          # answered later
    assert handle(request(PROC, Op.WRITE, wfd, b"hi")).words == (0, 2)
    assert [(d, m.words, m.strings) for d, m in rt.sent] == [(PROC, (0,), (b"hi",))]


def test_faults_and_notices_go_by_kind():
    srv, rt, handle = server()
    assert handle(Msg(words=(0x1000, PAGE_FAULT_EIP), sender=STRANGER)).words == \
        (errno.EPERM,)
    assert handle(Msg(words=(TASK_EXIT_NOTICE, 5), sender=PROC)) is None
    assert 7 not in srv.procs.by_pid                 # ended; init (pid 1) reaped it
    assert srv.procs.free_tasks == [1024]


def test_sigtstp_stops_a_process_until_sigcont():
    """A stop parks the child's requests and answers the parent's WUNTRACED wait once;
    SIGCONT serves what was parked."""
    srv, rt, handle = server()
    srv.handle = handle
    child_tid = ThreadId.make(1025, 0, version=1, chief=UNIX_TASK, nest=2)
    srv.procs.add(Proc(8, 7, 8, child_tid, "c"))
    srv.made(child_tid)
    assert handle(request(PROC, Op.WAIT, -1, WUNTRACED)) is None       # waits
    assert handle(request(STRANGER, Op.KILL, 8, signal.SIGTSTP)).words == (0,)
    (dest, m), = rt.sent
    assert dest == PROC and m.words[1] == 8 and os.WIFSTOPPED(m.words[2]) \
        and os.WSTOPSIG(m.words[2]) == signal.SIGTSTP
    assert srv.gate(request(child_tid, Op.GETPID)) is None              # parked
    assert b"8 7 8 stopped c" in handle(request(STRANGER, Op.PS, 0)).strings
    assert handle(request(PROC, Op.WAIT, -1, WUNTRACED | WNOHANG)).words == (0, 0, 0)
    rt.sent.clear()
    assert handle(request(STRANGER, Op.KILL, 8, signal.SIGCONT)).words == (0,)
    assert [(d, m.words) for d, m in rt.sent] == [(child_tid, (0, 8, 7, 8))]
    assert srv.gate(request(child_tid, Op.GETPID)).words == (0, 8, 7, 8)
    assert handle(request(PROC, Op.HANGUP, b"com2")).words == (errno.EPERM,)


def test_a_stranger_reaches_no_relayed_or_spawned_fd_and_changes_nothing():
    """RELAY_READ/RELAY_WRITE with a secret no `on` holds, SPAWN_READ/WRITE of a pid
    the caller did not spawn, ON with a bad argument count or no such node: an error
    each, and the server's tables stay as they were."""
    srv, rt, handle = server()
    before = (dict(srv.relays), dict(srv.spawn_ends), dict(srv.procs.by_pid))
    for op, values in [(Op.RELAY_READ, (0, 10, b"x" * 16)), (Op.RELAY_WRITE, (1, b"?", b"d")),
                       (Op.SPAWN_READ, (7, 1, 10)), (Op.SPAWN_WRITE, (7, b"data"))]:
        assert handle(request(STRANGER, op, *values)).words == (errno.EBADF,), op
    assert handle(request(PROC, Op.ON, 5, 0, b"n2", (b"true",))).words == (errno.EINVAL,)
    assert (dict(srv.relays), dict(srv.spawn_ends), dict(srv.procs.by_pid)) == before
    assert rt.sent == []
