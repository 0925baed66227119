"""The kernel process: its tables, its one socket, and its event loop.

One ZeroMQ ROUTER socket carries every thread's system calls; the routing id of a
message is the thread's identity once HELLO bound it, so nothing a task writes in a
message can make it another thread. The loop blocks in `recv` on that socket, with
the machine's timer heap giving the timeout: it serves one request at a time, fires
due timers (IPC timeouts, the PIT, the RTC) and turns PIC interrupts into IPC. The
other sources (the operator's control socket, the pidfds of task processes, the
host side of devices: a pty, a NIC cable) are watched by a helper thread that reports
them on the same socket (sources.py), so the hot path waits on one descriptor.

Each request is offered first to the IPC fast path (fastpath.py), which does the
common call and reply_and_wait in one straight line or declines having done nothing.
Handlers live in syscalls.py (the table) and ipc.py; a handler refuses bad input by
raising KernelError, which becomes a fault reply; the kernel never dies of a request.
"""
from __future__ import annotations

import logging
import os
import hmac
import secrets
from typing import TYPE_CHECKING, Callable

import zmq

from hw import Machine
from hw.device import BadAccess
from microkernel.abi import (ABI_VERSION, COMM_TASK, REPLY_FAULT, CodecError, Fault,
                             Fpage, IpcCode, KernelError, Op, ResultFlag, decode_header,
                             encode_header)
from microkernel.abi.message import MAX_STRINGS
from microkernel.abi.ops import NEAREST_INNER, NEAREST_OUTER, NEAREST_SAME
from microkernel.abi.threadid import (LTHREAD_FIELD, LTHREAD_MASK, LTHREAD_SHIFT, TASK_MASK,
                                      TASK_SHIFT)

from .factory import Factory
from .fastpath import fast_path
from .irq import IrqControl
from .remote import off_site, route
from .sources import Sources
from .task import Task
from .tasks import adopt, task_exited
from .thread import Thread, ThreadState
from .vm import VM

if TYPE_CHECKING:
    from .trace import Tracer

__all__ = ["Kernel", "rearm"]

_DEAD = ThreadState.DEAD
_TASK_ID_BITS = ~LTHREAD_FIELD    # a raw id without its lthread: its task's id (lthread 0)
_REDIRECTED, _SRC_INSIDE = int(ResultFlag.REDIRECTED), int(ResultFlag.SRC_INSIDE)
# an off-site message reaches the comm task as its own chief's would: leaving the clan
_OFF_SITE = _REDIRECTED | _SRC_INSIDE
log = logging.getLogger("mk.kernel")
RCVTIMEO, SNDMORE = int(zmq.RCVTIMEO), int(zmq.SNDMORE)


def rearm(wait: int, armed: int) -> int | None:
    """The receive timeout (ms, -1 none) to arm for a deadline `wait` ms away when
    `armed` is armed, or None to keep it. It may end early (the loop comes round and
    arms again) but never late; armed at 3/4 of the wait it stays valid while the wait
    shrinks by a quarter, so a far deadline is not re-armed on every message."""
    if wait == armed or not (wait <= 0 or armed < 0 or armed > wait or 2 * armed < wait):
        return None
    return wait - (wait >> 2) if wait > 0 else wait


