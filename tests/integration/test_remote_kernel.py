"""The kernel's part of remote IPC (docs/kernel.md, "Remote IPC"): IPC to a thread id of
another site goes to the comm task, redirected, with the id it was aimed at; the comm
task alone speaks in an off-site thread's name (deceit), past any chief, and can end a
local thread's wait for an off-site partner with a V2 error; with no comm task an
off-site id is no one's. A test task plays the comm task (tasks/remote_tasks.py:comm),
started by root at COMM_TASK with the operator's driver_start and `task`.
An off-site id here is an id of the node's site + 1; facts report ids as raw ints."""
import os

import pytest

from cli.node import NodeError
from microkernel.abi import COMM_TASK, ResultFlag, ThreadId
from microkernel.abi.ops import NEAREST_OUTER, TASK_EXIT_NOTICE
from microkernel.user.testing import facts

pytestmark = pytest.mark.timeout(120)

TASKS = "remote_tasks.py"
COMM_ENTRY = os.path.join(os.path.dirname(__file__), "tasks", TASKS) + ":comm"
OFF_SITE = int(ResultFlag.REDIRECTED | ResultFlag.SRC_INSIDE)


def comm_facts(node) -> dict:
    return facts(node.output(COMM_TASK))


@pytest.fixture(scope="module", autouse=True)
def without_the_comm_server(node):
    """These tests play the comm task themselves: the node's own is stopped."""
    node.root({"op": "driver_stop", "name": "comm"})


@pytest.fixture
def comm(node):
    """The test's comm task, kept by root at COMM_TASK; its id."""
    reply = node.root({"op": "driver_start", "name": "testcomm", "class": "server",
                       "entry": COMM_ENTRY, "task": COMM_TASK})
    assert "driver" in reply, reply
    tid = node.wait_for(lambda: comm_facts(node).get("comm_id"), what="the comm task")
    yield ThreadId(tid)
    try:
        node.root({"op": "driver_stop", "name": "testcomm"})
    except NodeError:                   # the test stopped it itself
        pass


def test_with_no_comm_task_an_off_site_id_is_no_ones(node):
    got = node.facts(TASKS, "no_comm")
    assert got["call"] == ["NOT_EXISTENT", "SEND"], got
    assert got["send"] == ["NOT_EXISTENT", "SEND"], got
    assert got["receive"][0] == "NOT_EXISTENT", got
    assert got["nearest"] == "NOT_EXISTENT", got


def test_the_operator_starts_a_kept_server_only_at_a_free_number_root_owns(node):
    refused = {2: "not root's", 4: "not root's", 5: "not root's", 40: "not root's",
               64: "not root's", 1024: "not root's", 0: "not root's",
               6: "taken by 'names'", 17: "taken by 'tty'"}
    for task, why in refused.items():
        with pytest.raises(NodeError, match=f"task {task} is {why}"):
            node.root({"op": "driver_start", "name": f"t{task}", "class": "server",
                       "entry": COMM_ENTRY, "task": task})
    with pytest.raises(NodeError, match="task has the wrong type"):
        node.root({"op": "driver_start", "name": "x", "entry": COMM_ENTRY, "task": "8"})
    kept = {d["name"] for d in node.root({"op": "drivers"})["drivers"]}
    assert not kept & ({f"t{task}" for task in refused} | {"x"}), kept


def test_a_call_to_an_off_site_id_reaches_the_comm_task_and_its_reply_is_that_ids(node, comm):
    got = node.facts(TASKS, "call")
    far, me = got["far"], got["me"]
    assert ThreadId(far).site == ThreadId(me).site + 1
    # the comm task got it redirected, as from inside, aimed at the off-site id...
    assert got["comm_saw"] == {"flags": OFF_SITE, "intended": far, "sender": me}, got
    # ...and the caller got the reply as from that id (deceited), words intact
    assert got["reply_sender"] == far and got["reply_deceited"], got
    assert not got["reply_redirected"] and got["reply_words"] == [7, 8], got
    assert (got["nearest_relation"], got["nearest_task"], got["nearest_lthread"]) == \
        (NEAREST_OUTER, COMM_TASK, 0), got
    # the local thread whose id it is but for the site got nothing
    assert got["lthread1"] == ["TIMEOUT", "RECEIVE"], got
    assert comm_facts(node)["echo"] == "ok"


