"""`on NODE CMD`: a process on another node whose fds 0-2 are the caller's.

The caller's Unix server (here "A") serves ON for the `on` program: on a worker lthread
it asks NODE's Unix server ("B"), by remote IPC, to SPAWN the program with stdio
`relay:A:SECRET`, then waits in B's SPAWN_WAIT; the wait status is ON's reply. B
gives that process `Relay` descriptions as fds 0, 1, 2: each read or write is a
RELAY_READ / RELAY_WRITE to A (on one of B's worker lthreads, as a tty call is), which
A serves on the `on` process's own fds 0, 1, 2, parked there like any read or write
(a pipe, a tty, a file). So bytes flow in order, end of file is the caller's, and a
write to a pipe nobody reads fails EPIPE and raises SIGPIPE in the remote writer.
SECRET (16 random bytes) is what admits B to the caller's fds.

When the `on` process ends before its remote process (^C at the terminal kills it,
SIGINT; or any other death), A sends B a KILL of the remote process's group with the
signal that ended it (SIGHUP for any other end); a signal it handles (the shell's ^C,
when `on` is its builtin) is sent on the same way, and its handler runs after ON.
When A's node goes, B's every-second watch finds its comm server no longer hears A,
and the processes holding A's relayed fds get SIGHUP, as after a terminal's hangup.
When NODE goes, B's SPAWN_WAIT fails (remote IPC says NOT_EXISTENT) and ON answers
EHOSTDOWN (EIO if the node is still heard: its Unix server alone died).
"""
from __future__ import annotations

import errno
import os
import signal

from protocols.client import ServiceError
from protocols.comm import CommClient
from protocols.unix import Op, Unix

from .exec import args_of
from .fd import Description
from .signals import IGNORED_BY_DEFAULT, post

__all__ = ["RemoteCalls", "Relay"]

REMOTE_PATIENCE = 2.0            # seconds to find NODE's unix server registered
WATCH_EVERY = 1.0                # seconds between checks that relayed callers live


class RemoteCalls:
    """The handlers of ON (the caller's side) and RELAY_READ / RELAY_WRITE (served for
    the remote process's server); mixed into the server."""

    def on(self, req, msg):
        """Run argv on node `node`: no reply until it has ended (its wait status).
        The call is not parked: a handled signal waits for it, a fatal one ends it."""
        proc = self.procs.caller(msg.sender)
        argv, envp = args_of(req.args, req.nargv)
        if not argv or len(envp) != req.nenv:
            raise OSError(errno.EINVAL, "argument count")
        env = dict(e.partition("=")[::2] for e in envp)
        node = req.node.decode(errors="replace")
        if not node or "@" in node:
            raise OSError(errno.ENOENT, "no such node")
        secret = os.urandom(16)
        unix = self._unix(node)
        stdio = f"relay:{self.net.me}:{secret.hex()}"
        run = {"unix": unix, "pid": None, "proc": proc, "calls": [], "signals": []}
        self.relays[secret] = run
        call = self.later(msg, proc)

        def remote():
            run["pid"] = _spawn(unix, argv, env, stdio)
            if proc.state != "running":            # ended while the spawn went on
                _kill_remote(run, signal.SIGHUP)
            _pass_on(run)                          # handled while the spawn went on
            try:
                return unix.wait(run["pid"])[0]
            except ServiceError as e:
                if e.errno == errno.EIO:       # its server went: EHOSTDOWN if its node did
                    CommClient(self.rt).resolve(node)
                raise

        def done(result):
            _forget(self.relays.pop(secret, run))
            if isinstance(result, BaseException):
                call.fail(getattr(result, "errno", None) or errno.EIO)
            else:
                call.reply(result)
        self.slow(remote, done)
        return None

    def relay_read(self, req, msg):
        desc, call = self._relayed(req.secret, req.fd, msg)
        data = desc.read(self, call, min(req.count, 64 << 10))
        return None if data is None else (data,)

    def relay_write(self, req, msg):
        desc, call = self._relayed(req.secret, req.fd, msg)
        n = desc.write(self, call, req.data)
        return None if n is None else (n,)

    def _relayed(self, secret: bytes, fd: int, msg):
        """The `on` process's fd `fd` (0-2) that `secret` admits to, and the call to
        answer (failed EIO if the `on` ends first); EBADF."""
        run = self.relays.get(bytes(secret))
        if run is None or fd not in (0, 1, 2):
            raise OSError(errno.EBADF, "no such relayed fd")
        desc = run["proc"].fds.get(fd)
        if not (desc.readable() if fd == 0 else desc.writable()):
            raise OSError(errno.EBADF, "not open that way")
        run["calls"] = [c for c in run["calls"] if not c.answered]
        call = self.later(msg)
        run["calls"].append(call)
        return desc, call

    def relay_fds(self, spec: str) -> list:
        """Fds 0, 1, 2 for SPAWN's stdio `relay:NODE:SECRET` (hex); EINVAL if not."""
        node, _, secret = spec.partition(":")
        try:
            raw = bytes.fromhex(secret)
        except ValueError:
            raw = b""
        if not node or len(raw) != 16:
            raise OSError(errno.EINVAL, "bad relay")
        unix = self._unix(node)
        self._watch()
        return [Relay(unix, node, raw, fd) for fd in (0, 1, 2)]

    def _unix(self, node: str) -> Unix:
        """NODE's Unix server. The stub is kept, and with it the server's id once
        looked up (a name cache, as QNX's qnet keeps node descriptors): an ON costs
        no lookup on NODE's name server but its first (see _spawn for a stale id)."""
        unix = self.unix_at.get(node)
        if unix is None:
            unix = self.unix_at[node] = Unix(self.rt, name=f"unix@{node}",
                                             patience=REMOTE_PATIENCE)
        return unix

    def _watch(self) -> None:
        """Check in a second whether the callers of relayed processes are still heard."""
        if self.relay_watch is None:
            self.relay_watch = self.timers.after(WATCH_EVERY, self._check_callers)

    def _check_callers(self) -> None:
        """Every process holding a Relay of a node the comm server no longer hears gets
        SIGHUP, as on a terminal that hung up (its `on` is gone with that node). The
        comm server is asked on a worker; the watch goes on while Relays are held."""
        self.relay_watch = None
        holders: dict[str, list] = {}
        for p in self.procs.by_pid.values():
            for node in {d.node for d, _ in p.fds.fds.values() if isinstance(d, Relay)}:
                holders.setdefault(node, []).append(p)
        if not holders:
            return

        def gone(result):
            for node in () if isinstance(result, BaseException) else result:
                for p in holders[node]:
                    if p.state == "running":
                        post(self, p, signal.SIGHUP)
            self._watch()
        nodes = list(holders)
        self.slow(lambda: [n for n in nodes if not _heard(self.rt, n)], gone)

    def on_signalled(self, proc, sig: int) -> None:
        """`proc` got a signal it handles: if it waits in ON, the remote process group
        gets it too (^C at the shell's terminal reaches `on n2 sleep 100`, as rsh's
        does); its handler runs once ON returns. Signals ignored by default stay here."""
        if sig in IGNORED_BY_DEFAULT:
            return
        for run in self.relays.values():
            if run["proc"] is proc:
                run["signals"].append(sig)          # sent once the spawn has a pid
                if run["pid"] is not None:
                    self.slow(lambda r=run: _pass_on(r), lambda result: None)

    def on_ended(self, proc, status: int) -> None:
        """Process `proc` ended: the remote process of its `on`, if any, is killed
        with the signal that ended it (SIGHUP: any other end)."""
        for run in self.relays.values():
            if run["proc"] is proc:
                _forget(run)
                if run["pid"] is not None:
                    sig = status & 0x7F or signal.SIGHUP
                    self.slow(lambda r=run, s=sig: _kill_remote(r, s), lambda result: None)


