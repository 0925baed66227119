"""The kernel's remote-IPC rules that need no running node (microkernel/kernel/remote.py):
which ids are off-site, where they lead, who speaks in their name, and which messages
are error notices."""
from types import SimpleNamespace

import pytest
from hypothesis import given, strategies as st

from microkernel.abi import (COMM_TASK, INVALID, IpcCode, KernelError, Phase, ThreadId,
                             irq_id, result_byte)
from microkernel.abi.ops import REMOTE_ERROR
from microkernel.kernel.remote import error_notice, off_site, route, speaks_for
from microkernel.kernel.task import Task
from microkernel.kernel.thread import ThreadState

SITE = 3


def kernel(*tasks: Task):
    return SimpleNamespace(site=SITE, tasks={t.no: t for t in tasks})


def task(no: int, chief: Task | None = None) -> Task:
    t = Task(no, 1, chief, 255, space=None, site=SITE)
    t.thread(0).state = ThreadState.RUNNING
    return t


@given(task=st.integers(0, 2047), lthread=st.integers(0, 127), version=st.integers(0, 16383),
       site=st.integers(0, (1 << 17) - 1), chief=st.integers(0, 2047), nest=st.integers(0, 15))
def test_an_id_is_off_site_exactly_when_its_site_is_another_nodes(task, lthread, version,
                                                                 site, chief, nest):
    tid = ThreadId.make(task, lthread, version, site, chief, nest)
    assert off_site(kernel(), tid) == (site not in (0, SITE) and tid != INVALID)


def test_nil_interrupts_invalid_and_junk_are_not_off_site():
    k = kernel()
    for tid in (0, int(irq_id(0)), int(irq_id(15)), int(INVALID), -1, -(1 << 40), 1 << 64,
                ThreadId.make(9, 0, 1, 0), ThreadId.make(9, 0, 1, SITE)):
        assert not off_site(k, tid), hex(tid)
    assert off_site(k, ThreadId.make(9, 0, 1, SITE + 1))


def test_an_off_site_id_leads_to_the_comm_tasks_lthread_0_for_everyone_but_the_comm_task():
    root = task(4)
    comm, other = task(COMM_TASK, root), task(64, root)
    far = ThreadId.make(64, 1, 1, SITE + 1, 4, 1)
    assert route(kernel(root, other), other.thread(0), far) is None       # no comm task
    k = kernel(root, comm, other)
    assert route(k, other.thread(1), far) is comm.thread(0)
    assert route(k, other.thread(0), other.tid(1)) is None                # local: not off-site
    assert route(k, comm.thread(2), far) is None                          # not to itself
    comm.thread(0).state = ThreadState.DEAD
    assert route(k, other.thread(0), far) is None


def test_only_the_comm_task_speaks_for_off_site_ids():
    root = task(4)
    comm, other = task(COMM_TASK, root), task(64, root)
    k = kernel(root, comm, other)
    far = int(ThreadId.make(70, 0, 1, SITE + 1))          # raw, as off the wire
    assert speaks_for(k, comm.thread(0), far) and speaks_for(k, comm.thread(5), far)
    assert not speaks_for(k, other.thread(0), far)
    assert not speaks_for(k, comm.thread(0), other.tid(0))                # local: V2's rule
    assert not speaks_for(k, comm.thread(0), "far")


@pytest.mark.parametrize("code", [c for c in IpcCode if c != IpcCode.OK])
@pytest.mark.parametrize("phase", list(Phase))
def test_every_v2_error_is_a_notice_result(code, phase):
    result = result_byte(code, phase)
    assert error_notice([REMOTE_ERROR, result], [], []) == result


def test_only_the_exact_shape_is_a_notice_and_its_result_must_be_an_error():
    for words, items, frames in (([REMOTE_ERROR], [], []), ([REMOTE_ERROR, 0x10, 0], [], []),
                                 ([0x10, REMOTE_ERROR], [], []), ([REMOTE_ERROR + 1, 0x10], [], []),
                                 ([REMOTE_ERROR, 0x10], [[0, 0, 0]], []),
                                 ([REMOTE_ERROR, 0x10], [], [b"x"])):
        assert error_notice(words, items, frames) is None, words
    for bad in (0, 0x01, 0x14, 0x1F, 0x100, 0xFFFF_FFFF):
        with pytest.raises(KernelError) as e:
            error_notice([REMOTE_ERROR, bad], [], [])
        assert e.value.fault.name == "BAD_ARGUMENT"


def test_a_sender_of_another_site_is_not_my_chief_clan_or_root():
    from protocols.interface import Who, admitted
    me = ThreadId.make(16, 0, 1, SITE, chief=4, nest=1)
    for rule, sender in ((Who.ROOT, ThreadId.make(4, 0, 1, SITE + 1)),
                         (Who.CHIEF, ThreadId.make(4, 0, 1, SITE + 1)),
                         (Who.CLAN, ThreadId.make(1024, 0, 1, SITE + 1, chief=16, nest=2))):
        assert not admitted(rule.value, sender, me.task, me.site, 4), rule
