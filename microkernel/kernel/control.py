"""The operator's port: `mk status`, `mk ps`, `mk down` talk to the kernel here.

Like a kernel debugger's interface, it is outside the L4 ABI: a REP socket in the
node's runtime directory (mode 0600), msgpack requests `{"op": NAME, ...}`, one reply
each. It reports the kernel's tables, checks their invariants (`check`, see
invariants.py), switches the trace on and off (`trace`, see trace.py) and stops the
node; it creates nothing. Cards are built, plugged,
unplugged and tuned by the machine (`hw.Machine.plug/unplug/tune`): this port passes
the operator's request on, and publishes a new UART's pty in the node's folder.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import msgpack
import psutil
import zmq

from microkernel.abi import ROOT_TASK, SIGMA0_TASK, ThreadId

from .invariants import check, counts
from .trace import DEFAULT_SIZE, NOTE_KINDS, Tracer, switch
from .traceport import TracePort

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["ControlPort"]


class ControlPort:
    def __init__(self, k: "Kernel"):
        self.k = k
        self.sock = k.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, 1 << 20)
        path = os.path.join(k.rundir, "control.sock")
        self.sock.bind(f"ipc://{path}")
        os.chmod(path, 0o600)
        k.extra_sources[self.sock] = self.serve
        self.side = TracePort(k)            # tracing on/off, and notes pushed (traceport.py)
        self.handlers = {"status": self.status, "ps": self.ps, "shutdown": self.shutdown,
                         "irqs": self.irqs, "check": self.check, "plug": self.plug,
                         "unplug": self.unplug, "tune": self.tune, "trace": self.trace}

    def serve(self) -> None:
        try:
            raw = self.sock.recv(zmq.NOBLOCK)
        except zmq.Again:
            return
        try:
            req = msgpack.unpackb(raw, raw=False)
            reply = self.handlers[req["op"]](req)
        except Exception as e:            # the operator gets told, the kernel goes on
            reply = {"error": f"{type(e).__name__}: {e}"}
        self.sock.send(msgpack.packb(reply, use_bin_type=True))

    def status(self, req: dict) -> dict:
        k = self.k
        pool = k.vm.pool
        return {"pid": os.getpid(), "site": k.site, "memory": k.machine.memory.size,
                "kernel_frames": {"used": pool.used, "total": pool.total},
                "tasks": len(k.tasks),
                "threads": sum(len(t.threads) for t in k.tasks.values()),
                "devices": [d.describe() for d in k.machine.devices.values()],
                "ready": os.path.exists(os.path.join(k.rundir, "ready")),
                "alive": {"sigma0": SIGMA0_TASK in k.tasks, "root": ROOT_TASK in k.tasks},
                "counts": counts(k)}

    def ps(self, req: dict) -> dict:
        rows = []
        for task in sorted(self.k.tasks.values(), key=lambda t: t.no):
            cpu = rss = None
            try:
                p = psutil.Process(task.pid)
                times = p.cpu_times()
                cpu, rss = times.user + times.system, p.memory_info().rss
            except (psutil.Error, TypeError, ValueError):
                pass
            threads = [{"lthread": t.lthread, "id": str(ThreadId(t.tid)), "state": t.state.value,
                        "partner": str(ThreadId(t.partner)) if t.partner and t.blocked else "",
                        "pager": str(ThreadId(t.pager)) if t.pager else "",
                        "prio": t.prio, "irq": t.irq, "cpu": round(t.cpu(), 2)}
                       for t in sorted(task.threads.values(), key=lambda t: t.lthread)]
            rows.append({"task": task.no, "id": str(ThreadId(task.tid(0))),
                         "chief": task.chief.no if task.chief else None,
                         "entry": task.entry, "pid": task.pid, "cpu": cpu, "rss": rss,
                         "threads": threads})
        return {"tasks": rows}

    def irqs(self, req: dict) -> dict:
        return {"irqs": self.k.irq.describe()}

    def check(self, req: dict) -> dict:
        """The kernel's self-check: violated invariants (none = consistent), and the
        table sizes and open fds a test compares before and after to see leaks."""
        seconds: dict = {}
        violations = check(self.k, seconds)
        return {"violations": violations, **counts(self.k), "seconds": seconds}

    def plug(self, req: dict) -> dict:
        """Put a card into the running machine (ISA hot-plug); its driver comes after."""
        kind, name = req["kind"], str(req["name"])
        options = {k: req[k] for k in ("disk", "ctrl") if k in req} if kind == "ata" else {}
        dev = self.k.machine.plug(kind, name, int(req["port"]), int(req["irq"]), **options)
        if kind == "uart":                          # its far end: a pty, like COM1/COM2
            with open(os.path.join(self.k.rundir, f"{name}.pty"), "w") as f:
                f.write(dev.attach_pty())
        self.k.sources_changed()
        return {"plugged": dev.describe()}

    def tune(self, req: dict) -> dict:
        """Set a device model's timing (for benchmarks that want real device speed)."""
        name, attr, value = str(req["name"]), str(req["attr"]), float(req["value"])
        self.k.machine.tune(name, attr, value)
        return {"tuned": {name: {attr: value}}}

    def unplug(self, req: dict) -> dict:
        """Take a card out; its ports float and its IRQ line is free again."""
        dev = self.k.machine.unplug(str(req["name"]))
        try:
            os.unlink(os.path.join(self.k.rundir, f"{dev.name}.pty"))
        except FileNotFoundError:
            pass
        self.k.sources_changed()
        return {"unplugged": dev.describe()}

    def trace(self, req: dict) -> dict:
        """`mk trace`: {"action": "start", "size": N} switches tracing on with a ring of
        N entries; "stop" drains it and switches it off; "drain" drains it and goes on
        (`mk top`); "status" tells; "note" adds an event of a kind in NOTE_KINDS (`tid`
        and the kind's fields) to a running trace, as a push to notes.sock does."""
        k, action = self.k, req.get("action")
        if action == "status":
            tr = k.tracer
            return {"tracing": tr is not None, "events": len(tr.ring) if tr else 0,
                    "size": tr.ring.maxlen if tr else None}
        if action == "start":
            if k.tracer is not None:
                return {"error": "a trace is already running (mk trace stop)"}
            switch(k, Tracer(k, req.get("size", DEFAULT_SIZE)))
            self.side.switched(True)
            return {"tracing": True, "size": k.tracer.ring.maxlen}
        if k.tracer is None:
            return {"error": "no trace was started (mk trace start)"}
        if action in ("stop", "drain"):
            out = k.tracer.drain()
            if action == "stop":
                switch(k, None)
                self.side.switched(False)
            return out
        if action == "note":
            if req.get("kind") not in NOTE_KINDS or type(req.get("tid")) is not int:
                return {"error": f"trace note: a kind of {sorted(NOTE_KINDS)} and a tid"}
            k.tracer.pushed({key: v for key, v in req.items() if key not in ("op", "action")})
            return {"ok": True}
        return {"error": f"trace: no action {action!r} (start, stop, drain, status, note)"}

    def shutdown(self, req: dict) -> dict:
        self.k.stop()
        return {"ok": True}

    def close(self) -> None:
        self.sock.close(0)
        self.side.close()
