"""The operator's side of the switch: start it, ask it, stop it; join one from afar.

`SwitchClient(home)` drives the switch of `$MK_HOME` (`home/switch/`) over its control
socket; `join` asks a switch on another host, over CurveZMQ, for a port for this node.
Both raise ClusterError with one line for the operator.
"""
from __future__ import annotations

import os
import signal
import sys
import time

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

from . import ClusterError
from .keys import read_bundle

__all__ = ["SwitchClient", "join", "leave"]

_AUTH = {zmq.EVENT_HANDSHAKE_FAILED_AUTH: "refused",
         zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "failed",
         zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "failed"}


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False                    # our child, and it exited
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class SwitchClient:
    """The switch of one $MK_HOME, as its operator sees it."""

    def __init__(self, home: str):
        self.home = home
        self.folder = os.path.join(home, "switch")

    def path(self, *parts: str) -> str:
        return os.path.join(self.folder, *parts)

    def pid(self) -> int | None:
        """The switch's pid if it runs, else None."""
        try:
            with open(self.path("switch.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None and os.path.exists(self.path("control.sock"))

    def start(self, pcap: bool = False, listen: str | None = None, timeout: float = 10.0,
              module: str = "cluster.switch") -> int:
        """Start the switch (`python -m module`) in the background; its pid once it
        answers."""
        return self.wait(self.spawn(pcap, listen, module), timeout)

    def spawn(self, pcap: bool = False, listen: str | None = None,
              module: str = "cluster.switch") -> int:
        """Start the switch process and return at once (`wait` for it); its pid."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        for stale in ("switch.pid", "control.sock"):        # a switch killed with -9
            if os.path.exists(self.path(stale)) and self.pid() is None:
                os.unlink(self.path(stale))
        fd = os.open(self.path("switch.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            pid = os.posix_spawn(
                sys.executable, [sys.executable, "-P", "-m", module, self.folder]
                + (["--pcap"] if pcap else []) + (["--listen", listen] if listen else []),
                dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
                setsid=True)
        finally:
            os.close(fd)
        return pid

    def wait(self, pid: int, timeout: float = 10.0) -> int:
        """Wait until the switch `pid` answers (ClusterError if it dies or does not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise ClusterError(f"the switch did not start: {self.last_log_line()}")
            if self.running():
                try:
                    self.request("status", timeout=1.0)
                    return pid
                except ClusterError:
                    pass
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        _alive(pid)
        raise ClusterError(f"the switch did not answer in {timeout:.0f}s "
                           f"(see {self.path('switch.log')})")

    def last_log_line(self) -> str:
        try:
            with open(self.path("switch.log"), errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            return "no log"
        return lines[-1].split(" ", 4)[-1] if lines else "no log"

    def request(self, op: str, timeout: float = 5.0, **fields) -> dict:
        """One request to the control socket; its reply (ClusterError for an error)."""
        if not self.running():
            raise ClusterError("the switch is not running (it starts with "
                               "`mk up --nodes N` or `mk up -f FILE`)")
        s = zmq.Context.instance().socket(zmq.DEALER)
        s.linger = 0
        try:
            s.connect(f"ipc://{self.path('control.sock')}")
            s.send(msgpack.packb({"op": op, **fields}))
            if not s.poll(int(timeout * 1000)):
                raise ClusterError("the switch did not answer")
            reply = msgpack.unpackb(s.recv(), raw=False)
        finally:
            s.close()
        if "error" in reply:
            raise ClusterError(reply["error"])
        return reply

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the switch; whether one was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            self.request("stop", timeout=2.0)
        except ClusterError:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            _alive(pid)
        return True


def _remote(endpoint: str, bundle: str, req: dict, timeout: float) -> dict:
    """One request to a switch's TCP listener as the bundle's node, over CURVE."""
    if not endpoint.startswith("tcp://") or ":" not in endpoint[6:]:
        raise ClusterError(f"a switch to join is tcp://HOST:PORT, not {endpoint!r}")
    keys = read_bundle(bundle)
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    s.curve_serverkey = keys["switch_public"].encode()
    s.curve_publickey, s.curve_secretkey = keys["public"].encode(), keys["secret"].encode()
    monitor = s.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                   | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    try:
        s.connect(endpoint)
        s.send(msgpack.packb(req))
        poller = zmq.Poller()
        poller.register(s, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready = dict(poller.poll(left * 1000))
            if monitor in ready:
                ev = recv_monitor_message(monitor)
                if _AUTH.get(ev["event"]) == "refused":
                    raise ClusterError(f"the switch at {endpoint} refused node "
                                       f"{keys['node']}'s key: it is not on its allow-list")
                raise ClusterError(f"the CurveZMQ handshake with {endpoint} failed: "
                                   f"are these keys that switch's?")
            if s in ready:
                reply = msgpack.unpackb(s.recv(), raw=False)
                if "error" in reply:
                    raise ClusterError(f"the switch at {endpoint}: {reply['error']}")
                return reply
        raise ClusterError(f"no switch answered at {endpoint} in {timeout:g}s")
    finally:
        s.disable_monitor()
        monitor.close(linger=0)
        s.close(linger=0)
        ctx.term()


def join(endpoint: str, bundle: str, name: str, site: int, timeout: float = 5.0) -> str:
    """Ask the switch at `endpoint` for node `name`'s port; its tcp endpoint."""
    port = _remote(endpoint, bundle, {"op": "join", "name": name, "site": site},
                   timeout)["port"]
    return f"{endpoint.rsplit(':', 1)[0]}:{port}"


def leave(endpoint: str, bundle: str, name: str, timeout: float = 3.0) -> None:
    """Tell the switch at `endpoint` that node `name` left (its port goes)."""
    _remote(endpoint, bundle, {"op": "leave", "name": name}, timeout)
