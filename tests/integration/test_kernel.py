"""The kernel's memory, task and interrupt mechanisms, driven by real tasks:
map/grant/flush/remap between spaces, recursive flush, sigma0, page faults through a
pager, task_new with clans and chiefs, death of a task, IRQs as IPC, I/O fpages. The
tasks (tasks/mem_tasks.py) report facts; the tests assert on their values."""
import json
import os
import signal
import subprocess
import sys

import pytest

from microkernel.abi import irq_id
from microkernel.abi.ops import NEAREST_OUTER, NEAREST_SAME, TASK_EXIT_NOTICE
from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(120)


def test_map_remap_flush_grant(node):
    got = node.facts("mem_tasks.py", "parent_map")
    assert got["child_fpage"] and got["child_reads"] == "shared-data", got
    assert got["parent_reads"] == "from-child", got     # the child wrote through the map
    assert got["after_remap"] == "ro", got
    assert got["after_flush"] == "absent" and got["parent_keeps"] == "rw", got
    assert got["parent_after_grant"] == "absent", got
    assert got["granted_fpage"] and got["granted_reads"] == "granted", got


def test_flush_is_recursive_through_three_spaces(node):
    got = node.facts("mem_tasks.py", "parent_chain")
    assert got["c_saw"] == "chain", got
    assert got["c_after_flush"] == "absent", got


def test_task_new_clans_notices_and_versions(node):
    got = node.facts("mem_tasks.py", "parent_clan")
    assert got["child_chief"] == got["my_task"], got
    assert got["child_nest"] == got["my_nest"] + 1, got
    assert got["nearest_child"] == [NEAREST_SAME, got["child"]], got
    assert got["nearest_sigma0"] == [NEAREST_OUTER, got["chief"]], got
    assert got["child_replied"] == [42], got
    assert got["notice_word"] == TASK_EXIT_NOTICE, got
    assert got["notice_task"] == got["child_task"] and got["notice_status"] == 0, got
    assert got["stale_send"] == "NOT_EXISTENT", got
    assert got["again_task"] == got["child_task"], got
    assert got["again_version"] != got["child_version"], got
    assert got["task_new_5"] == "NO_PERMISSION", got


def _start_idle(node) -> tuple[dict, int]:
    """An idle task (it receives from nil: forever) and its thread id, once reported."""
    idle = node.start("mem_tasks.py", "idle")
    tid = node.wait_for(lambda: facts(node.output(idle["task"])).get("idle"),
                        what="the idle task's id")
    return idle, tid


def test_ipc_leaving_a_clan_is_redirected_to_the_chief(node):
    idle, tid = _start_idle(node)
    try:
        got = node.facts("mem_tasks.py", "redirect_parent", tid)
    finally:
        node.root({"op": "kill", "task": idle["task"]})
    assert got["redirected"] and got["intended"] == tid, got
    assert got["sender"] == got["child"] and got["words"] == [99], got


def test_one_task_cannot_take_the_kernels_page_table_pool(node):
    total = node.control({"op": "status"})["kernel_frames"]["total"]
    got = node.facts("mem_tasks.py", "sparse_toucher", total)      # would need them all
    assert got["stopped"] and got["touched"] <= total // 4, got    # its quota, not the pool
    st = node.control({"op": "status"})
    assert st["kernel_frames"]["used"] < total // 2, st            # given back at its end
    assert node.facts("fuzz_repro_tasks.py", "normal")["words"] == [42]  # and others go on


def test_sigma0_is_roots_alone(node):
    """A task of root's clan asking sigma0 gets its "no", in sigma0's name, from root:
    memory comes from root (MEMORY), which no stranger's map item can reach."""
    got = node.facts("mem_tasks.py", "sigma0_once", 0x00C00000)
    assert got == {"frame": False}, got


def test_a_block_from_root_comes_zeroed_to_the_next_task(node):
    first = node.facts("mem_tasks.py", "memory_block", 22, "a secret")
    assert first["phys"] and first["zero"], first
    second = node.facts("mem_tasks.py", "memory_block", 22)
    assert second["phys"] == first["phys"], (first, second)    # the same block, again
    assert second["zero"], second


