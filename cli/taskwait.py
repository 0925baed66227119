"""Waiting for a task of a node from the CLI, and noticing when the node itself goes.

`mk sh` waits for its session task while it relays the terminal; if the node is stopped
meanwhile (`mk down`), root's answer never comes: the waiter asks again every second
and, once the node's kernel is gone, says so, so the session ends at once with one line
instead of hanging.
"""
from __future__ import annotations

import os
import threading

from .node import Node, NodeError, NodeTimeout

__all__ = ["TaskWaiter", "POLL"]

POLL = 1.0                       # seconds between asking root again


class TaskWaiter:
    """A thread waiting for task `task`; `fd` becomes readable when it is over, then
    `result` holds root's answer ({"status": ...}), or "down" or "error"."""

    def __init__(self, node: Node, task: int):
        self.node, self.task = node, task
        self.result: dict = {}
        self.fd, self._w = os.pipe()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.result.update(self.node.root({"op": "wait", "task": self.task},
                                                  timeout=POLL))
                break
            except NodeTimeout:
                if not self.node.running():
                    self.result["down"] = f"node {self.node.name!r} went down"
                    break
            except NodeError as e:
                key = "error" if self.node.running() else "down"
                self.result[key] = str(e) if key == "error" else \
                    f"node {self.node.name!r} went down"
                break
        os.write(self._w, b"x")

    def done(self) -> bool:
        return bool(self.result)

    def status(self) -> int:
        """The task's exit status as the CLI's; NodeError if the node went or failed."""
        if "status" not in self.result:
            raise NodeError(self.result.get("down") or self.result.get("error")
                            or "the session did not end")
        s = self.result["status"]
        return s if isinstance(s, int) and 0 <= s < 256 else 1
