"""posix_spawn (POSIX_SPAWN, personalities/unix/spawn.py) as a program calls it through
libc: a child of the caller with file actions, signal defaults and a process group;
the errors a stranger meets (no program, not executable, a bad action) as errnos with
the failing action's index, and nothing left behind. Each test runs a function of
tasks/unix_spawn_tasks.py as a Unix process and asserts on what it reported."""
from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.timeout(60)


def spawn(node, func: str) -> dict:
    return node.spawn("unix_spawn_tasks.py", func)


def test_a_spawned_child_is_mine_with_the_fds_and_signals_of_an_exec(node):
    r = spawn(node, "p_spawn")
    assert r["said"] == [f"pid {r['pid']}", "kept", "closed", "int ignored"], r
    assert r["signaled"] and r["sig"] == signal.SIGQUIT, r      # setsigdef: default back
    assert r["ppid"] == r["me"], r
    assert r["grp_pgrp"] == r["grp"] != r["my_pgrp"], r          # setpgroup=0: its own
    assert r["grp_sig"] == signal.SIGTERM and r["left"] == [], r


def test_open_actions_redirect_and_the_exit_status_comes_back(node):
    r = spawn(node, "p_spawn_open")
    assert r["code"] == 5 and r["same"] and r["left"] == [], r


def test_bad_programs_and_actions_are_errnos_and_nothing_leaks(node):
    r = spawn(node, "p_spawn_errors")
    assert r["no_file"] == ["ENOENT", None] and r["no_dir"] == ["ENOENT", None], r
    assert r["not_exec"] == ["EACCES", None] and r["a_dir"] == ["EACCES", None], r
    assert r["dup2_closed"] == ["EBADF", 0] and r["dup2_negative"] == ["EBADF", 0], r
    assert r["open_missing"] == ["ENOENT", 1] and r["close_big"] == ["EBADF", 0], r
    assert r["bad_kind"] == ["EINVAL", None] and r["bad_tuple"] == ["EINVAL", None], r
    assert r["raw_bad_kind"] == ["EINVAL", 0] and r["bad_group"] == ["EPERM", None], r
    assert r["close_unopened"] == ["no error", None], r
    assert r["same_procs"] and r["same_fds"] and r["left"] == [], r
    assert r["no_child"] == "ECHILD", r