def test_interrupts_as_ipc_and_io_fpages(node):
    """Root hands a driver exactly its ports and IRQ; the driver attaches by the V2
    protocol, gets interrupts as IPC, and touches no other port."""
    entry = os.path.join(os.path.dirname(__file__), "tasks", "mem_tasks.py") + ":pit_irq"
    node.root({"op": "driver_stop", "name": "timer"})
    try:
        started = node.root({"op": "driver_start", "name": "testpit", "class": "timer",
                             "entry": entry, "ports": [[0x40, 4]], "irq": 0})
        task = started["driver"]["task"]
        node.wait_for(lambda: "port_0x60" in facts(node.output(task)), timeout=30,
                      what="the test driver's last fact")
        got = facts(node.output(task))
    finally:
        node.root({"op": "driver_stop", "name": "testpit"})
        node.root({"op": "driver_start", "name": "timer"})
    assert got["before_grant"] == "NO_PERMISSION", got
    assert got["ports"] == [[0x40, 4]] and got["irq"] == 0, got
    assert got["second_attacher"] == ["NOT_EXISTENT"], got
    assert got["irq_senders"] == [irq_id(0)] * 10, got
    assert 0.05 < got["irq_seconds"] < 1.5, got        # ten ticks of a ~100 Hz PIT
    assert got["batch"] == "NO_PERMISSION", got         # refused whole: still ticking
    assert got["then_sender"] == irq_id(0), got
    assert got["port_0x60"] == "NO_PERMISSION", got


def test_killed_task_is_cleaned_up_and_partners_fail(node):
    server, tid = _start_idle(node)
    client = node.start("mem_tasks.py", "caller", tid)
    rows = lambda: {r["task"]: r for r in node.control({"op": "ps"})["tasks"]}
    node.wait_for(lambda: rows()[client["task"]]["threads"][0]["state"]
                  in ("sending", "receiving"), what="client blocked")
    os.kill(rows()[server["task"]]["pid"], signal.SIGKILL)
    assert node.wait(server["task"]) == -signal.SIGKILL
    assert node.wait(client["task"]) == 0
    got = facts(node.output(client["task"]))
    assert got["caller_got"] == "NOT_EXISTENT", got
    assert server["task"] not in rows()


def test_cli_status_ps_logs(node):
    env = dict(os.environ)
    mk = [sys.executable, "-m", "cli.main"]
    ps = subprocess.run([*mk, "ps", "--json"], capture_output=True, text=True, env=env, timeout=30)
    assert ps.returncode == 0, ps.stderr
    tasks = {r["task"]: r for r in json.loads(ps.stdout)}
    assert {2, 4, 5} <= set(tasks)
    assert tasks[4]["threads"][0]["pager"].startswith("ThreadId(2.0")
    assert tasks[2]["pid"] > 0 and tasks[2]["rss"] > 0
    text = subprocess.run([*mk, "ps"], capture_output=True, text=True, env=env, timeout=30)
    head, *lines = text.stdout.splitlines()
    col = head.index("STATE")                   # every column lines up under its title
    assert lines and all(ln[col - 2:col] == "  " and ln[col] != " " for ln in lines), text.stdout
    assert any(ln.split()[:3] == ["4", "4.0", "v1@1"] for ln in lines), text.stdout
    st = subprocess.run([*mk, "status"], capture_output=True, text=True, env=env, timeout=30)
    assert "up" in st.stdout and "ready" in st.stdout
    up = subprocess.run([*mk, "up"], capture_output=True, text=True, env=env, timeout=30)
    assert up.returncode != 0 and "already runs" in up.stderr
    logs = subprocess.run([*mk, "logs", "-n", "100000"], capture_output=True, text=True, env=env, timeout=30)
    assert "task 4 v1 started" in logs.stdout


def test_copy_on_write_through_the_pager(node):
    got = node.facts("mem_tasks.py", "cow_parent")
    assert got["parent_after_copy"] == "ro", got
    assert got["child_reads"] == "original" and got["child_before_write"] == "ro", got
    assert got["child_reads_back"] == "child!!!" and got["child_after_write"] == "rw", got
    assert got["parent_still_reads"] == "original", got
    assert got["parent_reads"] == "parent!!" and got["parent_after_write"] == "rw", got


