"""`mk sh -c` as a host citizen, through real host pipes: the host's stdin reaches the
command, stdout and stderr stay apart, bytes are exact, output comes as it is written,
^C to `mk sh` is SIGINT to the command (status 130, nothing left running), and `mk down`
ends an attached `mk sh -c` at once with one line."""
import os
import signal
import subprocess
import sys

import pytest

from microkernel.user.testing import wait_until

pytestmark = pytest.mark.timeout(120)


def _mk_sh(node, command: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "sh", "--node", node.name,
                             "-c", command], env={**os.environ, "MK_HOME": node.home}, **kw)


def _run(node, command: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    p = _mk_sh(node, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE)
    out, err = p.communicate(stdin, timeout=60)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def test_stdin_stdout_stderr_and_exact_bytes(node, tmp_path):
    lines = tmp_path / "lines"
    lines.write_text("".join(f"line {i}\n" for i in range(1000)))
    with open(lines, "rb") as f:                 # `mk sh -c 'wc -l' < file`
        r = subprocess.run([sys.executable, "-m", "cli.main", "sh", "--node", node.name,
                            "-c", "wc -l"], stdin=f, capture_output=True, timeout=60,
                           env={**os.environ, "MK_HOME": node.home})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [b"1000"]
    every = bytes(range(256))
    r = _run(node, "cat", every)
    assert r.stdout == every and r.stderr == b""           # 256 in, 256 out
    r = _run(node, "echo to-out; echo to-err >&2; cat /no/such; exit 4")
    assert r.returncode == 4
    assert r.stdout == b"to-out\n"
    assert r.stderr.splitlines() == [b"to-err", b"cat: /no/such: No such file or directory"]


def test_output_streams_as_it_comes(node):
    p = _mk_sh(node, "echo first; sleep 20; echo second", stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert p.stdout.readline() == b"first\n"
        assert p.poll() is None, "the first line came only at the end"
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)


def test_ctrl_c_is_sigint_to_the_command(node):
    p = _mk_sh(node, "echo ready; sleep 100; echo after", stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout.readline() == b"ready\n"
    node.wait_for(lambda: node.process_running("sleep"), what="sleep to run")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert out == b"" and b"Abort" not in err and b"Traceback" not in err
    node.wait_for(lambda: not node.process_running("sleep"), timeout=10,
                  what="the command to be gone from the node")


def test_mk_down_ends_an_attached_session_at_once(node):
    p = _mk_sh(node, "echo ready; sleep 100", stdout=subprocess.PIPE,
               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout.readline() == b"ready\n"
    down = node.mk("down")
    assert down.returncode == 0, down.stderr
    wait_until(lambda: p.poll() is not None, 10, "mk sh -c to end with the node")
    err = p.communicate()[1].decode()
    assert p.returncode != 0
    assert err.strip().splitlines() == [f"Error: node {node.name!r} went down"], err
