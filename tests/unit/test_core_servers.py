"""The core servers' handlers without a kernel: names through its protocol's table."""
import errno

import pytest

from microkernel.abi import Msg, ThreadId
from protocols import Dispatch
from protocols.names import NAMES, Op as NamesOp
from servers.names import NameServer


def tid(task, chief=4, lthread=0):
    return ThreadId.make(task, lthread, 1, site=1, chief=chief, nest=1)


class FakeRt:
    """What the handlers touch of a runtime: ids, task_new, and memory by address."""

    def __init__(self, task):
        self.me, self.made, self.memory, self.unmapped = tid(task), [], {}, []
        self.rundir = "/run/node"

    def myself(self): return self.me
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
