"""Supervision: root restarts the name server (under its well-known id, with every kept
server's name given back) and the console like drivers; what cannot come back (the
pager) leaves the node degraded, and `mk status` says so in its words and its exit
status; the command line refuses what the machine cannot be given."""
import os
import signal

import pytest

from cli.node import NodeError
from microkernel.user.testing import wait_until

pytestmark = pytest.mark.timeout(120)


def kept(node):
    return {d["name"]: d for d in node.root({"op": "drivers"})["drivers"]}


def restarted(node, name: str):
    return wait_until(lambda: (lambda d: d if d["state"] == "running" and d["restarts"] >= 1
                               else None)(kept(node)[name]), 15, f"{name} to be restarted")


def test_a_healthy_node_is_ready_with_exit_status_0(node):
    r = node.mk("status")
    assert r.returncode == 0 and r.stdout.rstrip().endswith("ready"), r


def test_the_name_server_comes_back_with_its_id_and_every_name(fresh_node):
    node = fresh_node
    before = node.facts("core_tasks.py", "names_list")["names"]
    assert {"fs", "tty", "unix", "com1", "ata0", "timer"} <= set(before), before
    old = kept(node)["names"]
    os.kill(node.task_pid(6), signal.SIGKILL)
    new = restarted(node, "names")
    assert new["id"] == old["id"]                      # the well-known id: task 6 v1
    after = wait_until(lambda: (lambda n: n if set(before) <= set(n) else None)(
        node.facts("core_tasks.py", "names_list")["names"]), 15, "the names given back")
    assert {k: v for k, v in after.items() if k in before} == before
    r = node.mk("sh", "-c", "echo still here")
    assert r.returncode == 0 and r.stdout == "still here\n", r


def test_the_console_is_restarted(fresh_node):
    node = fresh_node
    os.kill(node.task_pid(7), signal.SIGKILL)
    restarted(node, "console")
    with node.pty("com1") as pty:
        pty.type(b"echo back\r")
        assert b"back" in pty.read_until(b"back", timeout=15)


def test_a_dead_pager_leaves_the_node_degraded(fresh_node):
    node = fresh_node
    os.kill(node.task_pid(5), signal.SIGKILL)
    r = wait_until(lambda: (lambda r: r if "degraded" in r.stdout else None)(
        node.mk("status")), 15, "mk status to say degraded")
    assert r.returncode == 1 and "degraded: pager died" in r.stdout, r
    assert node.mk("status", "--json").returncode == 1


@pytest.mark.parametrize("args,why", [
    (["--port", "0x3e8", "--irq", "2"], "cascade"),
    (["--port", "0x3e8", "--irq", "99"], "0<=x<=15"),
    (["--port", "zz", "--irq", "5"], "not a port number"),
    (["--port", "0x10000", "--irq", "5"], "outside"),
])
def test_attach_refuses_what_the_machine_cannot_take(node, args, why):
    r = node.mk("driver", "attach", "com3", *args)
    assert r.returncode == 2 and why in r.stderr and "Traceback" not in r.stderr, r
    assert "com3" not in kept(node)


@pytest.mark.parametrize("irq,ports", [(2, [[0x3e8, 8]]), (16, [[0x3e8, 8]]),
                                       (5, [[0xFFFC, 8]])])
def test_root_refuses_an_impossible_driver_from_any_operator(node, irq, ports):
    with pytest.raises(NodeError, match="IRQ|ports"):
        node.root({"op": "driver_start", "name": "odd", "class": "char",
                   "entry": "drivers.uart:main", "ports": ports, "irq": irq})
    assert "odd" not in kept(node)


def test_the_console_line_is_detached_only_with_force(node):
    r = node.mk("driver", "detach", "com1")
    assert r.returncode != 0 and "--force" in r.stderr, r
    assert kept(node)["com1"]["state"] == "running"


def test_a_dying_unix_server_gives_the_user_one_line(fresh_node):
    import subprocess
    import sys
    node = fresh_node
    sh = subprocess.Popen([sys.executable, "-m", "cli.main", "sh", "-c", "sleep 30",
                           "--node", node.name], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "MK_HOME": node.home})
    wait_until(lambda: node.process_running("sleep"), 20, "the command to run")
    os.kill(node.task_pid(18), signal.SIGKILL)
    out, err = sh.communicate(timeout=30)
    assert sh.returncode != 0 and "Traceback" not in out + err, (out, err)
    said = [ln for ln in (out + err).splitlines() if ln.strip()]
    assert len(said) == 1 and "unix" in said[0], said
    restarted(node, "unix")
