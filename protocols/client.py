"""One way to call a server: `Service`, a server found by name and called by its protocol.

    fs = Service(rt, FS_INTERFACE, name="fs")       # or tid=... for a known thread
    fs2 = Service(rt, FS_INTERFACE, name="fs@n2")   # node n2's: its name server is asked
    reply = fs.call(Op.STAT, ino)                    # the reply NamedTuple

The server is looked up with the name server (and again after it was restarted), with
patience: while nobody has registered the name yet (booting, restarting), it asks again
with growing pauses until a deadline, then fails with ENODEV. A request that meets a
dead server (NOT_EXISTENT, CANCELED: root restarts servers and drivers, and the new one
has a new thread id, or, for a server given by id, the same one: the name server's) is
sent again to the new server when its operation is declared `retry` (idempotent: a read,
a write of the same bytes to the same place), until the retry deadline; otherwise it fails with EIO and only the next request goes to the new
server, for only the caller can know what to do again (Minix 3's reincarnation, seen
from the client). Every failure is a `ServiceError`, an OSError: an error reply's errno
(its further words in `.detail`), EIO for a server gone, ETIMEDOUT for an IPC timeout.
"""
from __future__ import annotations

import errno
import os
import time

from microkernel.abi import NEVER, IpcCode, IpcError, Msg, ThreadId

from .interface import Interface
from .wellknown import names_id

__all__ = ["Service", "ServiceError", "PATIENCE", "RETRY_FOR"]

PATIENCE = 10.0                  # seconds to wait for a name to be registered
RETRY_FOR = 10.0                 # seconds a retry-able request is resent after a restart
GONE = (IpcCode.NOT_EXISTENT, IpcCode.CANCELED, IpcCode.ABORTED)
_ERRNO = {IpcCode.TIMEOUT: errno.ETIMEDOUT, IpcCode.MSG_CUT: errno.EMSGSIZE}


class ServiceError(OSError):
    """A call that failed: `.errno`, and `.detail`, the error reply's further words."""

    def __init__(self, code: int, text: str, detail: tuple = ()):
        super().__init__(code, text)
        self.detail = tuple(detail)


class Service:
    """A server reached by its protocol `iface`; see the module docstring. Subclasses
    (each protocol's client stubs) set `iface` and `name` as class attributes."""

    iface: Interface
    name: str | None = None
    timeout = NEVER              # each call's IPC timeout unless the call says otherwise

    def __init__(self, rt, name: str | None = None, tid: int | None = None, *,
                 iface: Interface | None = None, names: int | None = None,
                 patience: float = PATIENCE, retry_for: float = RETRY_FOR, timeout=...):
        self.rt = rt
        if iface is not None:
            self.iface = iface
        if name is not None:
            self.name = name
        self.tid = None if tid is None else ThreadId(int(tid))
        self.fixed = tid is not None             # a given id is never looked up
        self._names = names
        self.patience, self.retry_for = patience, retry_for
        if timeout is not ...:
            self.timeout = timeout
        self.retries = 0                         # requests resent after a restart

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name or self.tid!r})"

    def server(self, deadline: float | None = None) -> ThreadId:
        """The server's id, looked up (again) while its name is not registered."""
        if self.tid is None:
            if self.fixed or self.name is None:
                raise ServiceError(errno.ENODEV, f"{self.iface.name}: no server")
            from .names import Names            # names is a Service too
            name, _, node = self.name.partition("@")
            names = Names(self.rt, tid=self._names if self._names is not None
                          else names_id(self._site(node)))
            deadline = deadline or time.monotonic() + self.patience
            pause = 0.02
            while (tid := names.lookup(name)) is None:
                if time.monotonic() + pause > deadline:
                    raise ServiceError(errno.ENODEV, f"no server named {self.name!r}")
                self.rt.sleep(pause)
                pause = min(pause * 2, 0.5)
            self.tid = tid
        return self.tid

    def _site(self, node: str) -> int:
        """The site of node `node` ("": mine), as the comm server knows it (ENOENT: no
        such node; EHOSTDOWN: it has gone)."""
        if not node:
            return self.rt.site
        from .comm import CommClient            # comm is a Service too
        return CommClient(self.rt).resolve(node)

    def forget(self) -> None:
        """Drop the server's id: the next call looks the name up again."""
        if not self.fixed:
            self.tid = None

    def call(self, code: int, *values, timeout=..., window=None, limits=None):
        """Operation `code` with `values` (request layout order); its reply NamedTuple."""
        return self.call_msg(code, *values, timeout=timeout, window=window, limits=limits)[0]

    def call_msg(self, code: int, *values, timeout=..., window=None, limits=None):
        """As `call`, also returning the reply Msg (its items and flags)."""
        iface = self.iface
        msg = iface.request(code, *values)
        if timeout is ...:
            timeout = self.timeout
        tid = self.tid
        try:
            reply = self._ipc(tid if tid is not None else self.server(), msg, timeout,
                              window, limits)
        except IpcError as e:
            reply = self._again(code, msg, e, timeout, window, limits)
        w = reply.words
        if not w or w[0]:
            err = w[0] if w else errno.EIO
            raise ServiceError(err, f"{self._what(code)}: {os.strerror(err)}", w[1:])
        try:
            return iface.decode_reply(code, reply), reply
        except ValueError as e:
            raise ServiceError(errno.EIO, f"{self._what(code)}: bad reply: {e}") from None

    def _again(self, code: int, msg: Msg, e: IpcError, timeout, window, limits) -> Msg:
        """The call met an IPC error `e`: resend it to the (restarted) server while its
        operation may be retried and the deadline allows (it counts from this first
        failure: a call may have blocked long before its server died); the reply."""
        retry, deadline, pause = self.iface.ops[code].retry, None, 0.02
        while True:
            if e.code not in GONE:
                raise ServiceError(_ERRNO.get(e.code, errno.EIO),
                                   f"{self._what(code)}: {e}") from None
            if not self.fixed:
                self.tid = None
            deadline = deadline or time.monotonic() + self.retry_for
            if not retry or time.monotonic() + pause > deadline:
                raise ServiceError(errno.EIO, f"{self._what(code)}: server gone "
                                   f"({e.code.name})") from None
            self.retries += 1
            self.rt.sleep(pause)
            pause = min(pause * 2, 0.5)
            try:
                return self._ipc(self.server(deadline), msg, timeout, window, limits)
            except IpcError as again:
                e = again

    def _ipc(self, tid: ThreadId, msg: Msg, timeout, window, limits) -> Msg:
        """The one IPC of a call (a subclass may wrap it: libc holds signals back)."""
        return self.rt.call(tid, msg, timeout=timeout, window=window, limits=limits)

    def _what(self, code: int) -> str:
        return f"{self.name or self.iface.name} {self.iface.codes(code).name}"
