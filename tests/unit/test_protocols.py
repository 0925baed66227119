"""The protocol layer without a kernel: layouts, declarations, who may call, dispatch."""
import errno

import pytest
from hypothesis import given, strategies as st

from microkernel.abi import Msg, ThreadId
from microkernel.abi.ops import PAGE_FAULT_EIP, TASK_EXIT_NOTICE
from protocols import Dispatch, Reply, Who, call, error
from protocols.interface import Interface, Layout, MalformedError
from protocols.server import Forward

import enum

WORD = st.integers(0, 0xFFFFFFFF)
BYTES = st.binary(max_size=64)


@given(WORD, st.integers(0, (1 << 64) - 1), st.integers(-(1 << 31), (1 << 31) - 1),
       BYTES, st.lists(BYTES, max_size=5))
def test_a_layout_decodes_what_it_encodes(w, wide, signed, s, rest):
    lay = Layout("a b:64 c:i | s *rest")
    words, strings = lay.encode((w, wide, signed, s, tuple(rest)))
    assert len(words) == lay.nwords == 4
    assert all(0 <= x <= 0xFFFFFFFF for x in words)
    assert lay.decode(words, strings) == (w, wide, signed, s, tuple(rest))


def test_an_optional_string_may_be_absent():
    lay = Layout("| data?")
    assert lay.encode((b"",)) == ((), ())
    assert lay.decode((), ()).data == b""
    assert lay.decode((), (b"x",)).data == b"x"
    with pytest.raises(MalformedError):
        lay.decode((), (b"x", b"y"))


@pytest.mark.parametrize("words,strings", [((1,), ()), ((1, 2, 3, 4), (b"",)),
                                           ((1, 2, 3), ()), ((1, 2, 3), (b"", b""))])
def test_decoding_is_strict(words, strings):
    with pytest.raises(MalformedError):
        Layout("a b:64 | s").decode(words, strings)


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError):
        Layout("a:wide")
    with pytest.raises(ValueError):
        Layout("| a? b")

    class Op(enum.IntEnum):
        A = 1
        B = 2
    with pytest.raises(ValueError, match="undeclared"):
        Interface("t", Op, {Op.A: call()})


class Op(enum.IntEnum):
    GET = 0x7001
    PUT = 0x7002
    MINE = 0x7003
    BOSS = 0x7004


IFACE = Interface("toy", Op, pad_to=3, ops={
    Op.GET: call("key", "value | name", retry=True),
    Op.PUT: call("key value"),
    Op.MINE: call(who=Who.SELF),
    Op.BOSS: call(who=Who.CHIEF | Who.ROOT),
})


def test_short_requests_are_padded_and_the_padding_is_checked():
    m = IFACE.request(Op.GET, 7)
    assert m.words == (Op.GET, 7, 0)
    assert IFACE.parse(m)[2].key == 7
    with pytest.raises(MalformedError):
        IFACE.parse(Msg(words=(Op.GET, 7, 1)))


ME = ThreadId.make(20, 0, 1, site=1, chief=4, nest=1)


def tid(task, chief=4, lthread=0, site=1):
    return ThreadId.make(task, lthread, 1, site=site, chief=chief)


@pytest.mark.parametrize("who,sender,ok", [
    (Who.ANY, tid(99), True),
    (Who.SELF, tid(20, lthread=3), True),
    (Who.SELF, tid(21), False),
    (Who.SELF, tid(20, site=2), False),
    (Who.CHIEF, tid(4, chief=0), True),
    (Who.CHIEF, tid(5), False),
    (Who.CLAN, tid(70, chief=20), True),
    (Who.CLAN, tid(70, chief=4), False),
    (Who.ROOT, tid(4, chief=0), True),
    (Who.CHIEF | Who.ROOT, tid(9), False),
])
def test_who_may_call(who, sender, ok):
    assert who.admits(sender, ME, chief=4) is ok


class FakeRt:
    def myself(self): return ME
    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self): return ThreadId.make(4, 0, 1, site=1)


class Toy:
    def __init__(self):
        self.store = {}

    def get(self, req, msg):
        if req.key not in self.store:
            raise OSError(errno.ENOENT, "no such key")
        return self.store[req.key], b"n"

    def put(self, req, msg):
        self.store[req.key] = req.value
        return ()

    def mine(self, req, msg):
        return None

    def boss(self, req, msg):
        return Reply((), items=())


