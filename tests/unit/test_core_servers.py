"""The core servers' handlers without a kernel: names, the pager's requests, root's
task numbers and its operator's port, each through its protocol's table."""
import errno

import pytest

from microkernel.abi import Msg, ThreadId
from microkernel.abi.ops import PAGE_FAULT_EIP
from protocols import Dispatch
from protocols.names import NAMES, Op as NamesOp
from protocols.pager import PAGER, Op as PagerOp, fault_of
from protocols.root import ROOT, Op as RootOp, OperatorOp
from servers.names import NameServer
from servers.pager import Pager, Requests
from servers.numbers import QUOTA
from servers.root import Chief, Operator


def tid(task, chief=4, lthread=0):
    return ThreadId.make(task, lthread, 1, site=1, chief=chief, nest=1)


class FakeRt:
    """What the handlers touch of a runtime: ids, task_new, and memory by address."""

    def __init__(self, task):
        self.me, self.made, self.memory, self.unmapped = tid(task), [], {}, []
        self.rundir = "/run/node"

    def myself(self): return self.me
    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self): return tid(4, chief=0)
    def task_new(self, no, entry, pager, **kw): self.made.append((no, kw)); return tid(no)
    def fpage_unmap(self, fp, flush=True): self.unmapped.append((fp.base, flush))

    @property
    def mem(self): return self

    def write(self, addr, data): self.memory[addr] = bytes(data)
    def read(self, addr, n): return self.memory[addr][:n]


def ask(d, iface, code, *values, sender):
    m = iface.request(code, *values)
    return d(Msg(words=m.words, strings=m.strings, sender=sender))


def test_names_errno_convention_and_the_holders_rule():
    alive = {int(tid(40))}
    d = Dispatch(NAMES, NameServer(lambda t: t in alive), FakeRt(6))
    assert ask(d, NAMES, NamesOp.REGISTER, b"ata0", sender=tid(40)).words == (0,)
    r = ask(d, NAMES, NamesOp.LOOKUP, b"ata0", sender=tid(70))
    assert NAMES.decode_reply(NamesOp.LOOKUP, r).id == int(tid(40))
    assert ask(d, NAMES, NamesOp.LOOKUP, b"nope", sender=tid(70)).words == (errno.ENOENT,)
    assert ask(d, NAMES, NamesOp.LOOKUP, b"", sender=tid(70)).words == (errno.EINVAL,)
    assert ask(d, NAMES, NamesOp.LOOKUP, b"\xff", sender=tid(70)).words == (errno.EINVAL,)
    assert ask(d, NAMES, NamesOp.REMOVE, b"ata0", sender=tid(70)).words == (errno.EPERM,)
    r = ask(d, NAMES, NamesOp.LIST, sender=tid(70))
    assert r.strings == (f"ata0\0{int(tid(40))}".encode(),)
    assert ask(d, NAMES, NamesOp.REMOVE, b"ata0", sender=tid(4, chief=0)).words == (0,)
    assert ask(d, NAMES, NamesOp.REMOVE, b"ata0", sender=tid(40)).words == (errno.ENOENT,)
    ask(d, NAMES, NamesOp.REGISTER, b"fs", sender=tid(16))          # 16 is not alive
    assert ask(d, NAMES, NamesOp.LOOKUP, b"fs", sender=tid(70)).words == (errno.ENOENT,)
    assert d(Msg(words=(0x4E7F,), sender=tid(70))).words == (errno.ENOSYS,)


def test_the_pager_keeps_incarnations_apart_copies_in_the_clan_and_forgets(monkeypatch):
    rt = FakeRt(5)
    grabbed = []
    pager = Pager(rt)
    monkeypatch.setattr(pager.root, "frames", lambda base, sizes: grabbed.append(base) or 0x2000)
    requests = Requests(pager)
    d = Dispatch(PAGER, requests, rt, fault=requests.page_fault)
    parent, child = tid(64, chief=4), tid(1024, chief=64)
    fault = Msg(words=(0x1234_5006, PAGE_FAULT_EIP), sender=parent)
    assert fault_of(fault) == (64, 0x1234_5000, True)
    item = d(fault).items[0]
    assert item.snd_base == 0x1234_5000 and item.fpage.writable
    assert ask(d, PAGER, PagerOp.COPY, int(tid(65)), sender=parent).words == (errno.EPERM,)
    assert ask(d, PAGER, PagerOp.COPY, int(child), sender=parent).words == (0,)
    assert pager.pages[(child, 0x1234_5000)] == item.fpage.base
    next_64 = ThreadId.make(64, 0, 2, site=1, chief=4, nest=1)      # a new incarnation
    other = d(Msg(words=(0x1234_5004, PAGE_FAULT_EIP), sender=next_64)).items[0]
    assert other.fpage.base != item.fpage.base                       # not its pages
    assert ask(d, PAGER, PagerOp.FORGET, int(parent), sender=tid(70)).words == (errno.EPERM,)
    for t in (parent, child, next_64):
        assert ask(d, PAGER, PagerOp.FORGET, int(t), sender=tid(4, chief=0)).words == (0,)
    assert not pager.pages and len(pager.free) == 2
    assert grabbed == [0x40000000]


