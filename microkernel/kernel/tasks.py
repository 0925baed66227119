"""Task lifecycle: create (task_new), delete with its clan, clean up after death.

Creation makes an address space and lthread 0 with its pager, and starts the task's
host process. Deletion and death share one path (`destroy`): the process is killed,
every IPC partner blocked on one of its threads gets NOT_EXISTENT, its IRQs are
released, its clan goes with it (V2: deleting a chief deletes its clan), its address
space and every mapping derived from it are flushed, and the task number returns,
inactive, to the chief, which is told by a notice it receives with an open wait.
The version of a task number changes on every creation, so stale ids go NOT_EXISTENT.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from microkernel.abi import COMM_TASK, Fault, IpcCode, KernelError
from microkernel.abi.ops import EXIT_DELETED, TASK_EXIT_NOTICE
from microkernel.abi.threadid import LTHREAD_FIELD, MAX_TASKS, VERSION_MASK

from .ipc import OPEN, abort_ipc, deliver_pending
from .remote import off_site
from .task import Task, close_pidfd, kill_process, spawn_process
from .thread import ThreadState
from .trace import brief

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["create_task", "destroy", "task_exited", "may_create", "FORKED", "adopt"]

FORKED = "fork:"       # task_new entry: no process yet; a forked one will say HELLO

log = logging.getLogger("mk.kernel")
_TASK_ID_BITS = ~LTHREAD_FIELD    # a raw id without its lthread: its task's id (lthread 0)


def may_create(k: "Kernel", caller: Task | None, no: int) -> bool:
    """V2: the task number is inactive and owned by the caller, or the caller is a
    chief above the task that now holds it."""
    if not 0 < no < MAX_TASKS:
        return False
    if caller is None:
        return True
    active = k.tasks.get(no)
    if active is not None:
        return caller in active.ancestors()
    return k.owner.get(no) == caller.no


def create_task(k: "Kernel", chief: Task | None, no: int, entry: str, pager: int,
                mcp: int, args: list, version: int | None = None) -> Task:
    """Make task `no` active: space, lthread 0 with `pager`, host process. Its version
    is the next one unless the chief asks for `version` (docs/kernel.md, "Tasks")."""
    if no in k.tasks:
        destroy(k, k.tasks[no], status=None)
    if version is None:
        version = (k.versions.get(no, 0) + 1) & VERSION_MASK
    k.versions[no] = version
    space = k.vm.new_space(no)
    task = Task(no, version, chief, mcp if chief is None else min(mcp, chief.mcp),
                space, k.site)
    k.tasks[no] = task
    k.owner.pop(no, None)
    t0 = task.thread(0)
    t0.pager, t0.entry, t0.state = pager, entry, ThreadState.RUNNING
    task.entry = entry
    if k.tracer:
        k.tracer.note("task", id=task.base, no=no, what="new", entry=entry,
                      chief=chief.no if chief else None, args=brief(args))
    if entry == FORKED:
        log.info("task %d v%d made for a forked process", no, version)
        return task
    record = {"kernel": k.endpoint, "task": no, "tid": task.tid(0), "secret": task.secret,
              "mem": k.machine.memory.name, "entry": entry, "args": args,
              "rundir": k.rundir}
    try:
        spawn_process(task, record, os.path.join(k.rundir, "logs", f"task-{no}.log"),
                      k.factory)
    except OSError as e:
        destroy(k, task, status=None)
        raise KernelError(Fault.NO_MEMORY, f"cannot start a host process: {e}") from None
    k.sources_changed()
    log.info("task %d v%d started: %s (pid %s)", no, version, entry, task.pid)
    return task


def destroy(k: "Kernel", task: Task, status: int | None) -> None:
    """Remove `task`, its clan and all their state; tell its chief (see module doc)."""
    for member in list(task.clan):
        destroy(k, member, status=None)
    kill_process(task)
    k.tasks.pop(task.no, None)
    for t in task.threads.values():
        t.cancel_timer()
        if t.irq is not None:
            k.irq.detach(t)
        if t.ident is not None:
            k.by_ident.pop(t.ident, None)
        t.state = ThreadState.DEAD
        t.senders.clear()                 # those senders fail in _fail_partners
    k.irq.ended(task)
    _fail_partners(k, task)
    k.vm.delete_space(task.space)
    if task.chief is not None:
        task.chief.clan.discard(task)
        k.owner[task.no] = task.chief.no
        for no in [n for n, owner in k.owner.items() if owner == task.no]:
            k.owner[no] = task.chief.no        # its numbers (its clan's too) go up a level
        _notify(k, task.chief, task.tid(0), status)
    k.sources_changed()
    if k.tracer:
        k.tracer.note("task", id=task.base, no=task.no, what="end", status=status)
    log.info("task %d ended (status %s)", task.no, status)


def _fail_partners(k: "Kernel", dead: Task) -> None:
    """Threads receiving from (or queued at) the dead task get NOT_EXISTENT; when the
    comm task dies, so do those receiving from an off-site thread: it spoke for them.
    A partner is this task only by its whole task id (an off-site id or an old version
    with the same task number is another task's)."""
    comm = dead.no == COMM_TASK
    for task in k.tasks.values():
        for t in task.threads.values():
            p = t.partner
            if t.blocked and p and (p & _TASK_ID_BITS == dead.base or comm and off_site(k, p)):
                abort_ipc(k, t, IpcCode.NOT_EXISTENT)


def _notify(k: "Kernel", chief: Task, dead_tid: int, status: int | None) -> None:
    """Queue a death notice for the chief's lthread 0; deliver if it waits openly."""
    if chief.no not in k.tasks:
        return
    t0 = chief.thread(0)
    word = EXIT_DELETED if status is None else status & 0xFFFFFFFF
    t0.pending.append((dead_tid, [TASK_EXIT_NOTICE, word]))
    if t0.state is ThreadState.RECEIVING and t0.rcv_mode == OPEN and not t0.pf:
        deliver_pending(k, t0)


def adopt(k: "Kernel", task: Task, pid) -> None:
    """A forked process proved it is `task` (HELLO with the secret): watch it."""
    if task.pidfd is not None:
        return
    if type(pid) is not int or pid <= 1:
        raise KernelError(Fault.BAD_ARGUMENT, f"pid {pid!r}")
    try:
        task.pidfd = os.pidfd_open(pid)
    except OSError as e:
        raise KernelError(Fault.NOT_EXISTENT, f"no process {pid}: {e}") from None
    task.pid = pid
    task.watch_pidfd = True
    k.sources_changed()


def task_exited(k: "Kernel", task: Task, status: int | None = None) -> None:
    """The task's host process ended (the factory said so, or its pidfd showed it)."""
    close_pidfd(task)
    task.exit_status = status
    if k.tasks.get(task.no) is task:
        destroy(k, task, status)
