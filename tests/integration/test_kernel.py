"""The kernel's memory, task and interrupt mechanisms, driven by real tasks:
map/grant/flush/remap between spaces, recursive flush, sigma0, page faults through a
pager, task_new with clans and chiefs, death of a task, IRQs as IPC, I/O fpages."""
import json
import os
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)


def test_map_remap_flush_grant(node):
    status, out = node.run("mem_tasks.py", "parent_map")
    assert status == 0, out
    assert "child got fpage True b'shared-data'" in out
    assert "parent sees b'from-child'" in out
    assert "after remap ro" in out
    assert "after flush absent" in out
    assert "parent keeps rw" in out
    assert "after grant parent has absent" in out
    assert "granted True b'granted'" in out


def test_flush_is_recursive_through_three_spaces(node):
    status, out = node.run("mem_tasks.py", "parent_chain")
    assert status == 0, out
    assert "c saw b'chain'" in out
    assert "c after flush absent" in out


def test_task_new_clans_notices_and_versions(node):
    status, out = node.run("mem_tasks.py", "parent_clan")
    assert status == 0, out
    assert "child chief True nest True" in out
    assert "nearest child True True" in out
    assert "nearest sigma0 True True" in out
    assert "child replied (42,)" in out
    assert "notice True True status 0" in out
    assert "stale NOT_EXISTENT" in out
    assert "new version True True" in out
    assert "not mine NO_PERMISSION" in out


def test_ipc_leaving_a_clan_is_redirected_to_the_chief(node):
    idle = node.start("mem_tasks.py", "idle")
    tid = node.wait_for(lambda: _idle_id(node, idle["task"]), what="idle task id")
    status, out = node.run("mem_tasks.py", "redirect_parent", tid)
    node.root({"op": "kill", "task": idle["task"]})
    assert status == 0, out
    assert "redirected True intended True from child True words (99,)" in out


def _idle_id(node, task):
    out = node.output(task)
    return out.split()[1] if out.startswith("idle ") and out.endswith("\n") else None


def test_sigma0_gives_a_frame_to_one_space_only(node):
    frame = 0x00C00000
    holder = node.start("mem_tasks.py", "sigma0_once", frame, 1)
    node.wait_for(lambda: "wrote b'mine'" in node.output(holder["task"]), what="holder")
    status, out = node.run("mem_tasks.py", "sigma0_once", frame)
    assert status == 0, out
    assert "frame False" in out
    node.root({"op": "kill", "task": holder["task"]})
    status, out = node.run("mem_tasks.py", "sigma0_once", frame)
    assert status == 0, out
    assert "frame True" in out and "wrote b'mine'" in out


def test_interrupts_as_ipc_and_io_fpages(node):
    """Root hands a driver exactly its ports and IRQ; the driver attaches by the V2
    protocol, gets interrupts as IPC, and touches no other port."""
    entry = os.path.join(os.path.dirname(__file__), "tasks", "mem_tasks.py") + ":pit_irq"
    node.root({"op": "driver_stop", "name": "timer"})
    try:
        started = node.root({"op": "driver_start", "name": "testpit", "class": "timer",
                             "entry": entry, "ports": [[0x40, 4]], "irq": 0})
        task = started["driver"]["task"]
        out = node.wait_for(lambda: (lambda o: o if "not granted" in o else None)(
            node.output(task)), timeout=30, what="the test driver's report")
    finally:
        node.root({"op": "driver_stop", "name": "testpit"})
        node.root({"op": "driver_start", "name": "timer"})
    assert "before grant NO_PERMISSION" in out
    assert "ports [(64, 4)] irq 0" in out
    assert "second ['NOT_EXISTENT']" in out
    assert "irqs True rate_ok True" in out
    assert "batch refused NO_PERMISSION still ticking True" in out
    assert "not granted NO_PERMISSION" in out


def test_killed_task_is_cleaned_up_and_partners_fail(node):
    server = node.start("mem_tasks.py", "idle")
    tid = node.wait_for(lambda: _idle_id(node, server["task"]), what="server id")
    client = node.start("mem_tasks.py", "caller", tid)
    rows = lambda: {r["task"]: r for r in node.control({"op": "ps"})["tasks"]}
    node.wait_for(lambda: rows()[client["task"]]["threads"][0]["state"] == "sending"
                  or rows()[client["task"]]["threads"][0]["state"] == "receiving",
                  what="client blocked")
    os.kill(rows()[server["task"]]["pid"], signal.SIGKILL)
    assert node.wait(server["task"]) == -signal.SIGKILL
    assert node.wait(client["task"]) == 0
    assert "caller got NOT_EXISTENT" in node.output(client["task"])
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
    status, out = node.run("mem_tasks.py", "cow_parent")
    assert status == 0, out
    assert "parent after copy ro" in out
    assert "child reads b'original' ro" in out
    assert "child writes b'child!!!' rw" in out
    assert "parent still reads b'original'" in out
    assert "parent writes rw b'parent!!'" in out


def test_an_ended_tasks_pages_are_not_seen_by_the_next_task_of_its_number(node):
    """Root tells the pager (FORGET) which task number ended, so the pager takes its
    pages back; the next task with that number gets zero-filled pages of its own."""
    first = node.start("mem_tasks.py", "page_writer")
    assert node.wait(first["task"]) == 0
    assert "wrote b'secret-page'" in node.output(first["task"])
    second = node.start("mem_tasks.py", "page_reader")
    assert second["task"] == first["task"]          # root hands the number out again
    assert node.wait(second["task"]) == 0
    assert f"reads {bytes(11)!r}" in node.output(second["task"])


def test_a_task_cannot_be_another_thread(node):
    from microkernel.abi import Fault
    status, out = node.run("mem_tasks.py", "impostor")
    assert status == 0, out
    assert f"wrong secret [{Fault.BAD_IDENTITY}]" in out
    assert f"other task [{Fault.BAD_IDENTITY}]" in out
    assert f"taken [{Fault.BUSY}]" in out
    assert f"no hello [{Fault.BAD_IDENTITY}]" in out


def test_user_space_ends_at_3_gib(node):
    status, out = node.run("mem_tasks.py", "kernel_area")
    assert status == 0, out
    assert "kernel area fault True" in out
    assert "fault report refused True" in out
    assert "last user page b'top page'" in out
    assert "fpage refused True" in out


def test_a_forked_process_becomes_an_empty_task(node):
    status, out = node.run("mem_tasks.py", "forker")
    assert status == 0, out
    assert "fork child True True True" in out
    assert "fork notice True True" in out


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
