"""The Unix server (task 18, name "unix"): processes, files, pipes and signals over IPC.

One thread (lthread 0) serves protocols/unix.py's UNIX interface with the one server
loop (protocols.server.serve and Dispatch): every operation goes to the handler named
after it, in calls.py (processes, signals, memory), files.py (fds, files, pipes),
exec.py (fork, exec, spawn), spawn.py (posix_spawn), spawnio.py (a spawned
process's pipes, a line's hang-up) or remote.py (`on`), mixed into `Server`. The declaration says who may call (Who.CLAN:
a process, a task of this server's clan; Who.ANY: also root, tests, `mk sh`, other
nodes' servers); a handler that needs a process asks the process table, EPERM for a
task that is none. Besides its requests, lthread 0 takes:
- page faults of its processes' tasks (it is their pager: `memory.py`);
- death notices of those tasks (it is their chief);
- messages its processes sent past it (redirected to it, their chief): refused;
- WORKER_DONE from its worker lthreads, which make the calls that block in other
  servers (tty reads and writes) so that lthread 0 never does;
- TTY_SIGNAL from the tty server (^C and friends).
A call that must wait (read of an empty pipe, wait, sleep, pause) gets no reply yet;
it is answered later with send timeout 0, and a client that died meanwhile is
forgotten. Timers (sleep, the grace for a spawned process's output) run when they are
due, between messages or when none comes.
"""
from __future__ import annotations

import errno
import heapq
import itertools
import logging
import queue
import signal
import threading
import time
from functools import partial

from microkernel.abi import NEVER, IpcError, Msg, ThreadId
from microkernel.abi.ops import TASK_EXIT_NOTICE, exit_status
from protocols import wellknown
from protocols.fs import FsClient
from protocols.pager import fault_of
from protocols.interface import error
from protocols.names import Names
from protocols.root import Root
from protocols.server import Dispatch, send_reply, serve
from protocols.tty import TtyClient
from protocols.unix import SIG_IGN, UNIX, Op, wait_status_exit, wait_status_signal

from .calls import ProcessCalls
from .exec import ExecCalls
from .files import FileCalls
from .memory import Memory
from .netfs import Net
from .proc import INIT_PID, Call, ProcTable
from .remote import RemoteCalls
from .signals import deliver, post
from .spawn import SpawnCalls
from .spawnio import SpawnIoCalls

__all__ = ["main", "Server", "Timers"]

log = logging.getLogger("mk.unix")
FIRST_WORKER, MAX_WORKERS = 2, 32          # lthreads 2.. do slow calls


class Timers:
    """Functions to run on lthread 0 at a time: `after`, `cancel`; the server loop asks
    `timeout` before each wait and calls `run`."""

    def __init__(self):
        self.heap: list = []
        self._seq = itertools.count()

    def after(self, seconds: float, fn) -> list:
        """Run `fn()` in `seconds`; a handle for `cancel`."""
        entry = [time.monotonic() + seconds, next(self._seq), fn]
        heapq.heappush(self.heap, entry)
        return entry

    @staticmethod
    def cancel(entry) -> None:
        if entry is not None:
            entry[2] = None

    def timeout(self):
        """Seconds until the next timer is due (NEVER: none)."""
        while self.heap and self.heap[0][2] is None:
            heapq.heappop(self.heap)
        if not self.heap:
            return NEVER
        return max(0.0, self.heap[0][0] - time.monotonic())

    def run(self) -> None:
        """Run every timer that is due (one that fails is logged: a bug must not take
        the server, and every process with it, down)."""
        if not self.heap:
            return
        now = time.monotonic()
        while self.heap and self.heap[0][0] <= now:
            _, _, fn = heapq.heappop(self.heap)
            if fn is not None:
                try:
                    fn()
                except Exception:
                    log.exception("unix: a timer failed")


