"""The task runtime `rt`: the seven V2 system calls, memory through the MMU, port I/O.

Every task entry point is `main(rt, *args)`. Each host thread that acts as an L4 thread
owns one ZeroMQ DEALER socket to the kernel, bound to its thread id by HELLO with the
task's one-time secret; `rt` finds the calling host thread's socket in a thread-local,
the way a CPU's registers belong to whichever thread runs. A system call is one request
and one reply on that socket; blocking (a receive, a send to a busy partner) is the
kernel not replying yet.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable

import msgpack
import zmq

from microkernel.abi import (ABI_VERSION, INVALID, NEVER, NIL, SIGMA0_TASK, REPLY_FAULT,
                             Delivery, Fault, Fpage, GrantItem, IpcError, KernelError,
                             MapItem, Msg, Op, RcvMode, ResultFlag, StringLimits, ThreadId,
                             split_result)
from microkernel.abi import timeouts as _timeouts
from microkernel.abi.errors import ERROR_BITS, FLAG_BITS

from .vmem import VirtualMemory

__all__ = ["Runtime", "preconnect"]

_pack = msgpack.Packer(use_bin_type=True, autoreset=True).pack
_PAGE_FAULT = int(Op.PAGE_FAULT)
_unpackb = msgpack.unpackb
_encode_timeouts = _timeouts.encode
_IPC = int(Op.IPC)
_RCVMORE, _SNDMORE = int(zmq.RCVMORE), int(zmq.SNDMORE)
_send = zmq.backend.Socket.send      # the compiled send, without pyzmq's Python wrapper
OPEN, CLOSED = int(RcvMode.OPEN), int(RcvMode.CLOSED)
_FLAGS = tuple(ResultFlag(i) for i in range(FLAG_BITS + 1))   # the flags' values, made once
_DELIVERY = len(Delivery._fields)      # a delivery's length; a send alone gets [result]
# Strings this large go out without a copy. pyzmq frees a zero-copy frame through a
# helper thread, two thread wakeups per send; under 256 KiB the copy costs less (a
# 64 KiB RPC ran 0.91-0.96x the zero-copy time with copies, a 1 MiB one 1.14x).
ZERO_COPY_FROM = 1 << 18


def _unpack_tuples(data: bytes):
    """A delivery's header with arrays as tuples (a Msg's words are a tuple)."""
    return _unpackb(data, use_list=False)


_ready: dict[str, zmq.Socket] = {}     # endpoint -> a socket connected before the record


def preconnect(endpoint: str) -> None:
    """Open and connect lthread 0's socket to the kernel at `endpoint` before this
    process knows which task it will be (the factory's spare process): the task's
    first HELLO then goes out on it at once."""
    _ready[endpoint] = _socket(zmq.Context.instance(), endpoint)


def _socket(ctx, endpoint: str) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, os.urandom(16))
    sock.connect(endpoint)
    return sock


class _Cpu(threading.local):
    sock: zmq.Socket | None = None
    tid: ThreadId = NIL


class Runtime:
    """What a task's code calls. One per task process; safe to use from its L4 threads."""

    def __init__(self, record: dict):
        self.record = record
        self.endpoint = record["kernel"]
        self.task_no = record["task"]
        self.rundir = record.get("rundir", "")
        self._secret = record.pop("secret")      # used once: each HELLO brings the next
        self._hello = threading.Lock()
        self._ctx = zmq.Context.instance()
        self._cpu = _Cpu()
        self._threads: dict[int, threading.Thread] = {}
        info = self._attach(0)
        self.site = info["site"]
        self.mcp = info["mcp"]
        self.pager = ThreadId(info["pager"])
        self.mem = VirtualMemory(self, info["mem"], info["cr3"], info["gen"])

    # -- the thread's socket --------------------------------------------------------

    def _attach(self, lthread: int, pid: int | None = None) -> dict:
        """Open this host thread's socket (or take the one made ready) and say HELLO
        as `lthread`."""
        sock = _ready.pop(self.endpoint, None) if lthread == 0 and pid is None else None
        self._cpu.sock = sock or _socket(self._ctx, self.endpoint)
        # the host thread's id lets the kernel read this thread's CPU time
        with self._hello:       # one HELLO at a time: each spends the secret it shows
            reply = self._syscall([Op.HELLO, ABI_VERSION, self.task_no, lthread,
                                   self._secret, pid, threading.get_native_id()])
            self._secret = reply[2].pop("secret")
        self._cpu.tid = ThreadId(reply[1])
        return reply[2]

    def _detach(self) -> None:
        sock = self._cpu.sock
        if sock is not None:
            sock.send(_pack([Op.EXIT]))
            sock.close(linger=100)
            self._cpu.sock = None

    def _request(self, header: list, frames: tuple = (), unpack=_unpackb):
        """Send one request; (socket, the reply's header). A refusal raises KernelError."""
        sock = self._cpu.sock
        if sock is None:
            raise KernelError(Fault.BAD_IDENTITY, "this host thread is not an L4 thread")
        if frames:                      # frame by frame, flags as ints: no enum arithmetic
            copy = sum(map(len, frames)) < ZERO_COPY_FROM
            _send(sock, _pack(header), _SNDMORE)
            *head, last = frames
            for f in head:
                _send(sock, f, _SNDMORE, copy)
            _send(sock, last, 0, copy)
        else:
            _send(sock, _pack(header))
        reply = unpack(sock.recv())
        if reply[0] == REPLY_FAULT:
            raise KernelError(Fault(reply[1]), reply[2])
        return sock, reply

    def _syscall(self, header: list, frames: tuple = ()) -> list:
        """One request, one reply; byte strings that follow are appended as a list."""
        sock, reply = self._request(header, frames)
        if sock.getsockopt(_RCVMORE):
            strings = []
            while sock.getsockopt(_RCVMORE):
                strings.append(sock.recv())
            reply.append(strings)
        return reply

    # -- ipc ------------------------------------------------------------------------

    def ipc(self, dest: int | None, msg: Msg | None, snd_timeout=NEVER, rcv: int = 0,
            src: int = 0, rcv_timeout=NEVER, window: Fpage | None = None,
            limits: StringLimits | None = None, deceit: int | None = None) -> Msg | None:
        """The one V2 ipc call: optional send to `dest`, optional receive (rcv 1 closed
        from `src`, 2 open). Returns the received Msg, or None without a receive."""
        if dest is not None:
            words, items, strings = msg.words, msg.items, msg.strings
            if items:
                items = [[it.fpage.encode(), it.snd_base, it.grant] for it in items]
        else:
            words, items, strings = (), (), ()
        # an IpcRequest, in its order (tuples pack as msgpack arrays)
        header = [_IPC, dest, words, items, _encode_timeouts(snd_timeout, rcv_timeout),
                  rcv, src, window.encode() if window is not None else 0,
                  None if limits is None else [limits.count, limits.size], deceit]
        sock, reply = self._request(header, strings, _unpack_tuples)
        if len(reply) == _DELIVERY:
            result, sender, words, items, intended, nstrings = reply
            if nstrings:                       # exactly the frames it says follow
                recv = sock.recv
                strings = (recv(),) if nstrings == 1 else tuple(recv() for _ in range(nstrings))
            else:
                strings = ()
        else:                                  # a send phase alone (rcv 0): [result]
            result = reply[0]
        if result & ERROR_BITS:
            c, phase = split_result(result)
            raise IpcError(c, phase)
        if not rcv:
            return None
        if items:
            items = tuple((GrantItem if g else MapItem)(Fpage.decode(f), b)
                          for f, b, g in items)
        return Msg(words, strings, items, ThreadId(sender), _FLAGS[result & FLAG_BITS],
                   None if intended is None else ThreadId(intended))

    def call(self, dest: int, msg: Msg, timeout=NEVER, window: Fpage | None = None,
             limits: StringLimits | None = None) -> Msg:
        """Send to `dest`, then receive its reply (closed): the RPC."""
        return self.ipc(dest, msg, timeout, CLOSED, dest, timeout, window, limits)

    def send(self, dest: int, msg: Msg, timeout=NEVER, deceit: int | None = None) -> None:
        self.ipc(dest, msg, timeout, deceit=deceit)

    def receive(self, src: int, timeout=NEVER, window: Fpage | None = None,
                limits: StringLimits | None = None) -> Msg:
        """Closed receive: only from `src` (a thread, or `irq_id(n)`)."""
        return self.ipc(None, None, rcv=CLOSED, src=src, rcv_timeout=timeout,
                        window=window, limits=limits)

    def wait(self, timeout=NEVER, window: Fpage | None = None,
             limits: StringLimits | None = None) -> Msg:
        """Open receive: from any thread, interrupt, or kernel notice."""
        return self.ipc(None, None, rcv=OPEN, rcv_timeout=timeout, window=window, limits=limits)

    def reply_and_wait(self, dest: int, msg: Msg, timeout=NEVER, window: Fpage | None = None,
                       limits: StringLimits | None = None) -> Msg:
        """The server loop's step: reply with send timeout 0, then wait openly."""
        return self.ipc(dest, msg, 0, OPEN, 0, timeout, window, limits)

    def sleep(self, seconds: float) -> None:
        """V2 sleep: a receive from nil with a timeout."""
        try:
            self.ipc(None, None, rcv=CLOSED, src=0, rcv_timeout=seconds)
        except IpcError:
            pass

    # -- the other six system calls --------------------------------------------------

    def myself(self) -> ThreadId:
        return self._cpu.tid

    def chief(self) -> ThreadId:
        """This task's chief (id_nearest of the invalid id); nil for boot tasks."""
        return self.id_nearest(INVALID)[1]

    @property
    def sigma0(self) -> ThreadId:
        """sigma0's id: task 2, created once at boot (version 1), of this site."""
        return ThreadId.make(SIGMA0_TASK, 0, 1, self.site)

    def id_nearest(self, dest: int) -> tuple[int, ThreadId]:
        reply = self._syscall([Op.ID_NEAREST, int(dest)])
        return reply[1], ThreadId(reply[2])

    def alive(self, tid: int) -> bool:
        """Does thread (or task) `tid` exist? (id_nearest answers for it.)"""
        try:
            self.id_nearest(tid)
            return True
        except KernelError:
            return False

    def fpage_unmap(self, fpage: Fpage, flush: bool = True, own: bool = False) -> None:
        self._syscall([Op.FPAGE_UNMAP, fpage.encode(), flush, own])

    def thread_switch(self, dest: int | None = None) -> None:
        self._syscall([Op.THREAD_SWITCH, dest])

    def thread_schedule(self, dest: int, prio: int | None = None,
                        timeslice: float | None = None) -> dict:
        r = self._syscall([Op.THREAD_SCHEDULE, int(dest), prio, timeslice])
        return {"prio": r[1], "timeslice": r[2], "state": r[3],
                "partner": ThreadId(r[4]), "cpu": r[5]}

    def lthread_ex_regs(self, lthread: int, entry: Callable[..., Any] | None,
                        esp: Any = None, pager: int | None = None, args: tuple = ()) -> dict:
        """Start lthread `lthread` of this task running `entry(rt, *args)` in a new host
        thread (or, with entry None, just cancel its IPC / change its pager)."""
        name = getattr(entry, "__qualname__", None) if entry is not None else None
        r = self._syscall([Op.LTHREAD_EX_REGS, lthread, name, pager])
        old = {"entry": r[1], "pager": ThreadId(r[2]), "state": r[3]}
        if entry is not None and r[3] == "inactive":
            ready = threading.Event()
            th = threading.Thread(target=self._thread_main, args=(lthread, entry, args, ready),
                                  name=f"lthread-{lthread}", daemon=True)
            self._threads[lthread] = th
            th.start()
            ready.wait(10)
        return old

    def _thread_main(self, lthread: int, entry, args, ready: threading.Event) -> None:
        try:
            self._attach(lthread)
        finally:
            ready.set()
        try:
            entry(self, *args)
        finally:
            self._detach()

    def task_new(self, task_no: int, entry: str, pager: int | None, mcp: int = 255,
                 args: tuple | list = (), new_chief: int | None = None,
                 version: int | None = None) -> ThreadId:
        """Create task `task_no` running `entry` ("module:func" or "file.py:func");
        pager None makes it inactive and hands the number to `new_chief`. `version`
        asks for the new id's version (else the kernel takes the next one)."""
        r = self._syscall([Op.TASK_NEW, task_no, entry, pager, mcp, list(args), new_chief,
                           version])
        return ThreadId(r[1])

    def task_new_forked(self, task_no: int, pager: int, mcp: int = 255) -> tuple[ThreadId, bytes]:
        """Create task `task_no` with no process: returns its id and the secret a
        process forked from this one passes to `after_fork` to become it."""
        r = self._syscall([Op.TASK_NEW, task_no, "fork:", pager, mcp, [], None])
        return ThreadId(r[1]), r[2]

    def after_fork(self, tid: int, secret: bytes) -> None:
        """In a process just forked from this task's: become lthread 0 of task `tid`.
        The parent's sockets are left alone (a forked child must not touch them)."""
        self._pre_fork = (self._cpu, self._threads, self.mem)
        self._ctx = zmq.Context.instance()          # pyzmq gives a fork its own context
        self._cpu = _Cpu()
        self._threads = {}
        self.task_no = ThreadId(tid).task
        self._secret = secret
        self._hello = threading.Lock()              # the parent's may be held: fresh
        info = self._attach(0, pid=os.getpid())
        self.pager = ThreadId(info["pager"])
        self.mcp = info["mcp"]
        self.mem = VirtualMemory(self, info["mem"], info["cr3"], info["gen"])

    # -- port I/O (checked by the kernel against the task's I/O bitmap) ---------------

    def inb(self, port: int) -> int: return self._syscall([Op.PORT_IN, port, 1])[1]
    def inw(self, port: int) -> int: return self._syscall([Op.PORT_IN, port, 2])[1]
    def inl(self, port: int) -> int: return self._syscall([Op.PORT_IN, port, 4])[1]
    def outb(self, port: int, v: int) -> None: self._syscall([Op.PORT_OUT, port, 1, v])
    def outw(self, port: int, v: int) -> None: self._syscall([Op.PORT_OUT, port, 2, v])
    def outl(self, port: int, v: int) -> None: self._syscall([Op.PORT_OUT, port, 4, v])

    def insw(self, port: int, count: int) -> bytes:
        return self._syscall([Op.PORT_INS, port, count])[1][0]

    def outsw(self, port: int, data: bytes) -> None:
        self._syscall([Op.PORT_OUTS, port], (bytes(data),))

    def port_batch(self, *ops: tuple) -> list:
        """Run up to 16 port instructions in one trap: ("inb", port), ("outw", port, v),
        ("insw", port, count), ("outsw", port, data)... Returns one result per
        instruction: the value read, the bytes of an insw, None for an output."""
        header, frames = [], []
        for op in ops:
            name, port, *arg = op
            if name == "outsw":
                frames.append(bytes(arg[0]))
                header.append([name, port, 0])
            else:
                header.append([name, port, arg[0] if arg else 0])
        reply = self._syscall([Op.PORT_BATCH, header], tuple(frames))
        data = iter(reply[2] if len(reply) > 2 else ())
        return [next(data) if op[0] == "insw" else v for op, v in zip(ops, reply[1])]

    # -- page faults (called by VirtualMemory) ----------------------------------------

    def _page_fault(self, addr: int, write: bool, present: bool) -> None:
        # the op as a plain int (msgpack packs an IntEnum the slow way) and no look for
        # strings after the reply (the kernel sends none): the CPU's trap, kept short
        self._request([_PAGE_FAULT, addr, write, present])
