"""The Unix server's pipes, fd tables and process table, without a kernel: blocking
reads and writes are parked calls answered later, EOF and EPIPE, dup2 and fork
sharing descriptions, wait matching, zombies and orphans."""
import errno

import pytest

from microkernel.abi import ThreadId
from personalities.unix.fd import FdTable, Null, PipeEnd
from personalities.unix.pipe import Pipe
from personalities.unix.proc import Call, Proc, ProcTable
from protocols.unix import Op


class Sent(list):
    def __call__(self, tid, msg):
        self.append((tid, msg.words, msg.strings))


def call(sent, proc=None, op=Op.READ):
    return Call(sent, proc, ThreadId(1 << 17), op)


def writer(sent, proc=None):
    return call(sent, proc, Op.WRITE)


class FakeProc:
    blocked = sigwait = None


def pipe_pair(size=16, on_epipe=lambda p: None):
    p = Pipe(on_epipe=on_epipe, size=size)
    return p, PipeEnd(p, False), PipeEnd(p, True)


def test_a_read_of_an_empty_pipe_waits_for_a_writer():
    sent = Sent()
    p, r, w = pipe_pair()
    c = call(sent)
    assert r.read(None, c, 10) is None and not sent
    assert w.write(None, writer(sent), b"abc") == 3
    assert sent == [(ThreadId(1 << 17), (0,), (b"abc",))]


def test_end_of_file_when_the_last_writer_closes():
    sent = Sent()
    p, r, w = pipe_pair()
    assert r.read(None, call(sent), 10) is None
    w.close()
    assert sent[0][1:] == ((0,), ())               # no data: end of file
    assert r.read(None, call(sent), 10) == b""


def test_a_write_bigger_than_the_pipe_waits_for_room():
    sent = Sent()
    p, r, w = pipe_pair(size=4)
    assert w.write(None, writer(sent), b"0123456789") is None
    assert r.read(None, call(sent), 3) == b"012"
    assert not sent                                # 3456 went in, 789 still wait
    assert r.read(None, call(sent), 10) == b"3456"
    assert sent == [(ThreadId(1 << 17), (0, 10), ())]   # all 10 in: the writer goes on
    assert r.read(None, call(sent), 10) == b"789"


def test_no_readers_is_epipe_and_sigpipe():
    sent, piped = Sent(), []
    p, r, w = pipe_pair(on_epipe=piped.append)
    r.close()
    proc = FakeProc()
    with pytest.raises(OSError) as e:
        w.write(None, writer(sent, proc), b"x")
    assert e.value.errno == errno.EPIPE and piped == [proc]


def test_a_waiting_writer_gets_epipe_when_the_reader_goes():
    sent, piped = Sent(), []
    p, r, w = pipe_pair(size=2, on_epipe=piped.append)
    proc = FakeProc()
    assert w.write(None, writer(sent, proc), b"abcd") is None     # 2 in, 2 waiting
    r.close()
    assert sent[0][1] == (0, 2) and not piped      # what went in: a short write
    with pytest.raises(OSError):
        w.write(None, writer(sent, proc), b"x")
    assert piped == [proc]


def test_a_signal_interrupts_a_waiting_read():
    sent = Sent()
    p, r, w = pipe_pair()
    c = call(sent)
    assert r.read(None, c, 10) is None
    c.interrupt(15)
    assert sent[-1][1] == (errno.EINTR, 15)
    w.write(None, writer(sent), b"late")           # nobody waits any more: it stays
    assert r.read(None, call(sent), 10) == b"late"


def test_dup2_fork_and_close_share_descriptions():
    p, r, w = pipe_pair()
    t = FdTable()
    fr, fw = t.install(r), t.install(w)
    assert (fr, fw) == (0, 1)
    t.dup2(fw, 5)
    child = t.fork()
    t.close(fw)
    t.close(5)
    assert p.writers == 1                          # the child still holds it
    child.close_all()
    assert p.writers == 0 and p.readers == 1
    with pytest.raises(OSError) as e:
        t.get(fw)
    assert e.value.errno == errno.EBADF


def test_close_on_exec_and_lowest_free_fd():
    t = FdTable()
    a, b, c = t.install(Null()), t.install(Null(), cloexec=True), t.install(Null())
    t.close(a)
    assert t.install(Null()) == a
    t.exec()
    assert b not in t.fds and c in t.fds


def proc(table, pid, ppid, task):
    return table.add(Proc(pid, ppid, pid, ThreadId.make(task, 0, 1), f"p{pid}"))


def test_wait_finds_zombies_and_orphans_go_to_init():
    table = ProcTable()
    parent = proc(table, 2, 1, 1024)
    kid = proc(table, 3, 2, 1025)
    grandkid = proc(table, 4, 3, 1026)
    assert table.match(parent, -1, 0) == (0, None)
    assert table.match(parent, 99, 0) == (errno.ECHILD, None)
    table.zombify(kid, 7 << 8)
    assert grandkid.ppid == 1
    err, z = table.match(parent, -1, 0)
    assert z is kid and table.reap(kid) == 7 << 8
    assert table.match(parent, -1, 0) == (errno.ECHILD, None)


def test_a_blocked_wait_is_answered_when_a_child_ends():
    sent = Sent()
    table = ProcTable()
    parent = proc(table, 2, 1, 1024)
    kid = proc(table, 3, 2, 1025)
    c = call(sent, parent, Op.WAIT)
    parent.waiting.append((c, -1, 0))
    table.zombify(kid, 9)
    table.answer_waits(parent)
    assert sent[0][1] == (0, 3, 9)
    assert 3 not in table.by_pid
