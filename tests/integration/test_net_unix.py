"""The cluster from the shell, on a real two-node cluster booted as a user would (`mk
up --nodes 2`), driven by `mk sh --node n1 -c`: /net/n2 is n2's file system (its files
seen from n2's own shell), `on n2 CMD` (the shell's builtin, and /bin/on) runs CMD
under n2's Unix server with the caller's stdio, environment and exit status, a killed
/bin/on takes its remote process with it, and so does a signal the builtin's shell
handles (^C at a terminal too), and a node that goes down gives the other's shell an
error within seconds instead of a hung shell, and takes the processes its `on`s
started elsewhere with it; both images are clean after `mk down`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from cli.node import Node
from microkernel.user.testing import wait_until
from protocols.wellknown import UNIX_TASK
from test_comm import _peer_alive
from test_console import Tmux

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def mk(home: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


def sh(home: str, node: str, script: str) -> str:
    """The output (stdout then stderr) of `script` run by node's shell."""
    r = mk(home, "sh", "--node", node, "-c", script)
    return r.stdout + r.stderr


def end(*shells: subprocess.Popen) -> None:
    for p in shells:
        p.kill()
        p.communicate()


def sh_later(home: str, node: str, script: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "sh", "--node", node, "-c",
                             script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "MK_HOME": home})


@pytest.fixture(scope="module")
def cluster(mk_home):
    r = mk(mk_home, "up", "--nodes", "2", timeout=90)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        for me, peer in (("n1", "n2"), ("n2", "n1")):
            wait_until(lambda: _peer_alive(mk_home, me, peer), 20, f"{me} to hear {peer}")
        yield mk_home
    finally:
        mk(mk_home, "down", "--all")


def test_echo_to_net_n2_then_on_n2_cat_and_ls_net(cluster):
    assert sh(cluster, "n1", "echo hello > /net/n2/tmp/x && on n2 cat /tmp/x") == "hello\n"
    assert sh(cluster, "n1", "ls /net") == "n1\nn2\n"
    assert sh(cluster, "n1", "uname -n; on n2 uname -n") == "n1\nn2\n"


def test_files_under_net_are_the_other_nodes(cluster):
    out = sh(cluster, "n1", """cd /net/n2/tmp && mkdir d && echo one > d/f && echo two >> d/f
        cat d/f; pwd
        cp /etc/motd /net/n2/tmp/d/motd && cp d/f /tmp/from2 && cat /tmp/from2
        mv d/f d/g && ls d; ls -l /net/n2/tmp/d/g; rm d/motd; ls d
        cd .. && pwd; cd /net && ls
        cat /net/n2/nope; echo rc=$?
        mv /net/n2/tmp/d/g /tmp/g; echo rc=$?
        echo x > /net/n9/tmp/x; echo rc=$?
        echo x > /net; echo rc=$?
        ls /tmp""")
    lines = out.splitlines()
    assert lines[:5] == ["one", "two", "/net/n2/tmp", "one", "two"], out
    assert lines[5:7] == ["g", "motd"], out
    assert lines[7].split()[4] == "8" and lines[7].endswith(" /net/n2/tmp/d/g"), out
    assert lines[8] == "g" and lines[9:12] == ["/net/n2", "n1", "n2"], out
    assert "cat: /net/n2/nope: No such file or directory" in out and "rc=1" in out, out
    assert "Invalid cross-device link" in out, out
    assert "/net/n9" in out and "No such file or directory" in out, out
    assert "Is a directory" in out and "d" not in lines[-3:], out
    assert sh(cluster, "n2", "cat /tmp/d/g; ls /tmp/d") == "one\ntwo\ng\n"


def test_on_runs_there_with_my_stdio_and_status(cluster):
    r = mk(cluster, "sh", "--node", "n1", "-c", """on n2 cat /etc/motd | wc -c
        echo hi | on n2 wc -c
        on n2 sh -c 'echo err >&2; exit 3'; echo rc=$?
        on n2 cat /etc/passwd | grep root | on n1 wc -l
        on n2 nope; echo rc=$?
        on n9 true; echo rc=$?""")
    assert r.stdout.split() == ["64", "3", "rc=3", "1", "rc=127", "rc=1"], r.stdout
    assert r.stderr.splitlines() == ["err", "on: n2: nope: No such file or directory",
                                     "on: n9: no such node"], r.stderr


def _ps(home: str, node: str) -> list[list[str]]:
    return [row.split() for row in sh(home, node, "ps").splitlines()[1:]]


def test_on_is_a_builtin_with_the_shells_environment(cluster):
    out = sh(cluster, "n1", """type on; X=5 on n2 sh -c 'echo x=$X'; export Y=6
        on n2 sh -c 'echo y=$Y$X'; env X=7 /bin/on n2 sh -c 'echo x=$X'; on; echo rc=$?""")
    assert out == ("on is a shell builtin\nx=5\ny=6\nx=7\nrc=2\n"
                   "usage: on NODE COMMAND [ARG...]\n"), out


