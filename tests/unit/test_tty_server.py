"""The tty server's handlers through the tty protocol's dispatch, without a kernel: a
fake runtime records what is sent, a fake char device what is echoed."""
import errno
import signal

from microkernel.abi import Msg, ThreadId
from protocols import Dispatch
from protocols.tty import TTY, Op
from protocols.unix import Op as UnixOp, Unix
from servers.tty import Line, TtyServer

ME = ThreadId.make(17, 0, 1, site=1, chief=4, nest=1)
READER = ThreadId.make(17, 16, 1, site=1, chief=4, nest=1)
CLIENT = ThreadId.make(64, 0, 1, site=1, chief=4)
OTHER = ThreadId.make(65, 0, 1, site=1, chief=4)
UNIX = ThreadId.make(18, 0, 1, site=1, chief=4, nest=1)


class FakeRt:
    def __init__(self):
        self.sent = []

    def myself(self):
        return ME

    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self):
        return ThreadId.make(4, 0, 1, site=1)

    def send(self, dest, msg, timeout=None):
        self.sent.append((dest, msg.words, msg.strings))


class FakeDev:
    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out += data
        return len(data)


def rig():
    rt = FakeRt()
    server = TtyServer(rt, names=6)
    server.unix = Unix(rt, tid=int(UNIX))
    dev = FakeDev()
    server.lines.append(Line("com2", dev))
    return rt, dev, Dispatch(TTY, server, rt)


def ask(d, code, *values, sender=CLIENT):
    """Operation `code` with `values`, from `sender`: the dispatch's answer."""
    m = TTY.request(code, *values)
    return d(Msg(words=m.words, strings=m.strings, sender=sender))


def test_a_read_waits_for_a_line_that_input_completes():
    rt, dev, d = rig()
    assert ask(d, Op.READ, 0, 100) is None                       # no line yet: no reply
    assert ask(d, Op.INPUT, 0, b"hi\x7fo\r", sender=READER) is None
    assert bytes(dev.out) == b"hi\b \bo\r\n"
    assert rt.sent == [(CLIENT, (0,), (b"ho\n",))]
    ask(d, Op.INPUT, 0, b"\x04", sender=READER)                  # ^D: end of file
    assert ask(d, Op.READ, 0, 100).strings == ()


def test_input_only_from_the_servers_own_threads_and_lines_are_checked():
    rt, dev, d = rig()
    assert ask(d, Op.INPUT, 0, b"x\r").words == (errno.EPERM,)
    assert ask(d, Op.WRITE, 7, b"x").words == (errno.EINVAL,)    # no line 7
    assert d(Msg(words=(Op.READ, 0), sender=CLIENT)).words == (errno.EINVAL,)
    assert d(Msg(words=(0x54EE,), sender=CLIENT)).words == (errno.ENOSYS,)
    assert ask(d, Op.WRITE, 0, b"a\nb").words == (0, 3) and bytes(dev.out) == b"a\r\nb"


def test_ctrl_c_signals_the_foreground_group_through_the_unix_server():
    rt, dev, d = rig()
    ask(d, Op.INPUT, 0, b"\x03", sender=READER)                  # no group: nobody
    assert rt.sent == []
    assert ask(d, Op.SETPGRP, 0, 42).words == (0,)
    ask(d, Op.INPUT, 0, b"ab\x03", sender=READER)
    assert rt.sent == [(UNIX, (UnixOp.TTY_SIGNAL, 0, 42, signal.SIGINT), ())]
    assert bytes(dev.out).endswith(b"^C\r\n")
