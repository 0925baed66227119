"""One fuzz worker: a thread that sends generated requests on its own socket, one
outstanding at a time, checks that each gets exactly one reply in time, and counts
the replies by operation and result. Before a request goes out it is decoded as the
kernel will decode it and defused (long timeouts shortened, page faults moved onto
known pages, only pagers that cannot deadlock)."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

from microkernel.abi import CodecError, Op, decode_header

from fuzz_common import (_FAULT_NAMES, _IPC_NAMES, _OP_NAMES, GHOST_PAGERS, M32, M64,
                         REPLY_TIMEOUT_MS, SAFE_PAGES, Failure, _clock, _pack, _pack_any,
                         _unpackb)
from fuzz_gen import Gen
from fuzz_probes import Probes


# -- what the kernel will see: decode and defuse -------------------------------------------

def _as_word(v):
    """The int the kernel's timeouts.decode would read from v, or None if it refuses."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v if 0 <= v <= M32 else None
    return None                               # floats too: decode refuses them


def _short(m: int, e: int, rnd) -> tuple[int, int]:
    """A send or receive timeout of at most ~1 ms (poll most of the time)."""
    if e and m * 4 ** (15 - e) <= 1000:
        return m, e
    if rnd() < 0.8:
        return 0, 15                           # poll
    return int(rnd() * 256), 15                # m microseconds


def defuse_timeouts(w: int, rnd) -> int:
    rm, re_ = _short((w >> 24) & 0xFF, w & 0xF, rnd)
    sm, se = _short((w >> 16) & 0xFF, (w >> 4) & 0xF, rnd)
    return re_ | se << 4 | (w & 0xFF00) | sm << 16 | rm << 24


class Defuser:
    """Rewrites the few fields that would make a well-formed request block for long."""

    def __init__(self, good_pagers: list[int], rnd):
        self.good_pagers = good_pagers
        self.rnd = rnd

    def __call__(self, h) -> bool:
        """Fix `h` in place; True if it changed."""
        if type(h) is not list or not h or type(h[0]) is not int:
            return False
        op = h[0]
        if op == 1 and len(h) == 10:
            w = _as_word(h[4])
            if w is not None:
                new = defuse_timeouts(w, self.rnd)
                if new != w or type(h[4]) is not int:
                    h[4] = new
                    return True
        elif op == 16 and len(h) == 4 and type(h[1]) is int and 0 <= h[1] <= M32:
            h[1] = SAFE_PAGES[h[1] % len(SAFE_PAGES)] | (h[1] & 0xFFF)
            return True
        elif op == 6 and len(h) == 4 and type(h[3]) is int and 0 <= h[3] <= M64 \
                and h[3] not in self.good_pagers:
            h[3] = self.good_pagers[h[3] % len(self.good_pagers)]
            return True
        return False


# -- one worker -------------------------------------------------------------------------------

