"""The Unix server (task 18, name "unix"): processes, files, pipes and signals over IPC.

One thread (lthread 0) serves everything, V2 style, with an open wait:
- system calls of its processes (proto.py): each process is a task of this server's
  clan, so its IPC comes here directly, and this server is also its pager;
- page faults of those tasks (`memory.py`), death notices of those tasks (the server is
  their chief), and SPAWN requests of tasks that are not processes (root, tests);
- the completions of slow calls that worker lthreads made on its behalf (tty reads
  and writes block in the tty server, so they never run on lthread 0).
A call that must wait (read of an empty pipe, wait, sleep, pause) gets no reply yet;
it is answered later with send timeout 0, and a client that died meanwhile is
forgotten. Handlers live in calls.py (processes, signals), files.py (fds, files,
pipes) and exec.py (fork, exec, spawn); each returns a Msg, or None to answer later,
and may raise OSError(errno) anywhere.
"""
from __future__ import annotations

import errno
import heapq
import itertools
import logging
import queue
import threading
import time

from microkernel.abi import IpcCode, IpcError, Msg, Phase, ThreadId
from microkernel.abi.ops import TASK_EXIT_NOTICE
from servers.fsproto import FsClient
from servers.names import register

from . import calls, exec as exec_, files
from .memory import Memory
from .proc import INIT_PID, Call, ProcTable, ok
from .proto import NAMES, PF_MARK, SIG_IGN, UNIX_NAME, WORKER_DONE, wait_status_exit, \
    wait_status_signal
from .signals import post

__all__ = ["main", "Server", "ok"]

log = logging.getLogger("mk.unix")
FIRST_WORKER, MAX_WORKERS = 2, 32          # lthreads 2.. do slow calls
ALLOC_TASK = 0xFFFF_7A5C                   # servers.root.ALLOC_TASK
SIGCHLD = 17
KILLED = 0xFFFFFFFF                        # a notice's status: deleted, or unknown


