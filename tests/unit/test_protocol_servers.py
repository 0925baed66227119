"""Every operation of every protocol is handled by its server, exactly once: the
dispatch table of each server builds from its interface (a missing handler is refused
when the table is built), and no handler serves two operations."""
import pytest

from drivers.ata import Ata
from drivers.nic import NetService
from drivers.timer import TimerServer
from drivers.uart import Uart
from microkernel.abi import ThreadId
from personalities.unix.server import Server as UnixServer
from protocols.block import BLOCK
from protocols.char import CHAR
from protocols.fs import FS
from protocols.names import NAMES
from protocols.net import NET
from protocols.pager import PAGER
from protocols.root import HOLDER, ROOT
from protocols.server import Dispatch
from protocols.timer import TIMER
from protocols.tty import TTY
from protocols.unix import UNIX
from servers.devmgr import Holder
from servers.fs import FsServer
from servers.names import NameServer
from servers.pager import Requests
from servers.root import Chief
from servers.tty import TtyServer

SERVED = [(NAMES, NameServer), (ROOT, Chief), (HOLDER, Holder), (PAGER, Requests),
          (BLOCK, Ata), (CHAR, Uart), (NET, NetService), (TIMER, TimerServer),
          (FS, FsServer), (TTY, TtyServer), (UNIX, UnixServer)]


class FakeRt:
    def myself(self): return ThreadId.make(9, 0, 1, site=1, chief=4, nest=1)
    def alive(self, tid): return False          # a death notice's sender is dead
    def chief(self): return ThreadId.make(4, 0, 1, site=1)


@pytest.mark.parametrize("iface,cls", SERVED, ids=[i.name for i, _ in SERVED])
def test_each_operation_has_exactly_one_handler(iface, cls):
    table = Dispatch(iface, object.__new__(cls), FakeRt()).table
    assert sorted(table) == sorted(iface.ops)
    handlers = [entry[0].__func__ for entry in table.values()]
    assert len(set(handlers)) == len(handlers), f"{iface.name}: a handler serves two ops"


def test_every_protocol_with_operations_has_its_server():
    import importlib
    from protocols.interface import Interface
    served = {iface.name for iface, _ in SERVED}
    for name in ("names", "root", "pager", "block", "char", "net", "timer", "fs", "tty",
                 "unix"):
        mod = importlib.import_module(f"protocols.{name}")
        for iface in (v for v in vars(mod).values() if isinstance(v, Interface)):
            assert iface.name in served, iface.name
