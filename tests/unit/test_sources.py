"""The kernel loop's source watcher (microkernel/kernel/sources.py), on a real ROUTER:
a ready descriptor is reported on the socket and its callback runs only on `ready`,
stale reports do nothing, a ZeroMQ source is drained, and `wake` interrupts a recv."""
import os

import pytest
import zmq

from microkernel.kernel.sources import Sources

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def rig():
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.RCVTIMEO, 5000)
    router.bind("inproc://sources-test")
    src = Sources(ctx, "inproc://sources-test")
    yield router, src
    src.close()
    router.close(0)
    ctx.term()


def report(router):
    ident, body = router.recv_multipart()
    return ident, body


def test_a_ready_pipe_is_reported_and_its_callback_runs_on_ready(rig):
    router, src = rig
    r, w = os.pipe()
    got = []
    src.update({r: lambda: got.append(os.read(r, 100))})
    os.write(w, b"hi")
    ident, body = report(router)
    assert ident == src.ident and got == []         # reported, not yet handled
    src.ready(body)
    assert got == [b"hi"]
    os.write(w, b"again")                            # re-armed after the callback
    src.ready(report(router)[1])
    assert got == [b"hi", b"again"]
    os.close(r), os.close(w)


def test_a_stale_report_does_nothing(rig):
    router, src = rig
    r, w = os.pipe()
    called = []
    src.update({r: lambda: called.append(1)})
    os.write(w, b"x")
    body = report(router)[1]
    src.update({})                                   # no longer watched
    src.ready(body)
    r2, w2 = os.pipe()                               # watched, but not readable
    src.update({r2: lambda: called.append(2)})
    src.ready(r2.to_bytes(4, "little", signed=True))
    assert called == []
    for fd in (r, w, r2, w2):
        os.close(fd)


def test_a_zmq_source_is_drained_and_what_came_first_is_taken(rig):
    router, src = rig
    ctx = zmq.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://sources-pair")
    b.connect("inproc://sources-pair")
    a.send(b"early")
    got = []

    def take():
        got.append(b.recv(zmq.NOBLOCK))
    src.update({b: take})                            # it was waiting before we watched
    assert got == [b"early"]
    for i in range(3):
        a.send(b"%d" % i)
    src.ready(report(router)[1])
    assert got == [b"early", b"0", b"1", b"2"]
    a.close(0), b.close(0)


def test_wake_makes_the_socket_readable(rig):
    router, src = rig
    src.wake()
    ident, body = report(router)
    assert ident == src.ident and body == b""
    src.ready(body)                                  # a wake report runs nothing