def test_a_pager_with_no_memory_left_maps_nothing_and_goes_on(monkeypatch):
    rt = FakeRt(5)
    pager = Pager(rt)
    monkeypatch.setattr(pager.root, "frames", lambda base, sizes: 0)
    requests = Requests(pager)
    d = Dispatch(PAGER, requests, rt, fault=requests.page_fault)
    r = d(Msg(words=(0x1000_0000, PAGE_FAULT_EIP), sender=tid(64)))
    assert r.items == () and r.words == ()


def test_root_gives_zeroed_blocks_back_out_when_their_task_ends(monkeypatch):
    from servers import frames as F
    rt = FakeRt(4)
    phys = iter(range(0x100000, 0x10000000, 0x100000))
    monkeypatch.setattr(F, "grab", lambda rt_, s, base: next(phys) if s == 20 else None)
    pool = F.Frames(rt)
    a, b = tid(16), tid(17)
    first = pool.give(a, 20)
    assert first == (F.POOL, 0x100000)
    rt.memory[F.POOL] = b"secret"
    assert pool.give(b, 12) is None                   # sigma0 has no single pages left
    assert pool.reclaim(a) == 1 << 20
    page = pool.give(b, 12)                           # cut out of the freed block, zeroed
    assert page == (F.POOL, 0x100000) and rt.memory[F.POOL] == bytes(1 << 12)
    assert pool.give(b, 12) == (F.POOL + 0x1000, 0x101000)


def test_root_hands_out_task_numbers_to_its_clan_until_none_is_left():
    rt = FakeRt(4)
    chief = Chief(rt, mgr=None, events=None)
    d = Dispatch(ROOT, chief, rt)
    r = ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(18, chief=4))
    assert ROOT.decode_reply(RootOp.ALLOC_TASK, r).task == 1024
    assert rt.made == [(1024, {"new_chief": 18})]
    assert ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(1030, chief=18)).words == \
        (errno.EPERM,)
    for _ in range(QUOTA - 1):                          # one task holds at most its quota
        ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(18, chief=4))
    assert ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(18, chief=4)).words == (errno.EAGAIN,)
    assert chief.numbers.reclaim(int(tid(18, chief=4))) == QUOTA      # it ended: back
    r = ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(19, chief=4))
    assert ROOT.decode_reply(RootOp.ALLOC_TASK, r).task == 1024       # lowest first
    chief.numbers.free = []
    assert ask(d, ROOT, RootOp.ALLOC_TASK, sender=tid(20, chief=4)).words == (errno.EAGAIN,)


@pytest.mark.parametrize("req,why", [
    ([1, 2], "a request is a map"),
    ({"op": "reboot"}, "unknown request"),
    ({"op": "wait"}, "missing task"),
    ({"op": "kill", "task": "7"}, "wrong type"),
    ({"op": "drivers", "all": True}, "unknown field"),
])
def test_the_operators_malformed_requests_get_one_line(req, why):
    reply = Operator(FakeRt(4), tid(5), mgr=None).request(b"id", req)
    assert set(reply) == {"error"} and why in reply["error"]


def test_every_operator_op_has_its_handler():
    ops = Operator(FakeRt(4), tid(5), mgr=None)
    assert set(ops.table) == set(OperatorOp)
    assert ops.request(b"id", {"op": "wait", "task": 99}) == {"error": "no task 99"}
    started = ops.request(b"id", {"op": "run", "entry": "x:main", "args": ["a"]})
    assert started["task"] == 64 and ops.request(b"w", {"op": "wait", "task": 64}) is None


def test_operator_tasks_are_numbered_round_like_pids():
    """A number just ended is not given again at once: whoever waited on it still reads
    its status and log, not a newcomer's (test_terminal's fact task lost its log so)."""
    ops = Operator(FakeRt(4), tid(5), mgr=None)
    run = lambda: ops.request(b"id", {"op": "run", "entry": "x:main"})["task"]   # noqa: E731
    assert run() == 64
    ops.running.pop(64)
    ops.exits[64] = 0                                   # 64 ended
    assert run() == 65
    assert ops.request(b"w", {"op": "wait", "task": 64}) == {"task": 64, "status": 0}
    ops.running = {n: "x:main" for n in range(64, 1024) if n != 70}
    ops.last = 1023
    assert run() == 70                                  # the turn wraps to the only free one
    assert "are running" in ops.request(b"id", {"op": "run", "entry": "x:main"})["error"]
    ops.running.pop(64)
    asked = lambda no: ops.request(b"id", {"op": "run", "entry": "x:main", "task": no})  # noqa: E731
    assert asked(64)["task"] == 64                      # a number asked for, if free
    assert "not a free number" in asked(64)["error"]
    assert "not a free number" in asked(1024)["error"]
