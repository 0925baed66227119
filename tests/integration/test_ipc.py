"""IPC between real threads through a real kernel: rendezvous, strings, timeouts,
error codes and phases, cancellation, priority order, and unforgeable senders."""
import re

import pytest

pytestmark = pytest.mark.timeout(120)


def test_rpc_words_strings_and_cut(node):
    status, out = node.run("ipc_tasks.py", "rpc")
    assert status == 0, out
    assert "words [42, 0] sender_ok True" in out
    assert "strings b'cba' 512 fffe" in out
    assert "big 65536 True" in out
    assert "cut MSG_CUT receive" in out


def test_error_codes_and_phases(node):
    status, out = node.run("ipc_tasks.py", "errors")
    assert status == 0, out
    assert "sleep TIMEOUT receive True" in out
    assert "poll-send TIMEOUT send" in out
    assert "timed-send TIMEOUT send" in out
    assert "ghost NOT_EXISTENT send" in out
    assert "ghost-rcv NOT_EXISTENT" in out
    assert "bad-op BAD_REQUEST" in out
    assert "bad-word BAD_REQUEST" in out


def test_fast_path_refuses_what_the_general_path_refuses(node):
    status, out = node.run("ipc_tasks.py", "fastpath_refusals")
    assert status == 0, out
    assert "first [1]" in out
    for name in ("rmode-bool", "window-false", "items-map", "tword-float", "rfrom-str",
                 "word-float", "limits-str"):
        assert f"{name} BAD_REQUEST" in out, out
    assert "after [2] got [[7], [9]]" in out


def test_lthread_ex_regs_cancels_ipc(node):
    status, out = node.run("ipc_tasks.py", "cancel")
    assert status == 0, out
    assert "cancelled [('CANCELED', 'receive')] old-state receiving" in out


def test_thread_schedule_reports_the_cpu_a_thread_used(node):
    status, out = node.run("ipc_tasks.py", "thread_cpu", "0.3")
    assert status == 0, out
    spun, idle, own = map(float, re.search(r"spinner ([\d.]+) idle ([\d.]+) own ([\d.]+)",
                                           out).groups())
    assert 0.25 <= spun <= 5, out             # its own 0.3 s of CPU (tick-granular)
    assert idle < spun and abs(idle - own) <= 0.05, out


def test_waiting_senders_served_by_priority(node):
    status, out = node.run("ipc_tasks.py", "priority")
    assert status == 0, out
    assert "order [2, 3, 1]" in out


def test_deceit_outside_a_chief_is_a_plain_send(node):
    status, out = node.run("ipc_tasks.py", "deceit")
    assert status == 0, out
    assert "seen-as-self True deceited False" in out