class Kernel:
    """All kernel state. `run()` serves until `stop()`."""

    def __init__(self, machine: Machine, rundir: str, site: int = 1,
                 kmem_bytes: int | None = None):
        self.machine = machine
        self.clock = machine.clock
        self.rundir = rundir
        self.site = site
        self.tasks: dict[int, Task] = {}
        self.versions: dict[int, int] = {}
        self.owner: dict[int, int] = {}          # inactive task number -> owning chief
        self.by_ident: dict[bytes, Thread] = {}
        self.vm = VM.for_machine(machine, kmem_bytes)
        self.irq = IrqControl(self)
        self.ok_header = encode_header([0])
        self.encode = encode_header
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 64 << 20)
        self.sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.endpoint = f"ipc://{rundir}/kernel.sock"
        self.sock.bind(self.endpoint)
        inproc = f"inproc://mk-kernel-{id(self):x}"
        self.sock.bind(inproc)
        os.chmod(f"{rundir}/kernel.sock", 0o600)
        # pyzmq's Socket.send is a Python wrapper (for routing_id and group, unused
        # here) around the compiled send; the hot path calls the compiled one
        self._snd = zmq.backend.Socket.send.__get__(self.sock)
        self.running = False
        self.tracer: "Tracer | None" = None       # mk trace (trace.py): None is off
        self.extra_sources: dict[object, Callable[[], None]] = {}
        from .syscalls import TABLE
        self.table = TABLE
        self.factory = Factory()
        self.sources = Sources(self.ctx, inproc)
        machine.on_sources_changed = self.sources_changed    # a UART pausing its pty

    # -- the loop ---------------------------------------------------------------

    def run(self) -> None:
        """Serve until `stop()`. The wait is a blocking `recv` on the kernel socket with
        the timer heap's next deadline as its timeout; the other sources arrive on the
        same socket as reports from their watcher (sources.py)."""
        self.running = True
        sock, clock, pic, factory = self.sock, self.clock, self.machine.pic, self.factory
        recv, setsockopt = sock.recv, sock.setsockopt
        now, by_ident = clock.now, self.by_ident
        plain = fast_path(self), self.dispatch
        fast, dispatch = plain
        armed = -1
        self._sources_changed = True
        while self.running:
            if self._sources_changed:
                self._sources_changed = False
                self.sources.update(self.watched())
                # tracing on or off (trace.switch) swaps the two entry points here: off,
                # the loop runs the plain ones and pays nothing for the tracer
                fast, dispatch = plain if self.tracer is None else self.tracer.wrap(*plain)
            deadline = clock.next_deadline()
            if deadline is None:
                wait = -1
            else:
                ms = (deadline - now()) * 1000
                wait = 0 if ms <= 0 else int(ms) + 1
            if wait != armed and (arm := rearm(wait, armed)) is not None:
                setsockopt(RCVTIMEO, arm)
                armed = arm
            try:
                ident = recv()
            except zmq.Again:
                ident = None
            if ident is not None:
                # a Frame tells `more` itself: cheaper than getsockopt(RCVMORE)
                header = recv(copy=False)
                raw = header.bytes
                strings = self._strings() if header.more else ()
                t = by_ident.get(ident)
                if t is None or not fast(t, raw, strings):
                    dispatch(ident, t, raw, strings)
            if deadline is not None and now() >= deadline:
                clock.run_due()
            if pic.intr:
                self.irq.service()
            if factory.exits:                   # reports a spawn() read
                self.factory_exits()

    def _strings(self) -> list:
        """The string frames after a header, uncopied; past MAX_STRINGS + 1 they are
        read and dropped (the handler refuses the request), so a flood costs no memory."""
        recv = self.sock.recv
        out = [recv(copy=False)]
        while out[-1].more:
            f = recv(copy=False)
            if len(out) <= MAX_STRINGS:
                out.append(f)
            elif not f.more:
                break
        return out

    def watched(self) -> dict:
        """Every source besides the kernel socket: the operator's port, pidfds of task
        processes, the task factory, the host side of devices (a pty, a NIC cable)."""
        out: dict = dict(self.extra_sources)
        for task in self.tasks.values():
            if task.pidfd is not None and task.watch_pidfd:
                out[task.pidfd] = (lambda tk=task: task_exited(self, tk))
        out[self.factory.fileno()] = self.factory_exits
        for src, cb in self.machine.poll_sources():
            out[src] = cb
        return out

    def factory_exits(self) -> None:
        """The task factory reported exits: clean up those tasks."""
        by_pid = {t.pid: t for t in self.tasks.values() if t.pid}
        for pid, status in self.factory.read_exits():
            task = by_pid.get(pid)
            if task is not None:
                task_exited(self, task, status)

    def sources_changed(self) -> None:
        self._sources_changed = True

    def stop(self) -> None:
        """End `run()` (safe from a signal handler: the watcher wakes the loop)."""
        self.running = False
        self.sources.wake()

    def dispatch(self, ident: bytes, t: Thread | None, header: bytes, strings) -> None:
        """One request from socket `ident` (thread `t`, None before HELLO): decode, call
        the handler, refuse bad input."""
        if t is None and ident == self.sources.ident:
            return self.sources.ready(header)
        try:
            h = decode_header(header)
            op = h[0]
            if t is None:
                if op != Op.HELLO:
                    raise KernelError(Fault.BAD_IDENTITY, "say HELLO first")
                return self.hello(ident, h)
            if t.state is not ThreadState.RUNNING:
                raise KernelError(Fault.BUSY, "the thread is already in the kernel")
            handler = self.table.get(op) if type(op) is int else None
            if handler is None:
                raise KernelError(Fault.BAD_REQUEST, f"unknown operation {op!r}")
            handler(self, t, h, strings)
        except KernelError as e:
            self.fault(ident, e.fault, e.text)
        except (CodecError, BadAccess) as e:
            self.fault(ident, Fault.BAD_REQUEST if isinstance(e, CodecError)
                       else Fault.BAD_ARGUMENT, str(e))
        except (TypeError, ValueError, IndexError, KeyError, OverflowError) as e:
            self.fault(ident, Fault.BAD_REQUEST, f"{type(e).__name__}: {e}")

    # -- replies ----------------------------------------------------------------

    def send(self, ident: bytes | None, header: bytes, frames=()) -> None:
        """Send one reply or delivery to a thread's socket (dropped if it is gone)."""
        if ident is None:
            return
        try:
            # part by part (cheaper than send_multipart): ident and header are small
            # bytes, copied; string frames are the sender's zmq.Frames, not copied
            send, more = self._snd, SNDMORE
            send(ident, more)
            if frames:
                send(header, more)
                *head, last = frames
                for f in head:
                    send(f, more, False)
                send(last, 0, False)
            else:
                send(header)
        except zmq.ZMQError:            # EHOSTUNREACH: the thread's socket is gone
            pass

    def deliver(self, ident: bytes | None, result: int, sender: int, words, items=(),
                intended: int | None = None, frames=()) -> None:
        """An IPC's receive side ends: an `abi.Delivery` (the V2 result, what was
        received, and how many string frames follow, so the receiver reads exactly
        those, asking no socket), then the frames."""
        self.send(ident, self.encode([result, sender, words, items, intended, len(frames)]),
                  frames)

    def fault(self, ident: bytes | None, fault: Fault, text: str = "") -> None:
        self.send(ident, encode_header([REPLY_FAULT, int(fault), text]))

    def ipc_error(self, t: Thread, code: int, phase_bit: int = 0) -> None:
        """End `t`'s IPC with a V2 error (phase_bit 0x10 = send phase); a page-fault
        call that fails is refused as the fault it was (the access does not retry)."""
        t.state = ThreadState.RUNNING
        t.snd = None
        if t.pf:
            t.pf = False
            self.fault(t.ident, Fault.NOT_EXISTENT, f"the pager did not answer ({code:#x})")
            return
        if code != IpcCode.NOT_EXISTENT:
            code |= phase_bit
        self.deliver(t.ident, int(code), 0, ())

    # -- HELLO ------------------------------------------------------------------

    def hello(self, ident: bytes, h: list) -> None:
        """[HELLO, version, task, lthread, secret(, pid(, host thread id))]: bind this
        socket to a thread; a pid comes from a forked process adopting an empty task,
        and the host thread's id, kept if it is a thread of the task's process, is
        what thread_schedule reads the thread's CPU time by. The secret is spent: the
        reply carries the next one, so a copy seen earlier (a spawn record, a chief's
        fork reply, a memory dump) attaches nothing."""
        _, version, task_no, lthread, secret, *rest = h
        pid, host_tid = (rest + [None, None])[:2]
        if version != ABI_VERSION:
            raise KernelError(Fault.VERSION, f"kernel speaks ABI {ABI_VERSION}")
        task = self.tasks.get(task_no) if type(task_no) is int else None
        if task is None or type(secret) is not bytes or not hmac.compare_digest(secret, task.secret):
            raise KernelError(Fault.BAD_IDENTITY, "unknown task or wrong secret")
        t = task.thread(lthread)
        if t.ident is not None or t.state is ThreadState.DEAD:
            raise KernelError(Fault.BUSY, f"lthread {lthread} is already attached")
        if task.pidfd is None:                  # a task made for a forked process
            adopt(self, task, pid)
        if type(host_tid) is int and host_tid > 0 and \
                os.path.exists(f"/proc/{task.pid}/task/{host_tid}"):
            t.host_tid = host_tid
        t.ident = ident
        self.by_ident[ident] = t
        t.state = ThreadState.RUNNING
        if self.tracer:
            self.tracer.note("thread", tid=t.tid, what="start", entry=t.entry)
        if not t.pager and t.lthread:
            t.pager = task.thread(0).pager
        sp = task.space
        task.secret = secrets.token_bytes(16)
        self.send(ident, encode_header([0, t.tid, {
            "cr3": sp.cr3, "gen": sp.gen_addr, "pager": t.pager, "mcp": task.mcp,
            "site": self.site, "mem": self.machine.memory.name, "secret": task.secret}]))

    # -- thread ids and clans ---------------------------------------------------

    def thread_of(self, tid: int) -> Thread | None:
        """The live thread with exactly this id, or None: version, site, chief and nest
        are in `task.base`, so an id of another site never names a local thread."""
        task = self.tasks.get((tid >> TASK_SHIFT) & TASK_MASK)
        if task is None or task.base != tid & _TASK_ID_BITS:
            return None
        lthread = (tid >> LTHREAD_SHIFT) & LTHREAD_MASK
        t = task.threads.get(lthread) or task.thread(lthread)
        return None if t.state is _DEAD else t

    def exists(self, tid: int) -> bool:
        return 1 <= tid <= 16 or self.thread_of(tid) is not None

    def nearest(self, s: Task, d: Task) -> tuple[int, Task]:
        """V2 id_nearest between tasks: (relation, the task a message really goes to)."""
        if d.chief is s.chief or d is s.chief or d.chief is s or d is s:
            return NEAREST_SAME, d
        a: Task | None = d
        while a is not None:
            if a.chief is s.chief or a.chief is s:
                return NEAREST_INNER, a
            a = a.chief
        return NEAREST_OUTER, s.chief if s.chief is not None else d

    def resolve(self, t: Thread, dest: int) -> tuple[Thread | None, int, int | None]:
        """Where a message from `t` to `dest` goes: (thread, flags, intended or None)."""
        if type(dest) is not int:
            raise KernelError(Fault.BAD_REQUEST, "destination must be a thread id")
        d = self.thread_of(dest)
        if d is None:       # an off-site id goes to the comm task (remote.py), redirected
            c = route(self, t, dest)
            return (None, 0, None) if c is None else (c, _OFF_SITE, dest)
        if d.task.chief is t.task.chief or (d.pf and d.rcv_from == t.tid):
            return d, 0, None                  # same clan, or a pager's fault reply
        rel, task = self.nearest(t.task, d.task)
        if rel == NEAREST_SAME:
            return d, 0, None
        flags = _REDIRECTED | (_SRC_INSIDE if rel == NEAREST_OUTER else 0)
        return task.thread(0), flags, dest

    def may_deceive(self, t: Thread, virtual: int, r: Thread) -> bool:
        """Deceit is allowed only direction-preserving: `t` is a chief above one end;
        in the name of an off-site thread, only the comm task may speak (remote.py)."""
        if type(virtual) is not int:
            raise KernelError(Fault.BAD_REQUEST, "deceit id must be a thread id")
        if off_site(self, virtual):
            return t.task.no == COMM_TASK
        v = self.thread_of(virtual)
        ends = [r.task] + ([v.task] if v is not None else [])
        return any(t.task in e.ancestors() for e in ends)

    # -- memory -----------------------------------------------------------------

    def map_items(self, s: Thread, r: Thread, items: list) -> int:
        """Carry out map/grant items from `s` into `r`'s receive window; pages moved."""
        window = r.rcv_window
        if window is None:
            raise KernelError(Fault.BAD_ARGUMENT, "the receiver has no receive window")
        moved = 0
        for fpage_word, snd_base, grant in items:
            fp = Fpage.decode(fpage_word)
            if type(snd_base) is not int or not 0 <= snd_base < 1 << 32:
                raise KernelError(Fault.BAD_ARGUMENT, "snd_base outside the address space")
            moved += self.vm.transfer(s.task.space, fp, snd_base, bool(grant),
                                      r.task.space, window)
        if self.tracer:
            self.tracer.note("map", tid=s.tid, to=r.tid, pages=moved,
                             grant=any(g for _, _, g in items))
        return moved

    def after_io(self) -> None:
        """A port access may have made a device raise its line: serve it now."""
        if self.machine.pic.intr:
            self.irq.service()

    def close(self) -> None:
        self.sources.close()
        self.sock.close(0)
        self.factory.close()