class Gate:
    """Holds the workers while the kernel runs its self-check: the kernel serves nothing
    meanwhile (it is single-threaded), which must not count as a missing reply."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()
        self.parked: list[threading.Event] = []

    def join(self) -> threading.Event:
        e = threading.Event()
        self.parked.append(e)
        return e

    def close_and_wait(self, mine: threading.Event, timeout: float = 10.0) -> None:
        self.open.clear()
        deadline = time.monotonic() + timeout
        for e in self.parked:
            if e is not mine:
                e.wait(max(0.0, deadline - time.monotonic()))


class Worker(Probes):
    def __init__(self, rt, seed: int, count: int, stop: threading.Event,
                 partners: list[int] = (), check_every: int = 0, gate: Gate | None = None,
                 comm: int = 0):
        self.rt = rt
        self.comm = comm                    # the comm task's id (0: none)
        self.gate = gate or Gate()
        self.parked = self.gate.join()
        self.check_every = check_every
        self.checks = 0
        self.violations: list[str] = []
        self.r = random.Random(seed)
        self.seed = seed
        self.count = count
        self.stop = stop
        self.sock = rt._cpu.sock
        self.me = rt.myself()
        self.gen = Gen(self.r, self.me, rt.pager, rt.site, partners)
        ghosts = self.gen.ghosts
        pagers = [0, int(rt.pager)] + ([ghosts[0], ghosts[4]] if GHOST_PAGERS else [])
        self.defuse = Defuser(pagers, self.r.random)
        self.hist: Counter = Counter()
        self.spent: Counter = Counter()     # seconds waited for replies, by result
        self.sent = 0
        self.answered = 0
        self.failures: list[str] = []
        self.stranger = None
        self.last = None

    # -- the wire --------------------------------------------------------------------------

    def roundtrip(self, sock, header: bytes, frames: list, expect_reply: bool = True):
        """Send one request; return the decoded reply (or None when none is due)."""
        if sock.poll(0):
            extra = sock.recv_multipart()
            self.fail(f"unsolicited message {extra[:1]!r} after request {self.last!r}")
        self.last = (header[:200], [len(f) for f in frames])
        self.sent += 1
        if frames:
            sock.send_multipart([header, *frames], copy=False)
        else:
            sock.send(header, copy=False)
        if not expect_reply:
            return None
        if not sock.poll(REPLY_TIMEOUT_MS):
            self.fail(f"no reply within {REPLY_TIMEOUT_MS} ms to header "
                      f"{header[:300].hex()} ({_describe(header)}) with "
                      f"{len(frames)} frames")
            raise Failure("kernel did not answer")
        parts = sock.recv_multipart(copy=True)
        self.answered += 1
        try:
            reply = _unpackb(parts[0], raw=False)
        except Exception as e:
            self.fail(f"undecodable reply {parts[0][:50]!r}: {e}")
            return None
        if type(reply) is not list or not reply or type(reply[0]) is not int:
            self.fail(f"malformed reply {reply!r:.200}")
            return None
        return reply, parts[1:]

    def fail(self, text: str) -> None:
        self.failures.append(text)
        print(f"FAIL [seed {self.seed}] {text}", flush=True)

    # -- classification --------------------------------------------------------------------

    def classify(self, h, reply) -> str:
        label = _op_label(h)
        if reply is None:
            return f"{label} -> (bad reply)"
        code = reply[0][0]
        if code == -1:
            f = reply[0][1] if len(reply[0]) > 1 else None
            return f"{label} -> fault {_FAULT_NAMES.get(f, f)}"
        if label == "IPC":
            if code & 0xF0 == 0:
                if len(reply[0]) == 1:
                    return "IPC -> ok"
                return f"IPC -> ok (received{', flags' if code else ''})"
            err = code & 0xE0 if code & 0xF0 != 0x10 else 0x10
            phase = "" if err == 0x10 else (" send" if code & 0x10 else " receive")
            return f"IPC -> {_IPC_NAMES.get(err, hex(err))}{phase}"
        return f"{label} -> {'ok' if code == 0 else code}"

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        r = self.r
        rnd = r.random
        gen = self.gen
        started = time.monotonic()
        try:
            gate = self.gate.open
            for i in range(self.count):
                if self.stop.is_set():
                    break
                if not gate.is_set():
                    self.parked.set()
                    gate.wait()
                    self.parked.clear()
                if i % 5000 == 2500:
                    self.exit_and_hello()
                    continue
                if i % 4000 == 1000:
                    self.spare_thread()
                    continue
                if self.check_every and i % self.check_every == self.check_every - 1:
                    self.kernel_check()
                x = rnd()
                if x < 0.07:
                    self.send_bytes(gen.raw(), [])
                elif x < 0.14:
                    v = gen.random_value()
                    if rnd() < 0.6:
                        v = [r.choice((r.randint(-3, 25), gen.junk()))] + \
                            [gen.random_value(2) for _ in range(r.randint(0, 10))]
                    self.send_value(v, [])
                elif x < 0.92:
                    op = r.choices(gen.ops, gen.op_weights)[0]
                    gen.keep = False
                    h, frames = gen.valid[op]()
                    if rnd() < 0.8 and not gen.keep:
                        h, frames = gen.mutate(h, frames)
                    self.send_value(h, frames)
                elif x < 0.97:
                    self.checked()
                else:
                    self.as_stranger()
        except Failure:
            self.stop.set()
        finally:
            self.parked.set()                # done: never in the way of a check
        self.final_check()
        self.seconds = time.monotonic() - started

    def send_value(self, h, frames) -> None:
        self.send_bytes(_pack_any(h), frames)

    def send_bytes(self, header: bytes, frames: list) -> None:
        """Decode `header` as the kernel will, defuse it, keep EXIT out, send, count."""
        h = None
        try:
            h = decode_header(header)
        except CodecError:
            pass
        if h is not None:
            if type(h[0]) is int and h[0] == Op.EXIT:
                h[0] = 99
                header = _pack(h)
            elif self.defuse(h):
                header = _pack(h)
        t0 = _clock()
        reply = self.roundtrip(self.sock, header, frames)
        key = self.classify(h, reply)
        self.hist[key] += 1
        self.spent[key] += _clock() - t0
        if key == "TASK_NEW -> ok":
            self.fail(f"task_new succeeded for a task that owns no task number: {h!r}")


def _op_label(h) -> str:
    if h is None:
        return "undecodable"
    op = h[0]
    if type(op) is not int:
        return f"op of type {type(op).__name__}"
    return _OP_NAMES.get(op, "unknown op")


def _describe(header: bytes) -> str:
    try:
        return repr(decode_header(header))[:300]
    except CodecError as e:
        return f"undecodable: {e}"

