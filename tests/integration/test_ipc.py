"""IPC between real threads through a real kernel: rendezvous, strings, timeouts,
error codes and phases, cancellation, priority order, and unforgeable senders. The
tasks (tasks/ipc_tasks.py) report facts; an IPC error is reported as [code, phase], a
refused request as its fault."""
import pytest

pytestmark = pytest.mark.timeout(120)


def test_rpc_words_strings_and_cut(node):
    got = node.facts("ipc_tasks.py", "rpc")
    assert got["words"] == [42, 0] and got["sender"] == got["server"], got
    assert got["strings"] == ["cba", 512, "fffe"], got     # reversed, whole
    assert got["big_len"] == 65536 and got["big_reversed"], got
    assert got["cut"] == ["MSG_CUT", "RECEIVE"], got


def test_error_codes_and_phases(node):
    got = node.facts("ipc_tasks.py", "errors")
    assert got["sleep"] == ["TIMEOUT", "RECEIVE"] and got["slept"] >= 0.045, got
    assert got["poll_send"] == ["TIMEOUT", "SEND"], got
    assert got["timed_send"] == ["TIMEOUT", "SEND"], got
    assert got["ghost_call"] == ["NOT_EXISTENT", "SEND"], got
    assert got["ghost_receive"][0] == "NOT_EXISTENT", got   # 0x10 in either phase
    assert got["bad_op"] == "BAD_REQUEST" and got["bad_word"] == "BAD_REQUEST", got


def test_fast_path_refuses_what_the_general_path_refuses(node):
    got = node.facts("ipc_tasks.py", "fastpath_refusals")
    assert got["first"] == [1], got
    assert got["refused"] == dict.fromkeys(
        ("rmode-bool", "window-false", "items-map", "tword-float", "rfrom-str",
         "word-float", "limits-str"), "BAD_REQUEST"), got
    assert got["after"] == [2] and got["server_got"] == [[7], [9]], got


def test_lthread_ex_regs_cancels_ipc(node):
    got = node.facts("ipc_tasks.py", "cancel")
    assert got["cancelled"] == [["CANCELED", "RECEIVE"]], got
    assert got["old_state"] == "receiving", got


def test_thread_schedule_reports_the_cpu_a_thread_used(node):
    got = node.facts("ipc_tasks.py", "thread_cpu", "0.3")
    assert 0.25 <= got["spinner"] <= 5, got        # its own 0.3 s of CPU (tick-granular)
    assert got["idle"] < got["spinner"], got
    assert abs(got["idle"] - got["own"]) <= 0.05, got


def test_waiting_senders_served_by_priority(node):
    got = node.facts("ipc_tasks.py", "priority")
    assert got["order"] == [2, 3, 1], got


def test_deceit_outside_a_chief_is_a_plain_send(node):
    got = node.facts("ipc_tasks.py", "deceit")
    assert got["sender"] == got["me"] and got["deceited"] is False, got