def _forget(run: dict) -> None:
    """The relayed calls still parked on the `on` process's fds fail EIO."""
    for call in run["calls"]:
        if not call.answered:
            call.drop()
            call.fail(errno.EIO)
    run["calls"].clear()


def _heard(rt, node: str) -> bool:
    """Whether the comm server hears node `node` (an error of its own: assume so)."""
    try:
        CommClient(rt).resolve(node)
    except ServiceError as e:
        return e.errno not in (errno.EHOSTDOWN, errno.ENOENT)
    return True


def _spawn(unix: Unix, argv: list, env: dict, stdio: str) -> int:
    """SPAWN on `unix`'s node; its pid. If the kept id failed (EIO: its server or node
    went, and came back with a new one), the name is looked up again, and SPAWN sent
    again if it names another server, which cannot have seen the first."""
    old = unix.tid
    try:
        return unix.spawn(argv[0], argv, env, stdio=stdio)
    except ServiceError as e:
        if old is None or e.errno != errno.EIO or unix.server() == old:
            raise
    return unix.spawn(argv[0], argv, env, stdio=stdio)


def _pass_on(run: dict) -> None:
    """Send the remote process's group the signals its `on` handled (each once: the
    worker that spawned it and on_signalled's both take from the list)."""
    while run["signals"]:
        try:
            sig = run["signals"].pop(0)
        except IndexError:
            return
        _kill_remote(run, sig)


def _kill_remote(run: dict, sig: int) -> None:
    """Signal the remote process's group (a KILL by a task that is no process)."""
    run["unix"].call(Op.KILL, -run["pid"], sig)


class Relay(Description):
    """An fd of a process that `on` started from another node: its reads and writes
    are done on the caller's fd by IPC to the caller's Unix server (module docstring).
    They block, so they run on a worker lthread (srv.slow), like a tty's."""

    def __init__(self, unix: Unix, node: str, secret: bytes, fd: int):
        super().__init__(os.O_RDONLY if fd == 0 else os.O_WRONLY)
        self.unix, self.node, self.secret, self.fd = unix, node, secret, fd

    def read(self, srv, call, count):
        srv.slow(lambda: self.unix.call(Op.RELAY_READ, self.fd, count, self.secret).data,
                 lambda result: _answer(srv, call, result))
        return None

    def write(self, srv, call, data):
        srv.slow(lambda: self.unix.call(Op.RELAY_WRITE, self.fd, self.secret, data).count,
                 lambda result: _answer(srv, call, result))
        return None


def _answer(srv, call, result) -> None:
    """Answer a relayed read or write with its result; EPIPE also raises SIGPIPE."""
    if not isinstance(result, BaseException):
        call.reply(result)
        return
    err = getattr(result, "errno", None) or errno.EIO
    if err == errno.EPIPE and call.proc is not None:
        post(srv, call.proc, signal.SIGPIPE)
    call.fail(err)


