"""What root starts at boot (servers/root.py calls `boot`): the default pager, the name
server, the IRQ holders, a driver for each plugged device, and the kept servers: fs
(with a disk), tty, the console monitor (with COM1), Unix, comm (remote IPC: the kernel
sends off-site IPC to COMM_TASK) and dsm (distributed shared memory's pager). All but
the pager are kept alive by servers/devmgr.py.
"""
from __future__ import annotations

import importlib.util

from microkernel.abi import Fpage, ThreadId
from protocols.client import Service
from protocols.fs import FsClient
from protocols.root import HOLDER_BASE
from protocols.sigma0 import grab_ports
from protocols.tty import TtyClient
from protocols.unix import Unix
from protocols.wellknown import (COMM_TASK, CONSOLE_LINE, CONSOLE_TASK, DSM_TASK, FS_TASK,
                                 NAMES_TASK, PAGER_TASK, TTY_TASK, UNIX_TASK, names_id)

from .devmgr import DEFAULT_DRIVERS, DriverManager, holder_loop

__all__ = ["boot"]

UNIX_ENTRY = "personalities.unix.server:main"     # named, not imported: it sits above us
COMM_ENTRY = "servers.comm:main"                  # remote IPC's server, when there is one
DSM_ENTRY = "servers.dsm:main"                    # distributed shared memory's pager
DEVICE_DRIVER = {"pit": "timer"}   # device model name -> its driver's name


def boot(rt, devices) -> tuple[ThreadId, ThreadId, DriverManager, list[type[Service]]]:
    """Start the system's tasks; (pager, names, driver manager, the servers users need)."""
    sigma0 = rt.pager
    grab_ports(rt, Fpage.ports(0, 16))                     # every port sigma0 has
    pager = rt.task_new(PAGER_TASK, "servers.pager:main", sigma0, args=[int(sigma0)])
    names = names_id(rt.site)              # always this id: restarted with version 1
    mgr = DriverManager(rt, names, pager)
    mgr.start(mgr.add("names", "server", "servers.names:main", [], None, fixed=NAMES_TASK,
                      version=names.version, named=False))
    for irq in range(16):
        if irq != 2:
            rt.lthread_ex_regs(HOLDER_BASE + irq, holder_loop, args=(irq,))
    for dev in devices:
        name = DEVICE_DRIVER.get(dev, dev)
        if name in DEFAULT_DRIVERS:
            mgr.start(mgr.add(name, *DEFAULT_DRIVERS[name]))
    wanted: list[type[Service]] = [TtyClient]
    if "ata0" in devices:
        mgr.start(mgr.add("fs", "server", "servers.fs:main", [], None, fixed=FS_TASK))
        wanted.append(FsClient)
    mgr.start(mgr.add("tty", "server", "servers.tty:main", [], None, fixed=TTY_TASK))
    if CONSOLE_LINE in devices:
        mgr.start(mgr.add("console", "server", "servers.console:main", [], None,
                          fixed=CONSOLE_TASK, named=False))
    if importlib.util.find_spec(UNIX_ENTRY.split(":")[0]) is not None:
        mgr.start(mgr.add("unix", "server", UNIX_ENTRY, [], None, fixed=UNIX_TASK))
        wanted.append(Unix)
    if importlib.util.find_spec(COMM_ENTRY.split(":")[0]) is not None:
        # remote IPC: the kernel redirects IPC to other sites to this task (docs/kernel.md)
        mgr.start(mgr.add("comm", "server", COMM_ENTRY, [], None, fixed=COMM_TASK))
    mgr.start(mgr.add("dsm", "server", DSM_ENTRY, [], None, fixed=DSM_TASK))
    return pager, names, mgr, wanted
