"""Where a node lives on the host, and how the CLI starts, reaches and stops it.

A node is a folder `$MK_HOME/NAME` (default `~/.mk/local`): sockets, `kernel.pid`,
`logs/`, the disk image. Several nodes and test runs coexist by folder.
"""
from __future__ import annotations

import os
import signal
import sys
import time

import msgpack
import zmq

__all__ = ["Node", "NodeError", "NodeTimeout"]

MAX_SOCKET_PATH = 100          # AF_UNIX sun_path holds 108 bytes with the NUL
SHM_DIR = "/dev/shm"            # where the kernel's physical memory segment lives (hw/memory.py)
RUNTIME_FILES = ("ready", "failed", "kernel.pid", "console")      # a running node's, besides:
RUNTIME_SUFFIXES = (".sock", ".pty", ".cable")           # sockets, pty links, NIC cables
DISK_BYTES = 32 << 20          # the node's disk image, made on first `mk up`
# modules the task factory imports once for every task it forks (the Unix programs')
PRELOAD = ("personalities.unix.crt0,personalities.unix.libc,personalities.unix.program,"
           "personalities.unix.sh.main")


def _alive(pid: int) -> bool:
    """Is the process there (reaping it first if it is our exited child)?"""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _kill(pid: int, sig: int) -> None:
    """Signal the process, if it is still there (it may be dying on its own)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class NodeError(Exception):
    """Something the operator must be told about (no such node, already running...)."""


class NodeTimeout(NodeError):
    """The node is there but did not answer in time."""


class Node:
    def __init__(self, name: str = "local", home: str | None = None):
        if not name or "/" in name or name.startswith(".") or name == "switch":
            raise NodeError(f"bad node name {name!r}" + (" (the cluster's switch lives in "
                            "$MK_HOME/switch)" if name == "switch" else ""))
        self.name = name
        self.home = home or os.environ.get("MK_HOME") or os.path.expanduser("~/.mk")
        self.dir = os.path.join(self.home, name)

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def pid(self) -> int | None:
        """The kernel's pid if it runs, else None."""
        try:
            with open(self.path("kernel.pid")) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return self.pid() is not None and os.path.exists(self.path("kernel.sock"))

    def clean(self) -> list[str]:
        """Remove what a kernel that is gone left in the node folder: `ready`, its pid
        file, sockets and pty links, and its shared-memory segment (a kill -9 leaves
        them); what was removed. Nothing while a kernel runs. The disk image and the
        logs stay."""
        if self.pid() is not None or not os.path.isdir(self.dir):
            return []
        removed = []
        try:
            with open(self.path("kernel.pid")) as f:
                old = int(f.read().strip())
        except (OSError, ValueError):
            old = None
        if old is not None:
            for seg in os.listdir(SHM_DIR):
                if seg.startswith(f"mk-{old}-"):
                    os.unlink(os.path.join(SHM_DIR, seg))
                    removed.append(f"{SHM_DIR}/{seg}")
        for name in sorted(os.listdir(self.dir)):
            if name in RUNTIME_FILES or name.endswith(RUNTIME_SUFFIXES):
                os.unlink(self.path(name))
                removed.append(name)
        return removed

    def up(self, mem_mib: int = 16, site: int = 1, timeout: float = 30.0,
           progress=lambda text: None, link: str | None = None, pcap: bool = False,
           cpu: int | None = None, disk: str | None = None) -> int:
        """Start the kernel in the background (on host CPU `cpu`, -1 any, None the
        site's default: boot.kernel_cpu) with disk image `disk` (default: the node's
        own, made on first boot); return when the root task is ready. A boot that
        fails (a server root keeps gave up: a disk the fs server cannot mount) stops
        the node at once and is a NodeError with the reason."""
        if self.running():
            raise NodeError(f"node {self.name!r} already runs (kernel pid {self.pid()})")
        stale = self.clean()                 # never trust a dead kernel's `ready`
        if stale:
            progress(f"removed what a kernel that died left: {', '.join(stale)}")
        if len(self.path("control.sock")) > MAX_SOCKET_PATH:
            raise NodeError(f"node folder {self.dir} is too long for a Unix socket path; "
                            "set MK_HOME to a shorter folder")
        os.makedirs(self.path("logs"), mode=0o700, exist_ok=True)
        if disk is not None and not os.path.isfile(disk):
            raise NodeError(f"no disk image {disk}")
        disk = disk or self.path("disk.img")
        if not os.path.exists(disk):
            progress("making the root file system (ext2)")
            from personalities.unix.image import build
            build(disk, DISK_BYTES)
        progress(f"booting node {self.name}: kernel")
        pid = self._spawn_kernel(mem_mib, site, disk, self.cable(link), pcap, cpu)
        deadline = time.monotonic() + timeout
        shown = set()
        while time.monotonic() < deadline:
            if not _alive(pid):
                raise NodeError(f"the kernel exited during boot; "
                                f"see {self.path('logs', 'kernel.log')}")
            for step, name in (("kernel.sock", "sigma0, root"),
                               ("root.sock", "pager, names, drivers")):
                if step not in shown and os.path.exists(self.path(step)):
                    shown.add(step)
                    progress(name)
            if os.path.exists(self.path("ready")):
                return pid
            if os.path.exists(self.path("failed")):
                with open(self.path("failed")) as f:
                    why = f.read().strip() or "a server gave up"
                self.down()
                raise NodeError(f"node {self.name!r} failed to boot: {why}")
            time.sleep(0.02)
        _kill(pid, signal.SIGKILL)
        _alive(pid)
        raise NodeError(f"node {self.name!r} did not become ready in {timeout:.0f}s")

    def cable(self, link: str | None) -> str | None:
        """net0's cable spec: None (bind our own end), another node's name, or an endpoint."""
        if link is None:
            return None
        if "://" in link:
            return f"connect:{link}"
        other = Node(link, self.home)
        if not other.running():
            raise NodeError(f"cannot link to node {link!r}: it is not running")
        return f"connect:ipc://{other.path('net0.cable')}"

    def _spawn_kernel(self, mem_mib: int, site: int, disk: str, link: str | None,
                      pcap: bool, cpu: int | None = None) -> int:
        """Start the kernel as a session leader, its output in logs/kernel.log."""
        fd = os.open(self.path("logs", "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return os.posix_spawn(
                sys.executable,
                [sys.executable, "-P", "-m", "microkernel.kernel", self.dir, "--mem", str(mem_mib),
                 "--site", str(site), "--disk", disk]
                + (["--link", link] if link else []) + (["--pcap"] if pcap else [])
                + (["--cpu", str(cpu)] if cpu is not None else []),
                {**os.environ, "MK_PRELOAD": PRELOAD},
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
                setsid=True)
        finally:
            os.close(fd)

    def down(self, timeout: float = 10.0) -> tuple[bool, list[str]]:
        """Stop the node, then remove what a kernel that did not stop cleanly left
        (`clean`): (whether a kernel was running, what was removed)."""
        pid = self.pid()
        if pid is None:
            return False, self.clean()
        try:
            self.root({"op": "shutdown"}, timeout=15.0)    # orderly: fs writes back
        except NodeError:
            pass
        try:
            self.control({"op": "shutdown"}, timeout=2.0)
        except NodeError:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            _kill(pid, signal.SIGKILL)
            _alive(pid)
        return True, self.clean()

    def _request(self, sock_name: str, req: dict, timeout: float | None,
                 kind: int = zmq.REQ) -> dict:
        if not self.running():
            raise NodeError(f"node {self.name!r} is not running (mk up --node {self.name})")
        ctx = zmq.Context.instance()
        s = ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        try:
            s.connect(f"ipc://{self.path(sock_name)}")
            s.send(msgpack.packb(req))
            if not s.poll(None if timeout is None else int(timeout * 1000)):
                raise NodeTimeout(f"node {self.name!r} did not answer")
            reply = msgpack.unpackb(s.recv(), raw=False)
        finally:
            s.close()
        if isinstance(reply, dict) and "error" in reply:
            raise NodeError(reply["error"])
        return reply

    def control(self, req: dict, timeout: float | None = 5.0) -> dict:
        """A request to the kernel's control port."""
        return self._request("control.sock", req, timeout)

    def root(self, req: dict, timeout: float | None = 10.0) -> dict:
        """A request to the root task's operator socket."""
        return self._request("root.sock", req, timeout, zmq.DEALER)
