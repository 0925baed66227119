"""Boot a node: the machine, the kernel, sigma0 and the root task; then serve.

The node's folder (under $MK_HOME) is its runtime directory, mode 0700: the kernel and
control sockets, `kernel.pid`, `logs/`, and `ready` once the root task has started its
servers. sigma0 (task 2) is given all free physical memory, identity-mapped, and every
I/O port the kernel does not keep for itself (the PIC's); every mapping tree is rooted
there. The root task (task 4, pager sigma0) owns all other task numbers and is told which
devices are plugged in, so it starts their drivers. Each UART's far end is a host
pseudo-terminal, its path in the file `comN.pty` (COM1's also in `console`, which
`mk console` connects to).
"""
from __future__ import annotations

import logging
import os
import signal

from hw import Machine
from hw.machine import NET0
from microkernel.abi import ROOT_TASK, SIGMA0_TASK

from .control import ControlPort
from .kernel import Kernel
from .tasks import create_task, destroy

__all__ = ["boot", "KERNEL_PORTS"]

log = logging.getLogger("mk.kernel")
KERNEL_PORTS = ((0x20, 2), (0xA0, 2))     # the PIC pair: the kernel acknowledges IRQs


def kernel_cpu(asked: int | None, site: int = 1) -> int | None:
    """The host CPU for the kernel process: `asked`, or by default, when it may use two
    or more, the last one for site 1, the one before for site 2, and so on (so the
    nodes of one host spread); None (any CPU) for -1 or a single CPU."""
    allowed = sorted(os.sched_getaffinity(0))
    if asked is None:
        return allowed[-1 - (site - 1) % len(allowed)] if len(allowed) > 1 else None
    if asked == -1:
        return None
    if asked not in allowed:
        raise SystemExit(f"mk-kernel: CPU {asked} is not one of {allowed}")
    return asked


def place_kernel(cpu: int | None) -> None:
    """Keep every thread of this process (the loop, ZeroMQ's I/O thread, the source
    watcher) on host CPU `cpu`. A message into the kernel wakes the I/O thread and then
    the loop, and one out wakes the I/O thread again: on one CPU those hand-offs are
    plain switches that find the message in that CPU's cache, where across CPUs each is
    a cross-CPU wakeup (docs/kernel.md gives the figures). Threads started later
    inherit the placement; task processes come from the factory, started before, and
    run on any CPU."""
    if cpu is None:
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:          # a thread that ended meanwhile
            pass
    log.info("kernel on host CPU %d", cpu)


def boot(rundir: str, mem_size: int = 16 << 20, site: int = 1, disk: str | None = None,
         root_entry: str = "servers.root:main", link: str | None = None,
         pcap: bool = False, cpu: int | None = None) -> None:
    """Bring the node up in `rundir` and serve until shutdown or SIGTERM; the kernel
    process runs on host CPU `cpu` (`kernel_cpu()` picks it)."""
    os.makedirs(os.path.join(rundir, "logs"), mode=0o700, exist_ok=True)
    os.chmod(rundir, 0o700)
    for stale in ("ready", "failed", "kernel.sock", "control.sock", "trace.sock", "notes.sock",
                  "root.sock", "net0.cable"):
        try:
            os.unlink(os.path.join(rundir, stale))
        except FileNotFoundError:
            pass
    machine = Machine(mem_size=mem_size, disk=disk)
    cable = link or f"bind:ipc://{os.path.join(rundir, 'net0.cable')}"
    machine.plug("nic", "net0", *NET0, link=cable,
                 mac=f"52:54:00:00:{site >> 8 & 0xFF:02x}:{site & 0xFF:02x}",
                 pcap=os.path.join(rundir, "net0.pcap") if pcap else None)
    for uart in machine.uarts:
        path = uart.attach_pty()
        for name in (f"{uart.name}.pty",) + (("console",) if uart.name == "com1" else ()):
            with open(os.path.join(rundir, name), "w") as f:
                f.write(path)
    k = Kernel(machine, rundir, site)
    control = ControlPort(k)
    place_kernel(kernel_cpu(cpu, site))     # after the task factory started: tasks roam
    signal.signal(signal.SIGTERM, lambda *_: k.stop())
    signal.signal(signal.SIGINT, lambda *_: k.stop())
    try:
        s0 = create_task(k, None, SIGMA0_TASK, "servers.sigma0:main", 0, 255,
                         [mem_size, k.vm.pool.start, k.vm.pool.end])
        k.vm.sigma0_populate(s0.space, exclude_ports=KERNEL_PORTS)
        create_task(k, None, ROOT_TASK, root_entry, s0.tid(0), 255,
                    [list(machine.devices)])
        for no in range(1, 2048):
            if no not in (SIGMA0_TASK, ROOT_TASK):
                k.owner[no] = ROOT_TASK
        with open(os.path.join(rundir, "kernel.pid"), "w") as f:
            f.write(str(os.getpid()))
        log.info("node up: %d MiB, site %d", mem_size >> 20, site)
        if os.environ.get("MK_PROFILE"):          # cProfile of the loop, for `mk bench` work
            import cProfile
            cProfile.runctx("k.run()", globals(), {"k": k},
                            os.path.join(rundir, "kernel.prof"))
        else:
            k.run()
    finally:
        shutdown(k)
        control.close()


def shutdown(k: Kernel) -> None:
    """Stop every task, release the machine, remove the node's sockets."""
    for task in sorted(k.tasks.values(), key=lambda t: -t.no):
        if k.tasks.get(task.no) is task:
            destroy(k, task, status=None)
    k.close()
    k.machine.close()
    for name in ("ready", "failed", "kernel.sock", "control.sock", "trace.sock", "notes.sock",
                 "root.sock", "kernel.pid",
                 "console", "net0.cable", "com1.pty", "com2.pty"):
        try:
            os.unlink(os.path.join(k.rundir, name))
        except FileNotFoundError:
            pass
    log.info("node down")
