"""A node booted for one benchmark run, and the bench tasks it runs.

Every `mk bench` boots its own node in a temporary $MK_HOME, so a node the user runs is
never touched, starts its measuring tasks through root as `mk run` does, and reads what
they measured from their logs (one line per result, `WORD rest`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from .floors import BenchError

__all__ = ["BenchNode"]


class BenchNode:
    """A node booted for the run in a temporary $MK_HOME, and its bench tasks: `start`
    runs `{tasks}:{func}` (a module or a file of task functions)."""

    def __init__(self, name: str, mem_mib: int, tasks: str):
        from cli.node import Node                       # the operator's own client
        self.home = tempfile.mkdtemp(prefix="mkb", dir="/tmp")
        self.node = Node(name, self.home)
        self.mem_mib = mem_mib
        self.tasks = tasks
        self.up = False

    @classmethod
    def running(cls, node, tasks: str) -> "BenchNode":
        """A node already up (one of a cluster the bench booted), to start tasks on."""
        b = cls.__new__(cls)
        b.home, b.node, b.mem_mib, b.tasks, b.up = node.home, node, 0, tasks, False
        return b

    def __enter__(self) -> "BenchNode":
        try:
            self.node.up(self.mem_mib)
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        self.up = True
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.up:
                self.node.down()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    def start(self, func: str, *args) -> dict:
        from cli.node import NodeError
        try:
            t = self.node.root({"op": "run", "entry": f"{self.tasks}:{func}",
                                "args": [str(a) for a in args]}, timeout=30.0)
        except NodeError as e:
            raise BenchError(f"root would not start {func}: {e}; the kernel's log:\n"
                             f"{self._tail('kernel.log')}\nroot's log:\n"
                             f"{self._tail('task-4.log')}") from None
        t["func"], t["seen"] = func, 0
        return t

    def _tail(self, name: str, n: int = 2000) -> str:
        try:
            with open(self.node.path("logs", name), "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except FileNotFoundError:
            return "(none)"

    @staticmethod
    def _log(task: dict) -> str:
        try:
            with open(task["log"], "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def line(self, task: dict, word: str, timeout: float = 60.0) -> str:
        """Wait for the task's log to show a line starting with `word`; its rest.
        Only whole lines count: a task's output is unbuffered, and `print(a, b)` is
        several writes, so the log may end in the first part of a line."""
        deadline = time.monotonic() + timeout
        while True:
            text = self._log(task)
            for ln in text[:text.rfind("\n") + 1].splitlines():
                if ln == word or ln.startswith(word + " "):
                    return ln[len(word):].strip()
                if ln.startswith("ERROR ") or ln.startswith("Traceback"):
                    break
            else:
                if time.monotonic() < deadline:
                    time.sleep(0.002)
                    continue
            raise BenchError(f"task {task['task']} ({task['func']}) did not print {word} "
                             f"in {timeout:.0f}s; its log:\n{text[-2000:]}")

    def server(self, func: str, *args) -> tuple[dict, int]:
        t = self.start(func, *args)
        return t, int(self.line(t, "ID"))

    def reap(self, task: dict, timeout: float = 15.0) -> None:
        """Wait for the task's end; then its log goes, so that the next task given the
        same number is not read from its predecessor's lines."""
        done = self.node.root({"op": "wait", "task": task["task"]}, timeout=timeout)
        if done.get("status") not in (0, None):
            raise BenchError(f"task {task['task']} ({task['func']}) ended with status "
                             f"{done['status']}; its log:\n{self._log(task)[-2000:]}")
        try:
            os.unlink(task["log"])
        except FileNotFoundError:
            pass


def command(name: str, doc: str, run, format_table, settings, argv: list[str] | None,
            node: str | None = None, plot=None) -> int:
    """`python -m bench.NAME [--json] [--quick] [--node N] [--plot FILE]`: run(settings,
    [node,] progress) and print its table or JSON; a BenchError is one line and status 1.
    `settings` has `quick()`; with `node` (a default name) the bench takes --node; with
    `plot` = (check(file), draw(out, file)), --plot FILE, checked before the run and
    drawn after it."""
    ap = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    if node is not None:
        ap.add_argument("--node", default=node, help="name of the temporary node")
    ap.add_argument("--quick", action="store_true", help="tiny counts: checks paths only")
    if plot is not None:
        ap.add_argument("--plot", metavar="FILE", help="also draw the figure (.png, .svg)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    args = (a.node,) if node is not None else ()
    try:
        if plot is not None and a.plot:
            plot[0](a.plot)
        out = run(settings.quick() if a.quick else settings(), *args,
                  progress=lambda t: print(f"  {t}", file=sys.stderr, flush=True))
    except BenchError as e:
        print(f"mk bench {name}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2) if a.json else format_table(out))
    if plot is not None and a.plot:
        try:
            plot[1](out, a.plot)
        except BenchError as e:
            print(f"mk bench {name}: {e}", file=sys.stderr)
            return 1
    return 0
