"""The kernel's side of the task factory (microkernel/user/zygote.py).

At boot the kernel starts one factory process; every task process is then a fork of it
(a few milliseconds instead of a fresh interpreter's few hundred). Requests and answers
travel over a socket pair as length-prefixed msgpack. The factory reports each child's
exit status; the kernel treats that report as the task's death, and keeps a pidfd per
task only to kill it safely.
"""
from __future__ import annotations

import socket
import subprocess
import sys

import msgpack

from microkernel.abi.codec import send_framed

__all__ = ["Factory"]


class Factory:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "microkernel.user.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self.exits: list[tuple[int, int]] = []
        self._buf = bytearray()

    def spawn(self, record: dict, log_path: str) -> int:
        """Fork a task process running `record`; its pid. Exit reports that arrive
        meanwhile are kept for `read_exits`."""
        send_framed(self.sock, {"record": record, "log": log_path})
        while True:
            msg = self._next(block=True)
            if msg[0] == "pid":
                while (more := self._parse()) is not None:     # read along with the pid
                    self.exits.append((more[1], more[2]))
                return msg[1]
            self.exits.append((msg[1], msg[2]))

    def read_exits(self) -> list[tuple[int, int]]:
        """Every exit report received so far; never blocks (the loop calls this when
        the socket polls readable, which it may be with nothing new: see spawn)."""
        while (msg := self._next(block=False)) is not None:
            if msg[0] == "exit":
                self.exits.append((msg[1], msg[2]))
        out, self.exits = self.exits, []
        return out

    def _parse(self):
        """A whole message already in the buffer, or None."""
        if len(self._buf) >= 4:
            n = int.from_bytes(self._buf[:4], "little")
            if len(self._buf) >= 4 + n:
                body = bytes(self._buf[4:4 + n])
                del self._buf[:4 + n]
                return msgpack.unpackb(body, raw=False)
        return None

    def _next(self, block: bool):
        """The next whole message from the factory, or None if none is complete yet."""
        while True:
            if (msg := self._parse()) is not None:
                return msg
            try:
                chunk = self.sock.recv(65536, 0 if block else socket.MSG_DONTWAIT)
            except BlockingIOError:
                return None
            if not chunk:
                raise OSError("the task factory is gone")
            self._buf += chunk

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
