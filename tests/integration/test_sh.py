"""`mk sh` as a new user meets it: `mk sh -c` prints and exits with the status, and an
interactive shell in a real terminal (tmux) on a serial line: ^C ends `sleep 100` and the
shell goes on; two sessions at once; files survive `mk down` / `mk up`."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from test_console import Tmux

pytestmark = pytest.mark.timeout(180)


def test_sh_c_prints_and_returns_status(node):
    r = node.mk("sh", "-c", "mkdir -p /tmp/d && echo hello > /tmp/d/f && cat /tmp/d/f | wc -c")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "6"
    r = node.mk("sh", "-c", "ls /bin")
    for prog in ("sh", "ls", "cat", "echo", "grep", "wc", "ps", "kill", "sleep", "uname"):
        assert prog in r.stdout.split()
    assert node.mk("sh", "-c", "false").returncode == 1
    assert node.mk("sh", "-c", "exit 7").returncode == 7


def test_files_survive_down_and_up(fresh_node):
    node = fresh_node
    assert node.mk("sh", "-c", "echo kept > /home/note && sync").returncode == 0
    node.down()
    node.up()
    r = node.mk("sh", "-c", "cat /home/note")
    assert r.stdout.strip() == "kept"
    node.down()
    fsck = subprocess.run(["e2fsck", "-fn", node.path("disk.img")], capture_output=True,
                          text=True, timeout=60)
    assert fsck.returncode == 0, fsck.stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_interactive_shell_and_ctrl_c(node):
    tmux = Tmux(f"mksh{os.getpid()}")
    cmd = f"MK_HOME={node.home} {sys.executable} -m cli.main sh --node {node.name}; sleep 5"
    tmux("new-session", "-d", "-s", "mk", "-x", "120", "-y", "40", cmd)
    other = None
    try:
        tmux.wait_for("$")
        tmux("send-keys", "-t", "mk", "echo one two | wc -w", "Enter")
        tmux.wait_for("\n2")
        tmux("send-keys", "-t", "mk", "sleep 100", "Enter")
        node.wait_for(lambda: node.process_running("sleep"),
                      what="sleep to run (its SIGINT no longer ignored, as the shell's is)")
        t0 = time.monotonic()
        tmux("send-keys", "-t", "mk", "C-c")
        tmux("send-keys", "-t", "mk", "echo back $?", "Enter")
        tmux.wait_for("back 130")
        assert time.monotonic() - t0 < 30
        # a second session at the same time, on another line
        other = Tmux(f"mksh2{os.getpid()}")
        other("new-session", "-d", "-s", "mk", "-x", "120", "-y", "40", cmd)
        other.wait_for("$")
        other("send-keys", "-t", "mk", "uname", "Enter")
        other.wait_for("mk")
        other("send-keys", "-t", "mk", "exit 3", "Enter")
        tmux("send-keys", "-t", "mk", "exit", "Enter")
        node.wait_for(lambda: "mk:" not in tmux("list-sessions"), timeout=20,
                      what="the shell to exit, and its session with it")
    finally:
        tmux("kill-server")
        if other is not None:
            other("kill-server")
