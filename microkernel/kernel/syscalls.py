"""The system-call table: one handler per `Op`, each `handler(kernel, thread, header, frames)`.

Handlers check their arguments and raise KernelError to refuse; replies go out through
`k.send`. IPC lives in ipc.py; the rest of the seven V2 calls are here, with the CPU
operations that must reach the machine (page-fault trap, port I/O, thread exit).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from microkernel.abi import (SIGMA0_TASK, USER_TOP, Fault, Fpage, IpcCode, KernelError, Op,
                             ThreadId)
from microkernel.abi.ops import NEAREST_OUTER, PF_PRESENT, PF_WRITE
from microkernel.abi.threadid import INVALID_RAW, VERSION_MASK

from . import ipc
from .remote import route
from .tasks import FORKED, create_task, destroy, may_create
from .thread import ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel
    from .thread import Thread

__all__ = ["TABLE"]


def _int(v, lo: int, hi: int, what: str) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise KernelError(Fault.BAD_ARGUMENT, f"{what} {v!r} outside {lo}..{hi}")
    return v


def sys_id_nearest(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[ID_NEAREST, dest] -> [0, relation, nearest id]; nil dest = myself; an off-site
    dest: the comm task, outer."""
    dest = h[1]
    if dest == 0:
        k.send(t.ident, k.encode([0, 0, t.tid]))
        return
    if dest == INVALID_RAW:                  # invalid: "my chief" (Fiasco, Jochen-compatible)
        chief = t.task.chief
        k.send(t.ident, k.encode([0, NEAREST_OUTER, chief.tid(0) if chief else 0]))
        return
    d = k.thread_of(_int(dest, 0, INVALID_RAW, "thread id"))
    if d is None:
        comm = route(k, t, dest)           # an off-site id: the comm task, as the chief
        if comm is None:                   # a message to it leaves the clan by (remote.py)
            raise KernelError(Fault.NOT_EXISTENT, f"{ThreadId(dest)!r} does not exist")
        k.send(t.ident, k.encode([0, NEAREST_OUTER, comm.tid]))
        return
    rel, task = k.nearest(t.task, d.task)
    k.send(t.ident, k.encode([0, rel, d.tid if task is d.task else task.tid(0)]))


