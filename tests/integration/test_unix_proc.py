"""The Unix server without files: processes, fork (copy-on-write), wait and exit
status, getpid/getppid, orphans, signals (default actions, handlers, SIGCHLD), pipes
(EOF, EPIPE/SIGPIPE, a writer blocked on a full pipe), dup/dup2, and fds shared across
fork. Each test spawns one function of tasks/unix_tasks.py as a process."""
from __future__ import annotations

import json
import os
import signal

import pytest

pytestmark = pytest.mark.timeout(60)


def spawn(node, func: str, *argv) -> dict:
    """Run p_<func> as a Unix process; its status (decoded) and output."""
    status, out = node.run("unix_tasks.py", "drive", func, *argv, timeout=45)
    assert status == 0, out
    line = next(ln for ln in out.splitlines() if ln.startswith("{"))
    r = json.loads(line)
    r["code"] = os.WEXITSTATUS(r["status"]) if os.WIFEXITED(r["status"]) else None
    r["lines"] = r["out"].splitlines()
    return r


def test_a_process_runs_and_exits_with_its_status(node):
    r = spawn(node, "p_hello", "a", "b")
    assert r["code"] == 3
    assert r["lines"] == ["hello ['a', 'b'] True 1 /bin", "print works too"]


def test_fork_and_wait(node):
    r = spawn(node, "p_fork_wait")
    assert r["code"] == 0, r["out"]
    assert "child True True" in r["lines"]
    assert "parent True True 7" in r["lines"]
    assert "no more children True" in r["lines"]


def test_many_children_are_all_reaped(node):
    r = spawn(node, "p_many_children", 5)
    assert r["lines"] == ["all reaped True True"], r["out"]


def test_an_orphan_goes_to_init(node):
    r = spawn(node, "p_orphan")
    assert r["lines"] == ["adopted by init"], r["out"]


def test_a_crash_is_exit_status_1_with_a_traceback(node):
    r = spawn(node, "p_crash")
    assert r["code"] == 1
    assert "RuntimeError: boom" in r["out"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_default_action_terminates(node, sig):
    r = spawn(node, "p_kill_default", int(sig))
    assert r["lines"] == ["signalled True True"], r["out"]


def test_signal_handlers_run_in_the_main_thread(node):
    r = spawn(node, "p_handler")
    assert r["lines"] == ["handled while running True",
                          "handled while blocked True b'x'"], r["out"]


def test_pause_returns_after_a_handler(node):
    r = spawn(node, "p_pause")
    assert r["lines"] == [f"pause returned [{int(signal.SIGUSR1)}]"], r["out"]


def test_sigchld_and_ignoring_it(node):
    r = spawn(node, "p_sigchld")
    assert r["lines"] == ["sigchld True", "auto-reaped True"], r["out"]


def test_pipe_between_parent_and_child(node):
    r = spawn(node, "p_pipe")
    assert r["lines"] == ["got ['line 0', 'line 1', 'line 2'] eof"], r["out"]


def test_a_writer_waits_for_room_in_a_full_pipe(node):
    r = spawn(node, "p_big_pipe")
    assert r["lines"] == ["big True 0"], r["out"]


def test_epipe_and_sigpipe(node):
    r = spawn(node, "p_epipe")
    assert r["lines"] == ["epipe True", "sigpipe True"], r["out"]


def test_dup_and_dup2(node):
    r = spawn(node, "p_dup")
    assert r["lines"] == ["read back b'through fd 1\\n'", "eof after last writer closed True",
                          "ebadf True"], r["out"]


def test_fds_are_shared_across_fork(node):
    r = spawn(node, "p_shared_fd")
    assert r["lines"] == ["both ['c', 'p'] b''"], r["out"]


def test_fork_copies_memory_copy_on_write(node):
    r = spawn(node, "p_cow")
    assert r["lines"] == ["child saw parent data|child wrote parent has parent data"], r["out"]


def test_the_unix_server_is_restarted_and_its_processes_go_with_it(fresh_node):
    node = fresh_node
    t = node.start("unix_tasks.py", "drive", "p_sleeper")
    node.wait_for(lambda: _procs(node) >= 2,
                  what="the process and its child")
    tasks = {x["task"]: x["pid"] for x in node.control({"op": "ps"})["tasks"]}
    given = [n for n in tasks if n >= 1024]
    assert len(given) == 2                          # the process and its forked child
    os.kill(tasks[18], signal.SIGKILL)
    assert node.wait(t["task"], timeout=20) == 1    # its SPAWN_WAIT failed: server gone
    node.wait_for(lambda: not any(x["task"] >= 1024
                                  for x in node.control({"op": "ps"})["tasks"]),
                  what="the processes to be deleted with their chief")
    r = spawn(node, "p_hello")                      # root restarted it
    assert r["code"] == 3


def _procs(node) -> int:
    return sum(1 for x in node.control({"op": "ps"})["tasks"] if x["task"] >= 1024)


def test_hostile_system_calls_get_errnos_and_the_server_goes_on(node):
    r = spawn(node, "p_hostile", "11")
    assert r["code"] == 0, r
    assert "hostile answered 2000 refused True pid True" in r["lines"]
    assert spawn(node, "p_hello", "x")["code"] == 3           # and it still serves