def test_an_ended_tasks_pages_are_not_seen_by_the_next_task_of_its_number(node):
    """Root tells the pager (FORGET) which task number ended, so the pager takes its
    pages back; the next task with that number gets zero-filled pages of its own."""
    first = node.start("mem_tasks.py", "page_writer")
    assert node.wait(first["task"]) == 0
    assert facts(node.output(first["task"]))["wrote"] == "secret-page"
    second = node.start("mem_tasks.py", "page_reader", task=first["task"])  # the same number
    assert second["task"] == first["task"]
    assert node.wait(second["task"]) == 0
    got = facts(node.output(second["task"]))
    assert got["reads"] == "\0" * 11, got


def test_a_task_cannot_be_another_thread(node):
    got = node.facts("mem_tasks.py", "impostor")
    assert got == {"wrong_secret": "BAD_IDENTITY", "other_task": "BAD_IDENTITY",
                   "taken": "BUSY", "no_hello": "BAD_IDENTITY",
                   "spent_secret": "BAD_IDENTITY", "next_secret_new": True}, got


def test_user_space_ends_at_3_gib(node):
    got = node.facts("mem_tasks.py", "kernel_area")
    assert got["write_above"] == "MemoryFault" and got["write_above_says_kernel_area"], got
    assert got["fault_report_above"] == "BAD_ARGUMENT", got
    assert got["last_user_page"] == "top page", got
    assert got["fpage_above"] == "ValueError" and got["fpage_above_says_kernel_area"], got


def test_a_forked_process_becomes_an_empty_task(node):
    got = node.facts("mem_tasks.py", "forker")
    assert got["sender"] == got["its_myself"] == got["child"], got
    assert got["its_pid"] == got["pid"], got
    assert got["notice_word"] == TASK_EXIT_NOTICE and got["notice_sender"] == got["child"], got


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to place")
def test_the_kernel_runs_on_one_cpu_and_its_tasks_on_any(node):
    """Every thread of the kernel process is on the site's CPU (the last for site 1);
    the task processes, forked by the factory started before, may use every CPU."""
    from microkernel.kernel.boot import kernel_cpu
    allowed = os.sched_getaffinity(0)
    kpid = node.control({"op": "status"})["pid"]
    threads = os.listdir(f"/proc/{kpid}/task")
    assert len(threads) >= 3                   # the loop, ZeroMQ's I/O thread, the watcher
    assert {frozenset(os.sched_getaffinity(int(tid))) for tid in threads} == \
        {frozenset({kernel_cpu(None, 1)})}
    assert kernel_cpu(None, 1) == max(allowed) and kernel_cpu(None, 2) != max(allowed)
    pids = [r["pid"] for r in node.control({"op": "ps"})["tasks"] if r["pid"]]
    assert pids and all(os.sched_getaffinity(p) == allowed for p in pids)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to place")
def test_mk_up_places_the_kernel_on_the_cpu_asked(mk_home):
    """`mk up --cpu N` puts every kernel thread on CPU N, `--cpu -1` leaves it on any;
    a CPU the host does not give us is refused before anything starts."""
    mk = [sys.executable, "-m", "cli.main"]
    allowed = os.sched_getaffinity(0)
    run = lambda *a: subprocess.run([*mk, *a], capture_output=True, text=True, timeout=60)
    bad = run("up", "--node", "cpus", "--cpu", str(max(allowed) + 64))
    assert bad.returncode != 0 and "is not one of" in bad.stderr
    for cpu, expect in ((min(allowed), {min(allowed)}), (-1, allowed)):
        up = run("up", "--node", "cpus", "--cpu", str(cpu))
        assert up.returncode == 0, up.stderr
        try:
            st = json.loads(run("status", "--node", "cpus", "--json").stdout)
            threads = os.listdir(f"/proc/{st['pid']}/task")
            assert {frozenset(os.sched_getaffinity(int(t))) for t in threads} == \
                {frozenset(expect)}
        finally:
            assert run("down", "--node", "cpus").returncode == 0
