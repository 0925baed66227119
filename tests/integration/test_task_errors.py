"""A task that fails, as `mk run` and `mk logs` show it to a user of a real node: one
line naming the task, the exception and the line of the task's own code, status 1, the
output before it kept, and the full traceback in task-N.traceback (`mk logs --traceback`)
instead of on the screen; a bad entry (no such function, a syntax error) is one line too.
"""
from __future__ import annotations

import os
import re

import pytest

from conftest import TASKS

pytestmark = pytest.mark.timeout(60)
FILE = os.path.join(TASKS, "failing_tasks.py")


def test_a_failing_task_is_one_line_and_its_traceback_is_kept(node):
    r = node.mk("run", f"{FILE}:divide")
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr, r
    before, said = r.stdout.splitlines()
    m = re.fullmatch(rf"task (\d+) \(failing_tasks.py:divide\) failed: ZeroDivisionError: "
                     rf"division by zero at {re.escape(FILE)}:7 \(traceback: (.+)\)", said)
    assert before == "before" and m, r.stdout
    task = m[1]
    logs = node.mk("logs", "--task", task)
    assert logs.stdout.splitlines() == [before, said], logs
    tb = node.mk("logs", "--task", task, "--traceback")
    assert tb.returncode == 0 and tb.stdout.startswith("Traceback (most recent call last)")
    assert f'"{FILE}", line 7, in divide' in tb.stdout, tb.stdout
    with open(m[2]) as f:
        assert f.read().strip() == tb.stdout.strip()
    again = node.root({"op": "run", "entry": f"{FILE}:leave", "args": ["3"],
                       "task": int(task)})                # the same number, again
    assert node.wait(again["task"]) == 3 and node.output(again["task"]) == "leaving\n"
    gone = node.mk("logs", "--task", task, "--traceback")
    assert gone.returncode == 1 and "left no traceback" in gone.stderr, gone


def test_a_bad_entry_is_one_line(node, tmp_path):
    r = node.mk("run", f"{FILE}:nofunc")
    assert r.returncode == 1, r
    assert re.fullmatch(rf"task \d+ \(failing_tasks.py:nofunc\): {re.escape(FILE)} has "
                        r"no function nofunc\n", r.stdout), r.stdout
    bad = tmp_path / "bad.py"
    bad.write_text("def main(rt):\n    x = (\n")
    r = node.mk("run", f"{bad}:main")
    assert r.returncode == 1 and "Traceback" not in r.stdout, r
    assert re.fullmatch(rf"task \d+ \(bad.py:main\) failed to load: SyntaxError: .+ at "
                        rf"{re.escape(str(bad))}:2 \(traceback: .+\)\n", r.stdout), r.stdout
