"""The Unix server without files: processes, fork (copy-on-write), wait and exit
status, getpid/getppid, orphans, signals (default actions, handlers, SIGCHLD), pipes
(EOF, EPIPE/SIGPIPE, a writer blocked on a full pipe), dup/dup2, and fds shared across
fork. Each test spawns one function of tasks/unix_tasks.py (processes),
tasks/unix_signal_tasks.py (signals) or tasks/unix_pipe_tasks.py (pipes and fds) as a
process and asserts on the facts it reported."""
from __future__ import annotations

import os
import signal

import pytest

from protocols.wellknown import UNIX_TASK

pytestmark = pytest.mark.timeout(60)


SIGNALS, PIPES = "unix_signal_tasks.py", "unix_pipe_tasks.py"


def spawn(node, func: str, *argv, exit: int = 0, file: str = "unix_tasks.py") -> dict:
    """Run p_<func> of tasks/`file` as a Unix process that must exit with `exit`: its
    facts."""
    return node.spawn(file, func, *argv, exit=exit)


def test_a_process_runs_and_exits_with_its_status(node):
    r = spawn(node, "p_hello", "a", "b", exit=3)
    assert r["argv"] == ["a", "b"] and r["pid"] > 1 and r["ppid"] == 1, r
    assert r["path"] == "/bin", r
    assert r["lines"] == ["written", "printed"], r       # write(2) and print reach fd 1


def test_fork_and_wait(node):
    r = spawn(node, "p_fork_wait")
    assert r["child_pid"] == r["forked"] == r["waited"] != r["parent_pid"], r
    assert r["child_ppid"] == r["parent_pid"], r
    assert r["child"] == 7, r
    assert r["wait_again"] == "ECHILD", r


def test_many_children_are_all_reaped(node):
    r = spawn(node, "p_many_children", 5)
    assert r["not_reaped"] == [] and r["codes"] == [1, 2, 3, 4, 5], r


def test_a_fork_bomb_gets_eagain_and_the_shell_stays_usable(node):
    r = spawn(node, "p_fork_bomb")
    assert r["refused"] == "EAGAIN" and r["reaped"] == r["forked"], r
    assert 32 <= r["forked"] < 64, r                 # the session's limit, not the node's
    print(f"fork bomb: {r['forked']} processes in {r['seconds']} s, then EAGAIN")
    assert node.sh("echo alive") == (0, "alive\n")


def test_an_orphan_goes_to_init(node):
    r = spawn(node, "p_orphan")
    assert r["orphan_ppid"] == 1, r


def test_a_crash_is_exit_status_1_with_a_traceback(node):
    r = spawn(node, "p_crash", exit=1)
    assert r["lines"][0] == "Traceback (most recent call last):", r
    assert r["lines"][-1] == "RuntimeError: boom", r


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_default_action_terminates(node, sig):
    r = spawn(node, "p_kill_default", int(sig), file=SIGNALS)
    assert r["child"] == sig.name, r


def test_signal_handlers_run_in_the_main_thread(node):
    r = spawn(node, "p_handler", file=SIGNALS)
    assert r["handled_while_running"] == ["SIGTERM"], r          # SIGINT was ignored
    assert r["handled"] == ["SIGTERM", "SIGTERM"] and r["read"] == "x", r   # then restarted


def test_pause_returns_after_a_handler(node):
    r = spawn(node, "p_pause", file=SIGNALS)
    assert r["pause_returned_after"] == ["SIGUSR1"], r


def test_sigchld_and_ignoring_it(node):
    r = spawn(node, "p_sigchld", file=SIGNALS)
    assert r["sigchld"] == ["SIGCHLD"], r
    assert r["wait_ignored"] == "ECHILD", r                      # auto-reaped


def test_pipe_between_parent_and_child(node):
    r = spawn(node, "p_pipe", file=PIPES)
    assert r["received"] == "line 0\nline 1\nline 2\n", r       # then end of file


def test_a_writer_waits_for_room_in_a_full_pipe(node):
    r = spawn(node, "p_big_pipe", file=PIPES)
    assert r["received"] == 1 << 20 and r["same"] and r["writer"] == 0, r


def test_epipe_and_sigpipe(node):
    r = spawn(node, "p_epipe", file=PIPES)
    assert r["write_ignoring"] == "EPIPE" and r["writer"] == "SIGPIPE", r


def test_dup_and_dup2(node):
    r = spawn(node, "p_dup", file=PIPES)
    assert r["read_back"] == "through fd 1\n" and r["lines"] == [], r
    assert r["after_last_writer"] == "" and r["close_again"] == "EBADF", r


def test_fds_are_shared_across_fork(node):
    r = spawn(node, "p_shared_fd", file=PIPES)
    assert r["read"] == ["c", "p"] and r["then"] == "", r


def test_fork_copies_memory_copy_on_write(node):
    r = spawn(node, "p_cow")
    assert (r["child_saw"], r["child_has"], r["parent_has"]) == \
        ("parent data", "child wrote", "parent data"), r


def test_the_unix_server_is_restarted_and_its_processes_go_with_it(fresh_node):
    node = fresh_node
    t = node.start("unix_tasks.py", "drive", "p_sleeper")
    node.wait_for(lambda: _procs(node) >= 2,
                  what="the process and its child")
    tasks = {x["task"]: x["pid"] for x in node.control({"op": "ps"})["tasks"]}
    given = [n for n in tasks if n >= 1024]
    assert len(given) == 2                          # the process and its forked child
    os.kill(tasks[UNIX_TASK], signal.SIGKILL)
    assert node.wait(t["task"], timeout=20) == 1    # its SPAWN_WAIT failed: server gone
    node.wait_for(lambda: not any(x["task"] >= 1024
                                  for x in node.control({"op": "ps"})["tasks"]),
                  what="the processes to be deleted with their chief")
    spawn(node, "p_hello", exit=3)                  # root restarted it


def _procs(node) -> int:
    return sum(1 for x in node.control({"op": "ps"})["tasks"] if x["task"] >= 1024)


def test_hostile_system_calls_get_errnos_and_the_server_goes_on(node):
    r = spawn(node, "p_hostile", "11")
    assert r["answered"] == 2000 and r["refused"] > 1000 and r["pid"] > 0, r
    spawn(node, "p_hello", "x", exit=3)             # and it still serves