def dispatch(**kinds):
    return Dispatch(IFACE, Toy(), FakeRt(), **kinds)


def send(d, *words, sender=None, strings=()):
    return d(Msg(words=words, strings=strings, sender=sender or tid(99)))


def test_dispatch_answers_each_request_by_its_table():
    d = dispatch()
    assert send(d, Op.PUT, 1, 42).words == (0,)
    r = send(d, Op.GET, 1, 0)
    assert r.words == (0, 42) and r.strings == (b"n",)
    assert IFACE.decode_reply(Op.GET, r) == (42, b"n")


def test_dispatch_refuses_with_an_errno_and_nothing_changes():
    d = dispatch()
    assert send(d, Op.GET, 5, 0).words == (errno.ENOENT,)
    assert send(d).words == (errno.ENOSYS,)
    assert send(d, 0x1234, 1, 2).words == (errno.ENOSYS,)
    assert send(d, Op.PUT, 1).words == (errno.EINVAL,)            # short
    assert send(d, Op.PUT, 1, 2, 3).words == (errno.EINVAL,)      # long
    assert send(d, Op.PUT, 1, 2, strings=(b"x",)).words == (errno.EINVAL,)
    assert send(d, Op.MINE, 0, 0).words == (errno.EPERM,)
    assert send(d, Op.BOSS, 0, 0).words == (errno.EPERM,)
    assert d.table[Op.GET][0].__self__.store == {}


def test_an_operation_may_be_answered_later_or_by_the_right_sender():
    d = dispatch()
    assert send(d, Op.MINE, 0, 0, sender=tid(20, lthread=2)) is None
    assert send(d, Op.BOSS, 0, 0, sender=tid(4, chief=0)).words == (0,)


def test_an_error_carries_its_detail_words():
    class Detailed(Toy):
        def get(self, req, msg):
            e = OSError(errno.EINTR, "interrupted")
            e.detail = (2,)
            raise e
    d = Dispatch(IFACE, Detailed(), FakeRt())
    assert send(d, Op.GET, 1, 0).words == (errno.EINTR, 2)
    assert error(0).words == (errno.EIO,)


def test_a_server_missing_a_handler_is_refused_when_built():
    class Half:
        def get(self, req, msg): return ()
    with pytest.raises(TypeError, match="PUT"):
        Dispatch(IFACE, Half(), FakeRt())


def test_other_messages_go_to_their_kind():
    seen = []
    d = dispatch(irq=lambda m: seen.append("irq"), fault=lambda m: seen.append("fault"),
                 notice=lambda m: seen.append("notice"),
                 redirected=lambda m: Forward(tid(5), m))
    d(Msg(sender=ThreadId(5)))
    d(Msg(words=(0x1000, PAGE_FAULT_EIP), sender=tid(99)))
    d(Msg(words=(TASK_EXIT_NOTICE, 0), sender=tid(99)))
    from microkernel.abi import ResultFlag
    out = d(Msg(words=(1,), sender=tid(99), flags=ResultFlag.REDIRECTED))
    assert seen == ["irq", "fault", "notice"] and type(out) is Forward
    assert dispatch()(Msg(sender=ThreadId(5))) is None          # no irq handler: dropped


def test_every_service_is_declared_with_unique_codes():
    import importlib
    for name in ("names", "root", "pager", "block", "char", "net", "timer", "fs", "tty",
                 "unix"):
        mod = importlib.import_module(f"protocols.{name}")
        ifaces = [v for v in vars(mod).values() if isinstance(v, Interface)]
        assert ifaces, name
        for iface in ifaces:
            codes = [int(c) for c in iface.codes]
            assert len(codes) == len(set(codes)) == len(iface.ops), name


def test_a_forged_death_notice_is_no_notice():
    class LiveRt(FakeRt):
        def alive(self, tid): return True           # the "dead" sender still runs
    seen = []
    d = Dispatch(IFACE, Toy(), LiveRt(), notice=lambda m: seen.append(m))
    r = d(Msg(words=(TASK_EXIT_NOTICE, 0), sender=tid(99)))
    assert seen == [] and r.words == (errno.ENOSYS,)
