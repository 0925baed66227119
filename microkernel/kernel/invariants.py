"""The kernel's self-check: every table invariant, read without changing anything.

`check(kernel)` returns the invariants that do not hold, as sentences (an empty list:
the tables are consistent). The operator's control port serves it (`{"op": "check"}`),
so a test can hammer a node and then ask whether the kernel's state still adds up:

  * threads: every `by_ident` entry is a started thread of a live task under that key,
    and every thread with a socket is in `by_ident`; ids match their task and lthread;
    no thread of a live task is DEAD;
  * IPC: a SENDING thread holds its message and sits exactly once in the senders queue
    of a live partner; a queue holds only SENDING threads aimed at its owner; a blocked
    thread with a finite timeout has a live timer, and a thread that is not blocked has
    none (a stale timer would end a later IPC early); a thread waits for an off-site
    partner only while a comm task lives that can answer in that partner's name;
  * interrupts: each line's owner is a live thread that says it owns that line, and a
    line nobody owns is masked with nothing pending;
  * memory: the mapping database's own `check()`; every PTE of a live space matches a
    node of the database and the other way round; I/O bitmaps match the port nodes;
    only live spaces hold nodes;
  * clans: a task's chief is live and has the task in its clan, and every clan member
    names that chief; no task number is both active and owned by a chief;
  * kernel memory: frames used + free = total, and the used frames are exactly the live
    spaces' directories and page tables plus the generation-word frames.

`counts(kernel)` gives the sizes a test compares before and after (open fds, tasks,
threads, mappings, timers) to see leaks.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from microkernel.abi import ThreadId

from .remote import off_site, route
from .thread import ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["check", "counts"]

_MAX_REPORTS = 50
_CASCADE = 2
_NPORTS = 0x10000


def _thread(k: "Kernel", tid) -> "Thread | None":
    """Like `Kernel.thread_of`, but never creates a TCB (the check changes nothing)."""
    if type(tid) is not int:
        return None
    tid = ThreadId(tid)
    task = k.tasks.get(tid.task)
    if task is None or task.tid(0) != tid.task_id():
        return None
    return task.threads.get(tid.lthread)


def _live_threads(k: "Kernel"):
    for task in k.tasks.values():
        yield from task.threads.values()


def check(k: "Kernel", seconds: dict | None = None) -> list[str]:
    """Every violated invariant of `k`'s tables (empty: consistent). With `seconds`,
    the time each part took is put there (the mapping database can be large)."""
    out: list[str] = []
    for part in (_tasks, _threads, _ipc, _irqs, _mapdb, _memory, _kernel_frames):
        t0 = time.perf_counter()
        try:
            part(k, out)
        except Exception as e:               # a check that crashes is a finding too
            out.append(f"{part.__name__}: the check itself failed: {type(e).__name__}: {e}")
        if seconds is not None:
            seconds[part.__name__.lstrip("_")] = round(time.perf_counter() - t0, 4)
        if len(out) >= _MAX_REPORTS:
            out[_MAX_REPORTS:] = []
            out.append("... more")
            break
    return out


def counts(k: "Kernel") -> dict:
    """Sizes to compare before and after a workload (leaks show up here)."""
    threads = list(_live_threads(k))
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = -1
    pool = k.vm.pool
    heap = getattr(k.clock, "_heap", ())
    return {
        "fds": fds,
        "tasks": len(k.tasks),
        "threads": len(threads),
        "live_threads": sum(t.state is not ThreadState.INACTIVE for t in threads),
        "blocked_threads": sum(t.blocked for t in threads),
        "by_ident": len(k.by_ident),
        "pidfds": sum(task.pidfd is not None for task in k.tasks.values()),
        "mappings": len(k.vm.db),
        "kernel_frames": pool.used,
        "timers": sum(not e[-1].cancelled for e in heap),      # live ones
        "timer_heap": len(heap),                                 # live and dead
        "irq_owners": sum(o is not None for o in k.irq.owner),
    }


# -- the parts ----------------------------------------------------------------------------

def _tasks(k: "Kernel", out: list[str]) -> None:
    for no, task in k.tasks.items():
        if task.no != no:
            out.append(f"task table entry {no} holds {task!r}")
        chief = task.chief
        if chief is not None:
            if k.tasks.get(chief.no) is not chief:
                out.append(f"{task!r} has chief {chief!r}, which is not a live task")
            elif task not in chief.clan:
                out.append(f"{task!r} is missing from the clan of its chief {chief!r}")
        for member in task.clan:
            if member.chief is not task:
                out.append(f"{member!r} is in the clan of {task!r} but names "
                           f"{member.chief!r} as chief")
            if k.tasks.get(member.no) is not member:
                out.append(f"{member!r} in the clan of {task!r} is not a live task")
        if no in k.owner:
            out.append(f"task number {no} is active and also owned by task {k.owner[no]}")


def _threads(k: "Kernel", out: list[str]) -> None:
    for ident, t in k.by_ident.items():
        task = t.task
        if k.tasks.get(task.no) is not task:
            out.append(f"by_ident entry {ident.hex()} is {t!r} of a dead task")
        elif task.threads.get(t.lthread) is not t:
            out.append(f"by_ident entry {ident.hex()} is {t!r}, not its task's TCB")
        if t.ident != ident:
            out.append(f"by_ident entry {ident.hex()} is {t!r} whose socket is "
                       f"{t.ident.hex() if t.ident else None}")
        if t.state is ThreadState.DEAD or t.state is ThreadState.INACTIVE:
            out.append(f"by_ident entry {ident.hex()} is {t!r}, which is {t.state.value}")
    for task in k.tasks.values():
        for lt, t in task.threads.items():
            if t.task is not task or t.lthread != lt or t.tid != task.tid(lt):
                out.append(f"TCB {lt} of {task!r} is {t!r} with id {t.tid:#x}")
            if t.state is ThreadState.DEAD:
                out.append(f"{t!r} is dead in a live task")
            if t.ident is not None and k.by_ident.get(t.ident) is not t:
                out.append(f"{t!r} has a socket but is not in by_ident under it")


def _ipc(k: "Kernel", out: list[str]) -> None:
    queued: dict[int, int] = {}           # id(thread) -> times seen in a senders queue
    for owner in _live_threads(k):
        seen = set()
        for s in owner.senders:
            queued[id(s)] = queued.get(id(s), 0) + 1
            if id(s) in seen:
                out.append(f"{s!r} is twice in the senders queue of {owner!r}")
            seen.add(id(s))
            if s.state is not ThreadState.SENDING:
                out.append(f"{s!r} waits in the queue of {owner!r} but is {s.state.value}")
            if s.partner != owner.tid:
                out.append(f"{s!r} waits in the queue of {owner!r} but sends to "
                           f"{s.partner:#x}")
            if k.tasks.get(s.task.no) is not s.task:
                out.append(f"{s!r} of a dead task waits in the queue of {owner!r}")
    for t in _live_threads(k):
        timer = t.timer
        if t.state is ThreadState.SENDING:
            p = _thread(k, t.partner)
            if p is None or p.state is ThreadState.DEAD:
                out.append(f"{t!r} sends to {t.partner:#x}, which is not a live thread")
            elif t not in p.senders:
                out.append(f"{t!r} sends to {p!r} but is not in its senders queue")
            elif queued.get(id(t), 0) != 1:
                out.append(f"{t!r} is in {queued[id(t)]} senders queues")
            if t.snd is None:
                out.append(f"{t!r} is SENDING without a message")
        elif queued.get(id(t)):
            out.append(f"{t!r} is {t.state.value} but waits in a senders queue")
        if t.blocked:
            if timer is not None and timer.cancelled:
                out.append(f"{t!r} is {t.state.value} with a cancelled timer")
            if (t.state is ThreadState.RECEIVING and t.rcv_timeout is not None
                    and timer is None):
                out.append(f"{t!r} receives with timeout {t.rcv_timeout} but has no timer")
        elif timer is not None and not timer.cancelled:
            out.append(f"{t!r} is {t.state.value} with a live timer (a stale timeout)")
        if not t.blocked and t.pf:
            out.append(f"{t!r} is {t.state.value} but still marked as in a page fault")
        if (t.state is ThreadState.RECEIVING and t.partner
                and off_site(k, t.partner) and route(k, t, t.partner) is None):
            out.append(f"{t!r} waits for off-site {ThreadId(t.partner)!r}, for which no "
                       "comm task speaks")


def _irqs(k: "Kernel", out: list[str]) -> None:
    irq = k.irq
    for n, owner in enumerate(irq.owner):
        if owner is None:
            if n != _CASCADE and not irq.imr & (1 << n):
                out.append(f"IRQ {n} has no owner but is unmasked")
            if irq.pending[n]:
                out.append(f"IRQ {n} has no owner but {irq.pending[n]} pending")
            continue
        if k.tasks.get(owner.task.no) is not owner.task or owner.state is ThreadState.DEAD:
            out.append(f"IRQ {n} is owned by {owner!r}, which is not live")
        if owner.irq != n:
            out.append(f"IRQ {n} is owned by {owner!r}, whose irq is {owner.irq}")
    for t in _live_threads(k):
        if t.irq is not None and (not 0 <= t.irq < 16 or irq.owner[t.irq] is not t):
            out.append(f"{t!r} says it owns IRQ {t.irq}, the line says otherwise")


def _mapdb(k: "Kernel", out: list[str]) -> None:
    try:
        k.vm.db.check()
    except AssertionError as e:
        out.append(str(e))


def _memory(k: "Kernel", out: list[str]) -> None:
    vm, db = k.vm, k.vm.db
    live = {id(task.space): task.space for task in k.tasks.values()}
    for space in db.spaces():
        if id(space) not in live:
            out.append(f"the mapping database holds nodes of dead {space!r}")
    kernel_ports = getattr(vm, "_kernel_ports", frozenset())
    for task in k.tasks.values():
        space = task.space
        if space.destroyed:
            out.append(f"{task!r} has a destroyed address space")
            continue
        ptes = space.mappings()
        nodes = db.nodes(space)
        for node in nodes:
            pte = ptes.pop(node.addr, None)
            if pte is None:
                out.append(f"{node!r} has no PTE")
            elif pte != (node.key, node.writable):
                out.append(f"{node!r} but the PTE says frame {pte[0]:#x} "
                           f"{'rw' if pte[1] else 'ro'}")
        for vaddr, (frame, w) in sorted(ptes.items())[:5]:
            out.append(f"{task!r} maps {vaddr:#x} -> {frame:#x} without a mapping node")
        allowed = _allowed_ports(space.io.bits)
        if space is vm.sigma0:
            expected = {p for p in range(_NPORTS) if p not in kernel_ports and (
                db.root(p, io=True) is None or db.lookup(space, p, io=True) is not None)}
        else:
            expected = {n.addr for n in db.nodes(space, io=True)}
        if allowed != expected:
            extra, missing = sorted(allowed - expected), sorted(expected - allowed)
            out.append(f"{task!r} I/O bitmap allows {len(extra)} ports it holds no node "
                       f"for (first {extra[:4]}) and denies {len(missing)} it holds "
                       f"(first {missing[:4]})")


def _allowed_ports(bits) -> set[int]:
    out = set()
    for i, b in enumerate(bits):
        if b != 0xFF:
            out.update(i * 8 + j for j in range(8) if not b >> j & 1)
    return out


def _kernel_frames(k: "Kernel", out: list[str]) -> None:
    pool = k.vm.pool
    if pool.used + pool.available != pool.total:
        out.append(f"kernel frames: {pool.used} used + {pool.available} free "
                   f"!= {pool.total}")
    spaces = [task.space for task in k.tasks.values()]
    expected = sum(1 + sp.table_count for sp in spaces) + len(pool.generations.frames)
    if pool.used != expected:
        out.append(f"kernel frames: {pool.used} used, but the live spaces and the "
                   f"generation table account for {expected} (a leak or a double use)")
    if len(pool.generations) != len(spaces):
        out.append(f"{len(pool.generations)} generation words taken for "
                   f"{len(spaces)} live spaces")
