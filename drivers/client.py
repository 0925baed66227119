"""Compatibility only, TO DELETE after the merge: the old client names that code
outside drivers/ still imports (servers/fs.py, tty.py, console.py, fsproto.py,
ttyproto.py; personalities/unix), now over protocols/. New code uses
protocols.block.BlockDevice, protocols.char.CharDevice and protocols.names.Names, whose
failures are ServiceError (an OSError with `.errno`)."""
from __future__ import annotations

from microkernel.abi import ThreadId
from protocols import block, char
from protocols.client import RETRY_FOR, ServiceError
from protocols.names import Names
from protocols.wellknown import names_id as _names_id

__all__ = ["names_id", "lookup", "DeviceError", "CharDevice", "BlockDevice"]

DeviceError = ServiceError


def names_id(rt) -> ThreadId:
    """The name server's id on this node."""
    return _names_id(rt.site)


def lookup(rt, names: int, name: str, timeout: float = 5.0) -> ThreadId | None:
    """The thread registered as `name`, or None."""
    return Names(rt, tid=names, timeout=timeout).lookup(name)


class _Named:
    """The old constructor (rt, names_id or None, name) and `driver(deadline)`."""

    def __init__(self, rt, names: int | None, name: str, retry_for: float = RETRY_FOR):
        super().__init__(rt, name, names=names_id(rt) if names is None else int(names),
                         retry_for=retry_for)

    def driver(self, deadline: float) -> ThreadId:
        return self.server(deadline)


class CharDevice(_Named, char.CharDevice):
    pass


class BlockDevice(_Named, block.BlockDevice):
    pass
