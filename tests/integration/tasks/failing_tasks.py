"""Tasks whose own code fails, as a user's may (test_task_errors.py)."""
from __future__ import annotations


def divide(rt):
    print("before", flush=True)
    return 1 / 0                          # line 7: where the failure is said to be


def leave(rt, code):
    print("leaving")
    raise SystemExit(int(code))
