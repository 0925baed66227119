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

from microkernel.abi.codec import recv_framed, send_framed

__all__ = ["Factory"]


class Factory:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self.sock = ours
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "microkernel.user.zygote", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self.exits: list[tuple[int, int]] = []

    def spawn(self, record: dict, log_path: str) -> int:
        """Fork a task process running `record`; its pid."""
        send_framed(self.sock, {"record": record, "log": log_path})
        while True:
            msg = recv_framed(self.sock)
            if msg is None:
                raise OSError("the task factory is gone")
            if msg[0] == "pid":
                return msg[1]
            self.exits.append((msg[1], msg[2]))

    def read_exits(self) -> list[tuple[int, int]]:
        """Exit reports waiting on the socket (call when it is readable)."""
        msg = recv_framed(self.sock)
        if msg is None:
            raise OSError("the task factory is gone")
        if msg[0] == "exit":
            self.exits.append((msg[1], msg[2]))
        out, self.exits = self.exits, []
        return out

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
