"""Integration fixtures: real nodes (kernel + sigma0 + root + pager processes) booted in
a temporary, short $MK_HOME, helpers that run a task file and collect its output or its
facts (and, for the Unix personality's tests, a process or `sh -c`), and the host end
of a node's serial line."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from cli.node import Node
from microkernel.user.testing import MARK, facts, wait_until

TASKS = os.path.join(os.path.dirname(__file__), "tasks")


class TestNode(Node):
    """A node with helpers to run task code from tests/integration/tasks."""

    __test__ = False

    def start(self, file: str, func: str = "main", *args, task: int | None = None) -> dict:
        """Start a task (in number `task`, if given); root's answer: task, id, log."""
        req = {"op": "run", "entry": f"{os.path.join(TASKS, file)}:{func}",
               "args": [str(a) for a in args]}
        return self.root(req if task is None else {**req, "task": task})

    def wait(self, task: int, timeout: float = 30.0) -> int | None:
        return self.root({"op": "wait", "task": task}, timeout=timeout)["status"]

    def run(self, file: str, func: str = "main", *args, timeout: float = 30.0) -> tuple[int | None, str]:
        """Run a task to its end; returns (exit status, its output followed by the
        output of the tasks it created, which got numbers from root's upper range)."""
        before = {n: os.stat(p).st_mtime_ns for n, p in self._given_logs()}
        started = self.start(file, func, *args)
        status = self.wait(started["task"], timeout)
        with open(started["log"], "rb") as f:
            out = f.read().decode(errors="replace")
        for n, p in self._given_logs():
            if before.get(n) != os.stat(p).st_mtime_ns:
                with open(p, "rb") as f:
                    out += f.read().decode(errors="replace")
        return status, out

    def _given_logs(self):
        logs = self.path("logs")
        for name in os.listdir(logs):
            if name.startswith("task-") and name[5:-4].isdigit() and int(name[5:-4]) >= 1024:
                yield int(name[5:-4]), os.path.join(logs, name)

    def output(self, task: int) -> str:
        """What the task printed so far ("" before its process has started)."""
        try:
            with open(self.path("logs", f"task-{task}.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def facts(self, file: str, func: str = "main", *args, timeout: float = 30.0) -> dict:
        """Run a task to its end (exit status 0) and return the facts it reported."""
        status, out = self.run(file, func, *args, timeout=timeout)
        assert status == 0, out
        return facts(out)

    def wait_for(self, cond, timeout: float = 10.0, what: str = "condition"):
        return wait_until(cond, timeout, what)

    def mk(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        """Run the `mk` command line on this node, as a user would."""
        return subprocess.run([sys.executable, "-m", "cli.main", *args, "--node", self.name],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "MK_HOME": self.home})

    def task_pid(self, task: int) -> int | None:
        """The host pid of task `task`'s process (None: no such task)."""
        return {t["task"]: t["pid"] for t in self.control({"op": "ps"})["tasks"]}.get(task)

    def pty(self, name: str = "com1") -> "Pty":
        """The host end of UART `name` (see Pty); close it, or use it in a `with`."""
        return Pty(self, name)

    def spawn(self, file: str, func: str, *argv, exit: int = 0) -> dict:
        """Run `func` of tasks/`file` as a Unix process (through the file's `drive`
        task), which must exit with `exit`: the facts it reported, its other output
        lines ("lines"), its whole output ("out") and the driving task's facts ("drive")."""
        r = self.facts(file, "drive", func, *argv, timeout=75)
        st = r["status"]
        assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == exit, f"status {st}:\n{r['out']}"
        got = facts(r["out"])
        got.update(lines=[ln for ln in r["out"].splitlines() if not ln.startswith(MARK)],
                   out=r["out"], drive=r)
        return got

    def sh(self, cmd: str, stdin: str = "") -> tuple[int, str]:
        """`sh -c CMD` from /bin as a Unix process: (its exit code, or 128 + the signal
        that ended it, and what its fds 1 and 2 got)."""
        r = self.facts("unix_tasks.py", "shell", cmd, stdin, timeout=45)
        st = r["status"]
        return (os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)), r["out"]

    def process_running(self, name: str) -> bool:
        """A Unix process called `name` is running (as the Unix server's ps lists it)."""
        return any(p["name"] == name and p["state"] == "running"
                   for p in self.facts("unix_tasks.py", "processes")["processes"])


class Pty:
    """The host end of a node's UART `name`: the pseudo-terminal whose path is in the
    node folder (NAME.pty), non-blocking. A context manager."""

    def __init__(self, node: Node, name: str):
        with open(node.path(f"{name}.pty")) as f:
            self.fd = os.open(f.read().strip(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def read_until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        """What the machine wrote, read until `marker` is in it; AssertionError with
        what came if it is not within `timeout`."""
        got = bytearray()

        def arrived() -> bool:
            while select.select([self.fd], [], [], 0)[0]:
                got.extend(os.read(self.fd, 4096))
            return marker in got
        try:
            wait_until(arrived, timeout, f"{marker!r} on the pty")
        except AssertionError as e:
            raise AssertionError(f"{e}; it got {bytes(got)!r}") from None
        return bytes(got)

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> "Pty":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@pytest.fixture(scope="module")
def mk_home():
    home = tempfile.mkdtemp(prefix="mk", dir="/tmp")
    old = os.environ.get("MK_HOME")
    os.environ["MK_HOME"] = home
    yield home
    if old is None:
        os.environ.pop("MK_HOME", None)
    else:
        os.environ["MK_HOME"] = old
    shutil.rmtree(home, ignore_errors=True)


def _boot(home: str, name: str = "local", **kw) -> TestNode:
    node = TestNode(name, home)
    node.up(**kw)
    return node


@pytest.fixture(scope="module")
def node(mk_home):
    """One booted node shared by a test module."""
    n = _boot(mk_home)
    yield n
    n.down()


@pytest.fixture
def fresh_node(mk_home):
    """A node of its own for a test that breaks things."""
    n = _boot(mk_home, f"n{os.getpid()}{int(time.monotonic() * 1000) % 100000}")
    yield n
    n.down()
