"""The well-known tasks and names of a node: who runs where, written once.

The kernel creates sigma0 (task 2) and root (task 4); root creates the rest with these
numbers at boot (servers/root.py), so every task can reach the name server without
asking anyone, and find every other server by name there.
"""
from __future__ import annotations

from microkernel.abi import COMM_TASK, ROOT_TASK, SIGMA0_TASK, ThreadId

__all__ = ["SIGMA0_TASK", "ROOT_TASK", "PAGER_TASK", "NAMES_TASK", "CONSOLE_TASK",
           "COMM_TASK", "DSM_TASK", "FS_TASK", "TTY_TASK", "UNIX_TASK", "DRIVER_TASKS",
           "FIRST_USER_TASK", "FIRST_GIVEN_TASK", "LAST_GIVEN_TASK", "FS", "TTY", "UNIX",
           "COMM", "DSM", "CONSOLE_LINE", "names_id"]

PAGER_TASK = 5                   # the default pager (servers/pager.py)
NAMES_TASK = 6                   # the name server (servers/names.py)
CONSOLE_TASK = 7                 # the serial console's monitor (servers/console.py)
DSM_TASK = 9                     # distributed shared memory's pager (servers/dsm)
FS_TASK = 16                     # the file server (servers/fs.py)
TTY_TASK = 17                    # the tty server (servers/tty.py)
UNIX_TASK = 18                   # the Unix personality (personalities/unix/server.py)
DRIVER_TASKS = range(32, 64)     # drivers, one task each (servers/devmgr.py)
FIRST_USER_TASK = 64             # `mk run` tasks: 64 .. FIRST_GIVEN_TASK - 1
FIRST_GIVEN_TASK = 1024          # numbers root hands to tasks that ask (ALLOC_TASK)
LAST_GIVEN_TASK = 2047

FS, TTY, UNIX, COMM, DSM = "fs", "tty", "unix", "comm", "dsm"     # the servers' registered names
CONSOLE_LINE = "com1"                   # the console monitor's serial line (its driver)


def names_id(site: int) -> ThreadId:
    """The name server's id on node `site`: task 6, lthread 0, the first incarnation
    (version 1), created by root (task 4, nest 0), so its chief is 4 and its nest 1."""
    return ThreadId.make(NAMES_TASK, 0, version=1, site=site, chief=ROOT_TASK, nest=1)