class Server(ProcessCalls, FileCalls, ExecCalls, SpawnCalls, SpawnIoCalls, RemoteCalls):
    """The state of the Unix server and the handlers of its interface."""

    def __init__(self, rt, names: int | None = None):
        self.rt = rt
        self.me = rt.myself()
        self.names = wellknown.names_id(rt.site) if names is None else ThreadId(int(names))
        self.fs = FsClient(rt, names=self.names)
        self.net = Net(rt, self.fs)
        self.tty = TtyClient(rt, names=self.names)
        self.root = Root(rt)
        self.memory = Memory(rt, self.fs)
        self.procs = ProcTable()
        self.timers = Timers()
        self._seq = itertools.count()
        self.jobs: queue.Queue = queue.Queue()
        self.done: dict[int, tuple] = {}
        self.done_lock = threading.Lock()
        self.idle_workers = 0
        self.workers = 0
        self.spawned: dict[int, list] = {}   # pid -> [status or None, capture, callers]
        self.spawn_ends: dict = {}           # pid -> SpawnEnds (stdio b"pipes")
        self.stopped_tasks: set[int] = set()  # the task numbers of stopped processes
        self.line_sessions: dict[str, int] = {}   # tty line name -> its session
        self.tty_lines: dict[str, int] = {}  # tty line name -> the tty server's number
        self.tasks: dict[int, int] = {}      # my live task numbers -> their version
        self.relays: dict[bytes, dict] = {}  # secret -> an `on` running (remote.py)
        self.relay_watch = None              # the timer that checks relayed callers
        self.unix_at: dict[str, object] = {}  # node -> its Unix server's stub (remote.py)
        self._send = partial(send_reply, rt)

    def run(self) -> None:
        """Serve forever."""
        self.handle = Dispatch(UNIX, self, self.rt, fault=self.page_fault,
                               notice=self.notice, redirected=self.refuse)
        serve(self.rt, self.gate, timeout=self.timers.timeout, on_idle=self.timers.run,
              after=self.timers.run)

    def gate(self, msg: Msg):
        """Dispatch, but park what a stopped process sends (not its death notice)."""
        if self.stopped_tasks and msg.sender.task in self.stopped_tasks:
            proc = self.procs.by_task.get(msg.sender.task)
            if proc is not None and proc.stopped and msg.sender.version == \
                    proc.tid.version and msg.words and msg.words[0] != TASK_EXIT_NOTICE:
                proc.parked.append(msg)
                return None
        return self.handle(msg)

    # -- stopping and continuing (signals.py says what they mean) -----------------------

    def stop(self, proc, sig: int) -> None:
        """Stop `proc` (the signal `sig` did): its requests wait; its parent's
        WUNTRACED wait learns it."""
        if proc.stopped:
            return
        proc.stopped, proc.stop_told = sig, False
        self.stopped_tasks.add(proc.task)
        parent = self.procs.by_pid.get(proc.ppid)
        if parent is not None:
            self.procs.answer_waits(parent)

    def resume(self, proc) -> None:
        """Continue a stopped `proc`: serve what it asked meanwhile, deliver signals."""
        if not proc.stopped:
            return
        proc.stopped = 0
        self.stopped_tasks.discard(proc.task)
        parked, proc.parked = proc.parked, []
        for msg in parked:
            out = self.handle(msg)
            if isinstance(out, Msg):
                send_reply(self.rt, msg.sender, out)
        deliver(proc)

    def later(self, msg: Msg, proc=None) -> Call:
        """The request `msg` (of `proc`), to be answered later."""
        return Call(self._send, proc, msg.sender, msg.words[0])

    # -- what is no request -----------------------------------------------------------

    def page_fault(self, msg: Msg) -> Msg:
        """A page fault of a task of mine (I am its pager); anyone else's: EPERM."""
        task = msg.sender.task
        if task not in self.tasks:
            return error(errno.EPERM)
        fault = fault_of(msg)
        try:
            return self.memory.fault(task, fault.page, fault.write)
        except MemoryError:                    # nothing mapped: the process's SIGSEGV
            log.warning("unix: no memory left for task %d's page %#x", task, fault.page)
            return Msg()

    def refuse(self, msg: Msg) -> None:
        """A process sent IPC past the Unix server (its chief): it reaches nobody. Its
        call gets EPERM in the name of the thread it aimed at (a chief may deceive)."""
        try:
            self.rt.send(msg.sender, error(errno.EPERM), timeout=0, deceit=msg.intended)
        except IpcError:
            pass

    def notice(self, msg: Msg) -> None:
        """A death notice: a task of my clan ended (returned, crashed, was deleted).
        Only the notice of the incarnation I made last frees the number (exec and
        kill make others)."""
        sender, word = msg.sender, msg.words[1]
        if self.tasks.get(sender.task) != sender.version:
            return
        del self.tasks[sender.task]
        self.memory.forget(sender.task)
        self.procs.free_tasks.append(sender.task)
        proc = self.procs.by_task.get(sender.task)
        if proc is not None and proc.tid.version == sender.version:
            status = exit_status(word)
            if status is None:                     # deleted: as if killed
                self.finish(proc, wait_status_signal(signal.SIGKILL))
            elif status < 0:
                self.finish(proc, wait_status_signal(-status))
            else:
                self.finish(proc, wait_status_exit(status))

    # -- slow calls on worker lthreads ------------------------------------------------

    def slow(self, fn, done) -> None:
        """Run `fn()` (which may block) on a worker lthread; `done(result or the
        exception)` then runs on lthread 0."""
        jid = next(self._seq)
        with self.done_lock:
            self.done[jid] = (done, None)
            need = self.idle_workers == 0 and self.workers < MAX_WORKERS
            if need:
                self.workers += 1
                lthread = FIRST_WORKER + self.workers - 1
            else:
                self.idle_workers -= 1
        if need:
            self.rt.lthread_ex_regs(lthread, _worker, args=(self,))
        self.jobs.put((jid, fn))

    def worker_done(self, req, msg) -> None:
        """A worker lthread finished job `job`: its `done` runs now (no reply)."""
        with self.done_lock:
            done, result = self.done.pop(req.job, (None, None))
        if done is not None:
            done(result)

    # -- processes: their task numbers and their ends -----------------------------------

    def alloc_task(self) -> int:
        """A task number of mine for a new process (root hands out more); EAGAIN when
        none is left."""
        if self.procs.free_tasks:
            return self.procs.free_tasks.pop()
        return self.root.alloc_task()        # ServiceError EAGAIN: root has none left

    def made(self, tid: ThreadId) -> None:
        """I (re)created task tid: its notice is the one that ends it."""
        self.tasks[tid.task] = tid.version

    def terminate(self, proc, sig: int) -> None:
        """Default action of a fatal signal: delete the task, record the signal."""
        try:
            self.rt.task_new(proc.task, "", None, new_chief=self.me.task)
        except Exception as e:                   # noqa: BLE001 - the task may be gone
            log.info("unix: deleting %s: %s", proc, e)
        self.finish(proc, wait_status_signal(sig))

    def finish(self, proc, status: int) -> None:
        """`proc` ended with wait status `status`: zombie, SIGCHLD, waits, init."""
        parents = self.procs.zombify(proc, status)
        self.stopped_tasks.discard(proc.task)
        proc.stopped, proc.parked = 0, []
        self.on_ended(proc, status)
        sp = self.spawned.get(proc.pid)
        if sp is not None:
            sp[0] = status
            cap = sp[1]
            if cap is None or cap.closed:
                self.spawn_done(proc.pid)
            else:
                self.timers.after(1.0, lambda: self.spawn_done(proc.pid))
        for parent in parents:
            if parent.disposition(signal.SIGCHLD) == SIG_IGN:   # POSIX: no zombies then
                self.procs.reap(proc)
            self.procs.answer_waits(parent)
            post(self, parent, signal.SIGCHLD)
        if proc.ppid == INIT_PID:
            self.procs.reap(proc)

    def spawn_done(self, pid: int) -> None:
        """Answer the SPAWN_WAITs of a spawned process that ended: status, output."""
        sp = self.spawned.get(pid)
        if sp is None or sp[0] is None:
            return
        if len(sp) == 3:
            sp.append("done")
        for call in sp[2]:
            call.reply(sp[0], bytes(sp[1].data) if sp[1] else b"")
        if sp[2]:
            self.close_spawn_ends(pid)
        sp[2].clear()

    def close_spawn_ends(self, pid: int) -> None:
        """The spawner is done with a b"pipes" process's far ends."""
        ends = self.spawn_ends.pop(pid, None)
        if ends is not None:
            ends.close()


def _worker(rt, srv: Server) -> None:
    """A worker lthread: run slow calls, tell lthread 0 each one is done."""
    while True:
        jid, fn = srv.jobs.get()
        try:
            result = fn()
        except BaseException as e:               # noqa: BLE001 - handed to lthread 0
            result = e
        with srv.done_lock:
            done, _ = srv.done.get(jid, (None, None))
            srv.done[jid] = (done, result)
            srv.idle_workers += 1
        rt.send(srv.me, UNIX.request(Op.WORKER_DONE, jid))


def main(rt, *args) -> None:
    """Root starts it as a kept server (args: name, names id); tests may give only the
    names id, or nothing."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    srv = Server(rt, int(args[-1]) if args else None)
    Names(rt, tid=srv.names).register(wellknown.UNIX)
    log.info("unix: serving as %s", rt.myself())
    srv.run()