def sys_fpage_unmap(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[FPAGE_UNMAP, fpage, flush, own]: revoke what was derived from the caller's pages."""
    _, word, flush, own = h
    done = k.vm.unmap(t.task.space, Fpage.decode(word), _flag(flush), _flag(own))
    if k.tracer:
        k.tracer.note("flush", tid=t.tid, mappings=done, flush=bool(flush), own=bool(own))
    k.send(t.ident, k.ok_header)


def sys_thread_switch(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[THREAD_SWITCH, dest|None]: give up the processor (the host schedules)."""
    if h[1] is not None:
        _int(h[1], 0, INVALID_RAW, "thread id")
    k.send(t.ident, k.ok_header)


def sys_thread_schedule(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[THREAD_SCHEDULE, dest, prio|None, timeslice|None] -> old values and state."""
    _, dest, prio, slice_ = h
    d = k.thread_of(_int(dest, 1, INVALID_RAW, "thread id"))
    if d is None:
        raise KernelError(Fault.NOT_EXISTENT, f"{ThreadId(dest)!r} does not exist")
    mcp = t.task.mcp
    if d.prio > mcp or (prio is not None and _int(prio, 0, 255, "priority") > mcp):
        raise KernelError(Fault.NO_PERMISSION, f"priority above the caller's MCP {mcp}")
    if slice_ is not None and (type(slice_) not in (int, float) or not 0 < slice_ <= 10):
        raise KernelError(Fault.BAD_ARGUMENT, f"time slice {slice_!r}")
    old = [0, d.prio, d.timeslice, d.state.value, d.partner, d.cpu()]
    if prio is not None:
        d.prio = prio
    if slice_ is not None:
        d.timeslice = float(slice_)
    k.send(t.ident, k.encode(old))


def sys_lthread_ex_regs(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[LTHREAD_EX_REGS, lthread, entry|None, pager|None]: start or reset a thread of
    the own task; an IPC it is in is cancelled."""
    _, lthread, entry, pager = h
    x = t.task.thread(_int(lthread, 0, 127, "lthread"))
    if entry is not None and type(entry) is not str:
        raise KernelError(Fault.BAD_ARGUMENT, "entry must be a name")
    old = [0, x.entry, x.pager, x.state.value]
    if x.blocked:
        ipc.abort_ipc(k, x, IpcCode.CANCELED)
        for task in k.tasks.values():               # partners waiting for its reply
            for y in task.threads.values():
                if y.state is ThreadState.RECEIVING and y.partner == x.tid and not y.pf:
                    ipc.abort_ipc(k, y, IpcCode.CANCELED)
    if pager is not None:
        x.pager = _int(pager, 0, INVALID_RAW, "pager")
    elif not x.pager:
        x.pager = t.task.thread(0).pager
    if entry is not None:
        x.entry = entry
        if x.state is ThreadState.INACTIVE:
            x.state = ThreadState.RUNNING     # its host thread says HELLO next
    k.send(t.ident, k.encode(old))


def sys_task_new(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[TASK_NEW, task_no, entry, pager|None, mcp, args, new_chief|None(, version)]
    -> [0, id]. A version (1..VERSION_MASK) asks for the new task's id to carry it."""
    _, no, entry, pager, mcp, args, new_chief, *version = h
    no = _int(no, 1, 2047, "task number")
    if len(version) > 1:
        raise KernelError(Fault.BAD_REQUEST, "task_new takes at most one version")
    version = _int(version[0], 1, VERSION_MASK, "version") if version and version[0] else None
    if not may_create(k, t.task, no):
        raise KernelError(Fault.NO_PERMISSION, f"task {no} is not the caller's to create")
    if pager is None:                                      # inactive: hand it on
        if no in k.tasks:
            destroy(k, k.tasks[no], status=None)
        chief = _int(new_chief, 0, 2047, "new chief")
        k.owner[no] = chief
        k.send(t.ident, k.encode([0, 0]))
        return
    if type(entry) is not str or type(args) is not list:
        raise KernelError(Fault.BAD_ARGUMENT, "entry must be a string, args a list")
    _int(pager, 1, INVALID_RAW, "pager")
    task = create_task(k, t.task, no, entry, pager, _int(mcp, 0, 255, "mcp"), args, version)
    if entry == FORKED:                       # the chief hands the secret to the fork
        k.send(t.ident, k.encode([0, task.tid(0), task.secret]))
    else:
        k.send(t.ident, k.encode([0, task.tid(0)]))


def sys_page_fault(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[PAGE_FAULT, addr, write, present]: the CPU trapped; call the pager (V2 §5)."""
    _, addr, write, present = h
    addr = _int(addr, 0, 0xFFFFFFFF, "address")
    if addr >= USER_TOP:        # the kernel area: no pager maps there (the 486's U/S bit)
        raise KernelError(Fault.BAD_ARGUMENT, f"address {addr:#x} is in the kernel area")
    write, present = _flag(write), _flag(present)
    if t.task.no == SIGMA0_TASK:            # sigma0's faults: idempotent mapping
        k.vm.sigma0_identity(t.task.space, addr, bool(write))
        k.send(t.ident, k.ok_header)
        return
    if not t.pager or k.thread_of(t.pager) is None:
        raise KernelError(Fault.NOT_EXISTENT, "the thread's pager does not exist")
    ipc.page_fault_call(k, t, (addr & ~(PF_WRITE | PF_PRESENT)) | (PF_WRITE if write else 0)
                        | (PF_PRESENT if present else 0))


def _flag(v) -> bool:
    if v not in (0, 1):                       # False, True, 0, 1 only
        raise KernelError(Fault.BAD_REQUEST, f"flag {v!r} is not a boolean")
    return bool(v)


def _io_check(t: "Thread", port, size: int) -> int:
    if type(port) is not int or not 0 <= port <= 0x10000 - size:
        raise KernelError(Fault.BAD_ARGUMENT, f"port {port!r}")
    if not t.task.space.io.allowed(port, size):
        raise KernelError(Fault.NO_PERMISSION, f"port {port:#x} is not in the I/O bitmap")
    return port


def sys_port_in(k: "Kernel", t: "Thread", h: list, frames) -> None:
    _, port, size = h
    if size not in (1, 2, 4):
        raise KernelError(Fault.BAD_ARGUMENT, f"access width {size!r}")
    value = k.machine.ports.read(_io_check(t, port, size), size)
    k.send(t.ident, k.encode([0, value]))
    k.after_io()


def sys_port_out(k: "Kernel", t: "Thread", h: list, frames) -> None:
    _, port, size, value = h
    if size not in (1, 2, 4):
        raise KernelError(Fault.BAD_ARGUMENT, f"access width {size!r}")
    k.machine.ports.write(_io_check(t, port, size), size, _int(value, 0, (1 << 8 * size) - 1, "value"))
    k.send(t.ident, k.ok_header)
    k.after_io()


def sys_port_ins(k: "Kernel", t: "Thread", h: list, frames) -> None:
    _, port, count = h
    data = k.machine.ports.insw(_io_check(t, port, 2), _int(count, 0, 0x10000, "count"))
    k.send(t.ident, k.ok_header, [data])
    k.after_io()


def sys_port_outs(k: "Kernel", t: "Thread", h: list, frames) -> None:
    if len(frames) != 1:
        raise KernelError(Fault.BAD_REQUEST, "outsw takes one data frame")
    k.machine.ports.outsw(_io_check(t, h[1], 2), frames[0].bytes)
    k.send(t.ident, k.ok_header)
    k.after_io()


MAX_BATCH = 16
_WIDTH = {"inb": 1, "inw": 2, "inl": 4, "outb": 1, "outw": 2, "outl": 4, "insw": 2, "outsw": 2}


def sys_port_batch(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[PORT_BATCH, [[op, port, arg], ...]] + one data frame per "outsw": run the port
    instructions in order -> [0, [results]] + one data frame per "insw". Every port is
    checked before any instruction runs, so a refused batch touches no device."""
    ops = h[1]
    if type(ops) is not list or not 0 < len(ops) <= MAX_BATCH:
        raise KernelError(Fault.BAD_REQUEST, f"a batch is 1..{MAX_BATCH} instructions")
    data = iter(frames)
    plan = []
    for op in ops:
        if type(op) is not list or len(op) != 3 or type(op[0]) is not str:
            raise KernelError(Fault.BAD_REQUEST, "an instruction is [op, port, arg]")
        name, port, arg = op
        width = _WIDTH.get(name)
        if width is None:
            raise KernelError(Fault.BAD_REQUEST, f"unknown port instruction {name!r}")
        _io_check(t, port, width)
        if name == "outsw":
            arg = next(data, None)
            if arg is None:
                raise KernelError(Fault.BAD_REQUEST, "outsw needs its data frame")
            arg = arg.bytes
        elif name == "insw":
            _int(arg, 0, 0x10000, "count")
        elif name.startswith("out"):
            _int(arg, 0, (1 << 8 * width) - 1, "value")
        plan.append((name, port, width, arg))
    ports, results, out = k.machine.ports, [], []
    for name, port, width, arg in plan:
        if name == "insw":
            out.append(ports.insw(port, arg))
            results.append(None)
        elif name == "outsw":
            ports.outsw(port, arg)
            results.append(None)
        elif name.startswith("in"):
            results.append(ports.read(port, width))
        else:
            ports.write(port, width, arg)
            results.append(None)
    k.send(t.ident, k.encode([0, results]), out)
    k.after_io()


def sys_exit(k: "Kernel", t: "Thread", h: list, frames) -> None:
    """[EXIT]: the thread's host code returned; it becomes inactive (restartable)."""
    if t.ident is not None:
        k.by_ident.pop(t.ident, None)
    t.ident = None
    t.state = ThreadState.INACTIVE
    if k.tracer:
        k.tracer.note("thread", tid=t.tid, what="exit")


TABLE: dict[int, Callable] = {
    Op.IPC: ipc.sys_ipc,               # after the loop's fast path (fastpath.py)
    Op.ID_NEAREST: sys_id_nearest,
    Op.FPAGE_UNMAP: sys_fpage_unmap,
    Op.THREAD_SWITCH: sys_thread_switch,
    Op.THREAD_SCHEDULE: sys_thread_schedule,
    Op.LTHREAD_EX_REGS: sys_lthread_ex_regs,
    Op.TASK_NEW: sys_task_new,
    Op.PAGE_FAULT: sys_page_fault,
    Op.PORT_IN: sys_port_in,
    Op.PORT_OUT: sys_port_out,
    Op.PORT_INS: sys_port_ins,
    Op.PORT_OUTS: sys_port_outs,
    Op.PORT_BATCH: sys_port_batch,
    Op.EXIT: sys_exit,
}