def test_a_signal_the_shell_handles_reaches_its_on_s_remote_process(cluster):
    """The builtin's shell traps SIGINT: `kill -INT` of the shell ends the remote sleep
    (its status 130), and then the trap runs."""
    shell = sh_later(cluster, "n1", """echo $$ > /tmp/onshell; trap 'echo caught' INT
        on n2 sleep 30; echo rc=$?""")
    try:
        wait_until(lambda: any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 20,
                   "sleep in n2's ps")
        sh(cluster, "n1", "kill -INT $(cat /tmp/onshell)")
        wait_until(lambda: not any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 10,
                   "the remote sleep to end by SIGINT")
        assert sorted(shell.communicate(timeout=20)[0].split()) == ["caught", "rc=130"]
    finally:
        end(shell)


def test_a_killed_on_takes_its_remote_process_along(cluster):
    shell = sh_later(cluster, "n1", "/bin/on n2 sleep 30; echo rc=$?")
    try:
        wait_until(lambda: any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 20,
                   "sleep in n2's ps")
        on = next(r[0] for r in _ps(cluster, "n1") if r[-1] == "on")
        sh(cluster, "n1", f"kill {on}")
        wait_until(lambda: not any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 10,
                   "the remote sleep to be killed")
        assert shell.communicate(timeout=20)[0] == "rc=143\n"
    finally:
        end(shell)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_ctrl_c_at_the_terminal_reaches_the_remote_process(cluster):
    tmux = Tmux(f"mknet{os.getpid()}")
    cmd = f"MK_HOME={cluster} {sys.executable} -m cli.main sh --node n1; sleep 5"
    tmux("new-session", "-d", "-s", "mk", "-x", "120", "-y", "40", cmd)
    try:
        tmux.wait_for("$")
        tmux("send-keys", "-t", "mk", "on n2 sleep 100", "Enter")
        wait_until(lambda: any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 20,
                   "sleep in n2's ps")
        tmux("send-keys", "-t", "mk", "C-c")
        tmux("send-keys", "-t", "mk", "echo back $?", "Enter")
        tmux.wait_for("back 130")
        wait_until(lambda: not any(r[-1] == "sleep" for r in _ps(cluster, "n2")), 10,
                   "the remote sleep to end by SIGINT")
        tmux("send-keys", "-t", "mk", "exit", "Enter")
    finally:
        tmux("kill-server")


def test_on_finds_the_far_unix_server_again_after_its_restart(cluster):
    """n1's Unix server keeps n2's server's id; after that server dies and root starts
    a new one, the first `on n2` reaches the new one (no error for the stale id)."""
    assert sh(cluster, "n1", "on n2 true; echo rc=$?") == "rc=0\n"
    n2 = Node("n2", cluster)
    tasks = {x["task"]: x["pid"] for x in n2.control({"op": "ps"})["tasks"]}
    os.kill(tasks[UNIX_TASK], signal.SIGKILL)
    wait_until(lambda: sh(cluster, "n2", "echo up") == "up\n", 30, "n2's new Unix server")
    assert sh(cluster, "n1", "on n2 uname -n; echo rc=$?") == "n2\nrc=0\n"


def _running(home: str, node: str, name: str) -> bool:
    return any(r[-1] == name for r in _ps(home, node))


def test_a_node_going_down_fails_calls_fast_and_kills_its_remote_processes(cluster):
    on_n2 = sh_later(cluster, "n1", "on n2 sleep 99")
    waiting = sh_later(cluster, "n2", """on n1 sleep 100; echo rc=$?
        cat /net/n1/tmp/x; echo rc=$?; ls /net; echo alive""")
    try:
        wait_until(lambda: _running(cluster, "n1", "sleep") and _running(cluster, "n2", "sleep"),
                   20, "a sleep on each node")
        assert mk(cluster, "down", "--node", "n1").returncode == 0
        t0 = time.monotonic()
        out, err = waiting.communicate(timeout=30)
        assert time.monotonic() - t0 < 10, (out, err)
        wait_until(lambda: not _running(cluster, "n2", "sleep"), 10,
                   "n2's sleep, whose on went with n1, to be killed (SIGHUP)")
    finally:
        end(waiting, on_n2)
    assert out.splitlines() == ["rc=1", "rc=1", "n2", "alive"], (out, err)
    assert err.splitlines() == ["on: n1: Host is down", "cat: /net/n1/tmp/x: Host is down"]
    mk(cluster, "down", "--all")
    for node in ("n1", "n2"):
        fsck = subprocess.run(["e2fsck", "-fn", os.path.join(cluster, node, "disk.img")],
                              capture_output=True, text=True, timeout=60)
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
