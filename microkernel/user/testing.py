"""What tests and benchmarks use on both sides of a task: structured facts, and waiting
on a condition with a deadline (as trio ships trio.testing, mk ships this).

    report(pages=3, zero=True)          # in a task: one line of JSON in its output
    facts(output)                       # on the host: the merged facts of every such line
    wait_until(lambda: done(), 5.0, "the driver to answer")

A task's output is its log; a fact line is MARK followed by a JSON object, so prose a
task prints around it does not matter, and a test asserts on values, never on wording.
"""
from __future__ import annotations

import enum
import json
import time
from typing import Callable, TypeVar

__all__ = ["MARK", "report", "facts", "wait_until"]

MARK = "@facts "
T = TypeVar("T")


def report(**values) -> None:
    """Print `values` as one fact line (JSON: lists for tuples, names for enums,
    text (or hex) for bytes)."""
    print(MARK + json.dumps(_plain(values), sort_keys=True), flush=True)


def facts(output: str) -> dict:
    """Every fact a task reported in `output`, later lines overriding earlier ones."""
    out: dict = {}
    for line in output.splitlines():
        if line.startswith(MARK):
            out.update(json.loads(line[len(MARK):]))
    return out


def wait_until(condition: Callable[[], T], timeout: float, what: str = "a condition",
               pause: float = 0.01) -> T:
    """The first true value of `condition()`, polled with growing pauses (to 0.1 s);
    AssertionError naming `what` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)


def _plain(value):
    """`value` in what JSON holds: enums by name, bytes as text (or hex if not UTF-8),
    tuples and sets as lists, other unknown objects as their str."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