class Server:
    def __init__(self, rt, names: int | None = None):
        from drivers.client import names_id
        self.rt = rt
        self.me = rt.myself()
        self.names = names_id(rt) if names is None else ThreadId(int(names))
        self.fs = FsClient(rt, names=self.names)
        self.memory = Memory(rt, rt.sigma0, self.fs)
        self.procs = ProcTable()
        self._tty = None
        self.timers: list = []
        self._seq = itertools.count()
        self.handlers = {**calls.HANDLERS, **files.HANDLERS, **exec_.HANDLERS}
        self.foreign_ok = calls.FOREIGN | exec_.FOREIGN      # ops for non-processes
        self.jobs: queue.Queue = queue.Queue()
        self.done: dict[int, tuple] = {}
        self.done_lock = threading.Lock()
        self.idle_workers = 0
        self.workers = 0
        self.started = time.time()
        self.spawned: dict[int, list] = {}   # pid -> [status or None, capture, callers]
        self.tasks: dict[int, int] = {}      # my live task numbers -> their version

    # -- the loop ---------------------------------------------------------------------

    def serve(self) -> None:
        msg = self.wait()
        while True:
            try:
                reply = self.handle(msg)
            except Exception:                    # a bug must not take every process down
                log.exception("unix: request %s failed", msg.words[:1])
                reply = Msg(words=(errno.EIO,))
            if reply is None:
                msg = self.wait()
                continue
            try:
                msg = self.rt.reply_and_wait(msg.sender, reply, timeout=self.timeout())
            except IpcError as e:
                if e.code == IpcCode.TIMEOUT and e.phase is Phase.RECEIVE:
                    self.run_timers()
                msg = self.wait()

    def wait(self) -> Msg:
        """The next message; timers run while none comes. A message the server could
        not take (MSG_CUT: map items sent to it) costs only itself."""
        while True:
            try:
                return self.rt.wait(timeout=self.timeout())
            except IpcError as e:
                if e.code == IpcCode.TIMEOUT:
                    self.run_timers()

    def handle(self, msg: Msg) -> Msg | None:
        w = msg.words
        if msg.redirected:
            self.refuse(msg)
            return None
        if len(w) == 2 and w[1] == PF_MARK and msg.sender.task in self.tasks:
            return self.memory.fault(msg.sender.task, w[0], bool(w[0] & 2))
        if len(w) == 2 and w[0] == TASK_EXIT_NOTICE:
            self.died(msg.sender, w[1])
            return None
        if len(w) == 2 and w[0] == WORKER_DONE and msg.sender.task == self.me.task:
            self.finish_job(w[1])
            return None
        op = w[0] if w else 0
        handler = self.handlers.get(op)
        if handler is None:
            return Msg(words=(errno.ENOSYS,))
        proc = self.procs.of_sender(msg.sender)
        if proc is None and op not in self.foreign_ok:
            return Msg(words=(errno.EPERM,))
        call = Call(self.send_later, proc, msg.sender, op)
        try:
            return handler(self, proc, msg, call)
        except OSError as e:
            return Msg(words=(e.errno or errno.EIO,))
        except (IndexError, ValueError, UnicodeError) as e:
            log.info("unix: bad %s from %s: %s", NAMES.get(op, op), msg.sender, e)
            return Msg(words=(errno.EINVAL,))

    def refuse(self, msg: Msg) -> None:
        """A process sent IPC past the Unix server (its chief): it reaches nobody. Its
        call gets EPERM in the name of the thread it aimed at (a chief may deceive)."""
        try:
            self.rt.send(msg.sender, Msg(words=(errno.EPERM,)), timeout=0,
                         deceit=msg.intended)
        except IpcError:
            pass

    def send_later(self, tid: ThreadId, msg: Msg) -> None:
        """Answer a call that waited: send timeout 0; a caller gone is no error."""
        try:
            self.rt.send(tid, msg, timeout=0)
        except IpcError:
            pass

    # -- timers -----------------------------------------------------------------------

    def after(self, seconds: float, fn) -> list:
        """Run `fn()` on lthread 0 in `seconds`; returns a handle for `cancel`."""
        entry = [time.monotonic() + seconds, next(self._seq), fn]
        heapq.heappush(self.timers, entry)
        return entry

    @staticmethod
    def cancel(entry) -> None:
        if entry is not None:
            entry[2] = None

    def timeout(self):
        while self.timers and self.timers[0][2] is None:
            heapq.heappop(self.timers)
        if not self.timers:
            from microkernel.abi import NEVER
            return NEVER
        return max(0.0, self.timers[0][0] - time.monotonic())

    def run_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            if fn is not None:
                fn()

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

    def finish_job(self, jid: int) -> None:
        with self.done_lock:
            done, result = self.done.pop(jid, (None, None))
        if done is not None:
            done(result)

    @property
    def tty(self):
        if self._tty is None:
            from servers.ttyproto import TtyClient
            self._tty = TtyClient(self.rt, names=self.names)
        return self._tty

    # -- ends of processes ------------------------------------------------------------

    def alloc_task(self) -> int:
        """A task number of mine for a new process (root hands out more)."""
        if self.procs.free_tasks:
            return self.procs.free_tasks.pop()
        from protocols.root import Root     # core-proto: root replies (0, task) now
        return Root(self.rt).alloc_task()     # ServiceError EAGAIN: none left

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
        sp = self.spawned.get(proc.pid)
        if sp is not None:
            sp[0] = status
            cap = sp[1]
            if cap is None or cap.closed:
                self.spawn_done(proc.pid)
            else:
                self.after(1.0, lambda: self.spawn_done(proc.pid))
        for parent in parents:
            if parent.disposition(SIGCHLD) == SIG_IGN:      # POSIX: no zombies then
                self.procs.reap(proc)
            self.procs.answer_waits(parent)
            post(self, parent, SIGCHLD)
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
            call.reply(0, sp[0], strings=(bytes(sp[1].data) if sp[1] else b"",))
        sp[2].clear()

    def died(self, sender: ThreadId, word: int) -> None:
        """A death notice: a task of my clan ended (returned, crashed, was deleted).
        Only the notice of the incarnation I made last frees the number (exec and
        kill make others)."""
        if self.tasks.get(sender.task) != sender.version:
            return
        del self.tasks[sender.task]
        self.memory.forget(sender.task)
        self.procs.free_tasks.append(sender.task)
        proc = self.procs.by_task.get(sender.task)
        if proc is not None and proc.tid.version == sender.version:
            if word == KILLED:
                self.finish(proc, wait_status_signal(9))
            elif word >> 31:
                self.finish(proc, wait_status_signal(-(word - (1 << 32))))
            else:
                self.finish(proc, wait_status_exit(word))

    def made(self, tid: ThreadId) -> None:
        """I (re)created task tid: its notice is the one that ends it."""
        self.tasks[tid.task] = tid.version


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
        rt.send(srv.me, Msg(words=(WORKER_DONE, jid)))


def main(rt, *args) -> None:
    """Root starts it as a kept server (args: name, names id); tests may give only the
    names id, or nothing."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    srv = Server(rt, int(args[-1]) if args else None)
    register(rt, srv.names, UNIX_NAME)
    log.info("unix: serving as %s", rt.myself())
    srv.serve()
