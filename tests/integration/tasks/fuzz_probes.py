"""The fuzz worker's probes (a mixin of Worker): requests whose answer is known and
checked, sockets other than its own (a stranger's that never said HELLO, a spare
lthread's), EXIT then HELLO again, and the kernel's self-check mid-run."""
from __future__ import annotations

import os
import time

import zmq

from microkernel.abi import ABI_VERSION, Fault, IpcCode, Op
from microkernel.abi.ops import NEAREST_OUTER

from fuzz_common import _FAULT_NAMES, SPARE_LTHREADS, Failure, _pack, _pack_any, control


class Probes:
    """What a Worker does beside sending generated requests (self.roundtrip, self.fail,
    self.hist, self.gen, self.r, self.me, self.rt, self.sock are Worker's)."""

    # -- requests with known answers ---------------------------------------------------------

    def checked(self) -> None:
        r = self.r
        me = int(self.me)
        x = r.random()
        if x < 0.3:
            self.expect([2, 0], lambda rep: rep[:3] == [0, 0, me], "id_nearest(nil) is myself")
        elif x < 0.5:
            far = r.choice(self.gen.far)
            if self.comm:
                self.expect([2, far], lambda rep: rep[:3] == [0, NEAREST_OUTER, self.comm],
                            "id_nearest(off-site) is the comm task")
            else:
                self.expect([2, far], lambda rep: rep[:2] == [-1, Fault.NOT_EXISTENT],
                            "id_nearest(off-site) with no comm task is NOT_EXISTENT")
        elif x < 0.55:
            ghost = r.choice(self.gen.ghosts)
            h = [1, ghost, [r.getrandbits(32)], [], 0x00000011,   # send timeout 0
                 r.choice((0, 1)), ghost, 0, None, None]
            self.expect(h, lambda rep: rep[0] == IpcCode.NOT_EXISTENT,
                        "IPC to a missing thread is NOT_EXISTENT")
        elif x < 0.7:
            self.expect([4, None], lambda rep: rep == [0], "thread_switch() is ok")
        elif x < 0.85:
            self.expect([5, me, None, None],
                        lambda rep: rep[0] == 0 and rep[3] == "running",
                        "thread_schedule(myself) says running")
        elif x < 0.95:
            # receive from nil, timeout 0 (poll): TIMEOUT in the receive phase.
            self.expect([1, None, [], [], 0x00000011, 1, 0, 0, None, None],
                        lambda rep: rep[0] == IpcCode.TIMEOUT, "poll from nil times out")
        else:
            self.expect([7, r.choice((1, 3, 100, 2047)), "x:y", int(self.rt.pager), 1, [], None],
                        lambda rep: rep[:2] == [-1, Fault.NO_PERMISSION],
                        "task_new of a number the task does not own is refused")

    def expect(self, h: list, ok, what: str) -> None:
        reply = self.roundtrip(self.sock, _pack(h), [])
        self.hist[f"checked: {what}"] += 1
        if reply is None or not ok(reply[0]):
            self.fail(f"{what}: request {h!r} answered {reply and reply[0]!r:.300}")

    # -- sockets other than my own -------------------------------------------------------------

    def as_stranger(self) -> None:
        """A socket that never attached: everything but a right HELLO is refused."""
        if self.stranger is None:
            self.stranger = self.new_socket()
        r, gen = self.r, self.gen
        x = r.random()
        if x < 0.4:
            h = [0, r.choice((ABI_VERSION, ABI_VERSION, 0, 2, -1, None)),
                 r.choice((self.me.task, 2, 4, 2047, 5000, "t")),
                 r.choice((0, 1, 127, 128, -1, None)), r.choice((r.randbytes(16), b"", None, "s"))]
            if r.random() < 0.5:
                h, _ = gen.mutate(h, [])
            header = _pack_any(h)
        elif x < 0.7:
            op = r.choices(gen.ops, gen.op_weights)[0]
            h, _ = gen.valid[op]()
            header = _pack_any(h)
        else:
            header = gen.raw()
        reply = self.roundtrip(self.stranger, header, [])
        code = reply[0][0] if reply else None
        fault = reply[0][1] if reply and len(reply[0]) > 1 else None
        self.hist[f"stranger -> fault {_FAULT_NAMES.get(fault, fault)}"] += 1
        if code != -1:
            self.fail(f"a socket that never said HELLO got {reply!r:.200} for {header[:100].hex()}")

    def new_socket(self):
        s = self.rt._ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.ROUTING_ID, os.urandom(16))
        s.connect(self.rt.endpoint)
        return s

    def hello(self, sock, lthread: int):
        """HELLO as `lthread`, keeping the runtime's secret: each HELLO spends it."""
        with self.rt._hello:
            reply = self.roundtrip(sock, _pack([0, ABI_VERSION, self.rt.task_no, lthread,
                                              self.rt._secret]), [])
            if reply and reply[0][0] == 0:
                self.rt._secret = reply[0][2]["secret"]
        return reply

    def exit_and_hello(self) -> None:
        """EXIT detaches my socket (no reply); HELLO attaches it again."""
        self.roundtrip(self.sock, _pack([Op.EXIT]), [], expect_reply=False)
        self.hist["EXIT -> (no reply, by the ABI)"] += 1
        time.sleep(0.01)
        if self.sock.poll(0):
            self.fail(f"EXIT got a reply: {self.sock.recv_multipart()!r:.200}")
        reply = self.roundtrip(self.sock, _pack([2, 0]), [])
        if not reply or reply[0][:2] != [-1, Fault.BAD_IDENTITY]:
            self.fail(f"after EXIT my socket still works: {reply!r:.200}")
        reply = self.hello(self.sock, self.me.lthread)
        self.hist["HELLO again after EXIT"] += 1
        if not reply or reply[0][:2] != [0, int(self.me)]:
            self.fail(f"HELLO after EXIT refused: {reply!r:.300}")
            raise Failure("could not attach again")

    def spare_thread(self) -> None:
        """A spare lthread attaches on its own socket, is refused a second socket,
        answers one request, and exits."""
        lt = self.r.choice(SPARE_LTHREADS)
        a, b = self.new_socket(), self.new_socket()
        try:
            reply = self.hello(a, lt)
            want = int(self.me.lthread_id(lt))
            self.hist["spare lthread HELLO"] += 1
            if not reply or reply[0][:2] != [0, want]:
                if reply and reply[0][:2] == [-1, Fault.BUSY]:
                    return                       # the other worker has it right now
                self.fail(f"spare lthread {lt} HELLO: {reply!r:.300}")
                return
            reply = self.hello(b, lt)
            if not reply or reply[0][:2] != [-1, Fault.BUSY]:
                self.fail(f"a second socket for lthread {lt} was not refused: {reply!r:.300}")
            reply = self.roundtrip(a, _pack([2, 0]), [])
            if not reply or reply[0][:3] != [0, 0, want]:
                self.fail(f"spare lthread {lt} is not itself: {reply!r:.300}")
            self.roundtrip(a, _pack([Op.EXIT]), [], expect_reply=False)
        finally:
            a.close(linger=100)
            b.close(0)

    def kernel_check(self) -> None:
        """Ask the kernel's self-check (control port) while everything is still live."""
        self.gate.close_and_wait(self.parked)
        try:
            reply = control(self.rt, {"op": "check"})
        finally:
            self.gate.open.set()
        self.checks += 1
        for v in reply["violations"]:
            self.violations.append(v)
            self.fail(f"kernel invariant broken mid-run: {v}")

    def final_check(self) -> None:
        try:
            reply = self.roundtrip(self.sock, _pack([2, 0]), [])
            if not reply or reply[0][:3] != [0, 0, int(self.me)]:
                self.fail(f"after the run id_nearest(nil) answered {reply!r:.300}")
        except Failure:
            pass
        if self.stranger is not None:
            self.stranger.close(0)
