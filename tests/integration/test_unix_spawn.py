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
    """Also os.posix_spawn and os.system of a program, which go to the node."""
    r = spawn(node, "p_spawn_open")
    assert r["code"] == 5 and r["same"] and r["left"] == [], r
    assert r["os_spawn"] == 3 and r["system"] == 4, r          # a program's own os


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


SH = ("cd /tmp; echo a > f1; cat < f1 > f2 2>&1; cat f2; ls nonesuch 2>/dev/null; "
      "echo st=$?; nosuchcmd; echo st=$?; /etc/motd; echo st=$?; echo x | cat | wc -l; "
      "false | true; echo p=$?; true | false; echo p=$?; sleep 0 & p=$!; wait $p; "
      "echo bg=$? $((p > 1)); X=5 sh -c 'echo $X'; cat < nofile; echo st=$?; echo y >&-; "
      "echo c=$?; echo z | cat > f3 2>f4; cat f3 f4; echo w >> f3; cat f3; exec 3>f5; "
      "echo 3 >&3; cat f5; rm f1 f2 f3 f4 f5")
SAID = """a
st=2
sh: 1: nosuchcmd: not found
st=127
sh: 1: /etc/motd: Permission denied
st=126
1
p=0
p=1
bg=0 1
5
sh: 1: cannot open nofile: No such file or directory
st=2
sh: 1: write error: Bad file descriptor
c=1
z
z
w
3
"""


def test_the_shell_says_and_ends_as_before_with_its_programs_spawned(node):
    """Redirections, statuses, not found and not executable, pipelines, $!, an
    assignment's environment, exec's fds: what sh did when it forked every program."""
    assert node.sh(SH) == (0, SAID)
