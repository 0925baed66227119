"""The Unix server seen from a task that is no process: root, tests, `mk sh`.

    c = UnixClient(rt)                      # looks "unix" up with the name server
    pid = c.spawn("/bin/sh", ["sh", "-c", "ls /"], stdio="capture")
    status, output = c.wait(pid, timeout=30)

`spawn(..., module=True)` runs a Python function "module:func" or "/file.py:func"
(called as main(argv, envp)) instead of a program file. `stdio` is "capture" (fd 0
reads `stdin`, fds 1 and 2 are collected and returned by `wait`), "null", or
"tty:LINE" (fds 0, 1, 2 on that tty line). The status is a wait status
(os.WEXITSTATUS / os.WTERMSIG read it).
"""
from __future__ import annotations

import errno
import os

from microkernel.abi import NEVER, Msg, ThreadId

from . import proto as P

__all__ = ["UnixClient", "find_unix"]


def find_unix(rt, names: int | None = None, patience: float = 10.0) -> ThreadId:
    """The Unix server's id (waiting up to `patience` s for it to register)."""
    import time
    from drivers.client import lookup, names_id
    names = names_id(rt) if names is None else names
    deadline = time.monotonic() + patience
    while True:
        tid = lookup(rt, names, P.UNIX_NAME)
        if tid is not None:
            return tid
        if time.monotonic() > deadline:
            raise OSError(errno.ENODEV, "no Unix server registered")
        rt.sleep(0.05)


class UnixClient:
    def __init__(self, rt, unix: int | None = None, names: int | None = None):
        self.rt = rt
        self.unix = find_unix(rt, names) if unix is None else ThreadId(int(unix))

    def _call(self, words: tuple, strings: tuple = (), timeout=NEVER) -> Msg:
        r = self.rt.call(self.unix, Msg(words=words, strings=strings), timeout=timeout)
        if not r.words or r.words[0]:
            err = r.words[0] if r.words else errno.EIO
            raise OSError(err, os.strerror(err))
        return r

    def spawn(self, entry: str, argv: list[str] | None = None, envp: dict | None = None,
              stdio: str = "capture", stdin: bytes = b"", module: bool = False) -> int:
        """Start a process (child of init); its pid."""
        argv = list(argv) if argv else [entry]
        env = [f"{k}={v}" for k, v in (envp if envp is not None
                                        else {"PATH": "/bin", "HOME": "/"}).items()]
        strings = (entry.encode(), stdio.encode(), bytes(stdin),
                   *(os.fsencode(a) for a in argv), *(e.encode() for e in env))
        op = P.SPAWN_MODULE if module else P.SPAWN
        return self._call((op, len(argv), len(env)), strings, timeout=30).words[1]

    def wait(self, pid: int, timeout=NEVER) -> tuple[int, bytes]:
        """(wait status, captured output) once the process has ended."""
        r = self._call((P.SPAWN_WAIT, pid, 0), timeout=timeout)
        return r.words[1], bytes(r.strings[0]) if r.strings else b""

    def run(self, entry: str, argv: list[str] | None = None, timeout=NEVER,
            **kw) -> tuple[int, bytes]:
        """spawn, then wait."""
        return self.wait(self.spawn(entry, argv, **kw), timeout)

    def kill(self, pid: int, sig: int) -> None:
        self._call((P.KILL, P.unsigned(pid), sig))

    def ps(self) -> list[str]:
        return [bytes(s).decode() for s in self._call((P.PS, 0, 0)).strings]