def test_a_send_to_an_off_site_id_and_deceit_in_off_site_names(node, comm):
    got = node.facts(TASKS, "send_and_deceit")
    far, me = got["far"], got["me"]
    # a one-way send reached the comm task, which passed it on in the id's name to an
    # open wait
    assert got["pushed"]["sender"] == far and got["pushed"]["deceited"], got
    assert got["pushed_saw"] == {"flags": OFF_SITE, "intended": far, "sender": me}, got
    # the comm task may not speak as a local thread outside its clan: a plain send
    assert got["local_deceit"]["sender"] == int(comm) and \
        not got["local_deceit"]["deceited"], got
    # nor may a local task speak as an off-site one
    assert got["mine"] == {"sender": me, "words": [9], "deceited": False}, got
    assert comm_facts(node)["push_0"] == "ok" and comm_facts(node)["push_1"] == "ok"


def test_a_closed_receive_from_an_off_site_id_takes_only_that_ids_message(node, comm):
    got = node.facts(TASKS, "closed_receive")
    assert got["still"] == "receiving", got
    assert got["received"] == {"sender": got["far"], "deceited": True}, got
    assert comm_facts(node)["push_0"] == "ok"          # the last one; the first timed out


def test_the_comm_task_ends_a_waiting_caller_with_the_error_it_names(node, comm):
    got = node.facts(TASKS, "failures")
    assert got["gone"] == ["NOT_EXISTENT", "SEND"], got       # as a dead task's caller
    assert got["send_timeout"] == ["TIMEOUT", "SEND"], got
    assert got["aborted"] == ["ABORTED", "RECEIVE"], got
    assert got["after_probe"], got
    c = comm_facts(node)
    assert c["fail"] == "ok", c
    assert c["probe_bad_result"] == "BAD_ARGUMENT", c         # not an IPC error byte
    assert c["probe_no_waiter"] == ["TIMEOUT", "SEND"], c     # dropped, never queued
    assert c["probe_send_off_site"] == ["NOT_EXISTENT", "SEND"], c   # not to itself
    assert c["probe_nearest"] == "NOT_EXISTENT", c


def test_an_error_notice_from_another_task_is_a_plain_message(node, comm):
    got = node.facts(TASKS, "notice_from_a_stranger")
    assert got["stranger_notice"] == ["TIMEOUT", "SEND"], got   # not from far: not taken
    assert got["receiver"] == ["TIMEOUT", "RECEIVE"], got       # its own timeout


def test_a_caller_of_an_off_site_id_does_not_outlive_the_comm_task(node, comm):
    started = node.start(TASKS, "hold")
    node.wait_for(lambda: "holding" in comm_facts(node), what="the comm task to hold")
    node.root({"op": "driver_stop", "name": "testcomm"})
    assert node.wait(started["task"]) == 0
    got = facts(node.output(started["task"]))
    assert got["held"] == ["NOT_EXISTENT", "SEND"], got
    assert node.control({"op": "check"}, timeout=60)["violations"] == []


def test_an_off_site_id_is_not_the_local_task_of_its_number(node, comm):
    got = node.facts(TASKS, "alias")
    assert ThreadId(got["far"]).task == ThreadId(got["child"]).task
    assert got["after_delete"] == "receiving" and got["got_then"] == [], got
    assert got["received"] == got["far"], got


def test_off_site_ipc_of_a_nested_clan_passes_no_chief(node, comm):
    got = node.facts(TASKS, "nested")
    assert got["nested_sender"] == got["nested_far"], got
    assert got["nested_saw"]["sender"] == got["nested_me"], got
    assert got["parent_got"] == {"sender": got["child"], "words": [TASK_EXIT_NOTICE, 0],
                                 "redirected": False}, got
