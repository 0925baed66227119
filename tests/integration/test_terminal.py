"""The terminal of `mk sh` as a Unix user meets it, in a real terminal (tmux): line
editing and history with the arrow keys, ^C at the prompt and over typed-ahead lines,
a line longer than MAX_CANON cut and never split, job control (^Z, jobs, bg, fg, %N),
and leaving (^] or the terminal closing) hanging the session up."""
import os
import shutil
import sys

import pytest

from microkernel.user.testing import wait_until
from test_console import Tmux

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]


def _session(node, name: str) -> Tmux:
    """`mk sh` in a new tmux, once its prompt shows."""
    tmux = Tmux(f"{name}{os.getpid()}")
    err = os.path.join(node.home, f"{name}.err")
    cmd = (f"MK_HOME={node.home} {sys.executable} -m cli.main sh --node {node.name} "
           f"2>{err}; sleep 30")
    tmux("new-session", "-d", "-s", "mk", "-x", "150", "-y", "50", cmd)
    try:
        tmux.wait_for("$", timeout=30)
    except AssertionError as e:
        with open(err) as f:
            raise AssertionError(f"{e}\nmk sh said: {f.read()}") from None
    return tmux


def keys(tmux: Tmux, *k: str) -> None:
    tmux("send-keys", "-t", "mk", *k)


def lines(tmux: Tmux) -> list[str]:
    return [ln.rstrip() for ln in tmux.screen().splitlines()]


def test_editing_history_ctrl_c_and_a_long_line(node):
    tmux = _session(node, "mkedit")
    try:
        keys(tmux, "echo wrld", "Left", "Left", "Left", "o", "End", " x", "Enter")
        tmux.wait_for("\nworld x\n")
        keys(tmux, "Up", "Home", "Right", "Right", "Right", "Right", "BSpace", "BSpace",
             "BSpace", "BSpace", "printf '%s!\\n'", "Enter")
        tmux.wait_for("\nworld!\nx!\n")                  # recalled, edited mid-line
        assert "[A" not in tmux.screen() and "[D" not in tmux.screen()
        keys(tmux, "echo dropped", "C-c")                # ^C: a new prompt at once
        tmux.wait_for("dropped^C\n$")
        keys(tmux, "echo fresh", "Enter")
        tmux.wait_for("\nfresh\n")
        keys(tmux, "sleep 30", "Enter", "echo ahead", "Enter")  # typed ahead...
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
        keys(tmux, "C-c")                                # ...and dropped with the line
        tmux.wait_for("echo ahead\n^C\n$")             # this ^C's prompt, not the first's
        keys(tmux, "echo marker", "Enter")
        tmux.wait_for("\nmarker\n")
        assert "dropped" not in lines(tmux) and "ahead" not in lines(tmux), tmux.screen()
        keys(tmux, "cat > /tmp/long", "Enter")
        keys(tmux, "x" * 5000, "Enter", "C-d")
        keys(tmux, "wc -c < /tmp/long; echo $((1+1))", "Enter")
        tmux.wait_for("4096\n2\n")           # 4095 x and the newline: one line, not two
        assert not any("not found" in ln for ln in lines(tmux)), tmux.screen()
    finally:
        tmux("kill-server")


def test_job_control(node):
    tmux = _session(node, "mkjobs")
    try:
        keys(tmux, "sleep 50", "Enter")
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
        keys(tmux, "C-z")
        tmux.wait_for("[1]+  Stopped                 sleep 50")
        node.wait_for(lambda: not node.process_running("sleep"), what="sleep to stop")
        keys(tmux, "jobs; echo st=$?", "Enter")
        tmux.wait_for("st=0")
        keys(tmux, "bg", "Enter")
        tmux.wait_for("[1]+ sleep 50 &")
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run again")
        keys(tmux, "fg %1", "Enter")
        tmux.wait_for("\nsleep 50\n")
        keys(tmux, "C-c")                                # the job has the terminal
        keys(tmux, "echo fg=$?", "Enter")
        tmux.wait_for("fg=130")
        keys(tmux, "sleep 40", "Enter")
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
        keys(tmux, "C-z")
        tmux.wait_for("Stopped                 sleep 40")
        keys(tmux, "%1", "Enter")
        node.wait_for(lambda: node.process_running("sleep"), what="%1 to continue it")
        keys(tmux, "C-c")
        keys(tmux, "echo pct=$?; jobs", "Enter")
        tmux.wait_for("pct=130\n$")
        keys(tmux, "sleep 45", "Enter")                 # a stopped job of a shell that
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
        keys(tmux, "C-z")                                # exits gets SIGHUP, SIGCONT
        tmux.wait_for("Stopped                 sleep 45")
        keys(tmux, "exit", "Enter")
        node.wait_for(lambda: not any(p["name"] == "sleep" for p in _processes(node)),
                      what="the orphaned stopped job to end and be reaped")
    finally:
        tmux("kill-server")


def test_leaving_hangs_the_session_up(node):
    for leave in ("C-]", "close"):                      # a tmux server of its own each
        tmux = _session(node, "mkhup" + "xc"[leave == "close"])
        try:
            keys(tmux, "sleep 77 &", "Enter")
            keys(tmux, "sleep 66", "Enter")
            node.wait_for(lambda: sum(p["name"] == "sleep" for p in _processes(node)) == 2,
                          what="both sleeps to run")         # the second in the foreground
            keys(tmux, "C-z")
            tmux.wait_for("Stopped")
            if leave == "C-]":
                keys(tmux, "C-]")
            else:
                tmux("kill-server")                      # the terminal closes: SIGHUP
            node.wait_for(lambda: not {"sh", "sleep"} & _names(node), timeout=15,
                          what=f"the session's processes to get SIGHUP ({leave})")
        finally:
            tmux("kill-server")
    tmux = _session(node, "mknext")                      # the line is free: one shell
    try:
        keys(tmux, "ps", "Enter")
        tmux.wait_for("running  ps\n")
        assert sum(ln.endswith(" sh") for ln in lines(tmux)) == 1, tmux.screen()
        keys(tmux, "echo new", "Enter")
        tmux.wait_for("\nnew\n")
        keys(tmux, "Up", "Up", "Up", "Enter")           # the oldest line: its history
        node.wait_for(lambda: tmux.screen().count("running  ps") == 2, what="ps again")
        assert "sleep" not in tmux.screen()              # is the session's own

    finally:
        tmux("kill-server")


def _processes(node) -> list:
    return node.facts("unix_tasks.py", "processes")["processes"]


def _names(node) -> set:
    return {p["name"] for p in _processes(node) if p["state"] != "zombie"}


def test_mk_down_ends_an_attached_terminal(node):
    """(Last: it stops the module's node.)"""
    tmux = _session(node, "mkdown")
    try:
        keys(tmux, "sleep 100", "Enter")
        node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
        assert node.mk("down").returncode == 0
        err = os.path.join(node.home, "mkdown.err")       # mk sh's stderr
        said = wait_until(lambda: _read(err), 15, "mk sh to end with the node")
        assert said == f"Error: node {node.name!r} went down\n"
    finally:
        tmux("kill-server")


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()
