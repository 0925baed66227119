"""Remote IPC, the kernel's part: where an off-site id leads, and the comm task's rights.

The kernel knows no network. A thread id names its node in `site`; an id whose site is
neither 0 (nil, the interrupts, an id made without a site) nor this node's is off-site
(the invalid id, all ones, is no thread at all). The communication server, the task at the well-known number
COMM_TASK, stands for every off-site thread, as V2's clans & chiefs would have it: it
is the chief of everything off-node.

  * Redirection: a message to an off-site id goes to the comm task's lthread 0 with
    the REDIRECTED flag and the id as `intended` (`Kernel.resolve`), as a chief gets
    its clan's outgoing messages; id_nearest names the comm task; a closed receive
    from an off-site id waits for a message in that id's name. With no comm task
    there is no one to go to: NOT_EXISTENT.
  * Deceit: the comm task alone may send in the name of an off-site thread (`speaks_for`,
    `Kernel.may_deceive`), and that message goes straight to its destination, past any
    chief: the message it answers went straight to the comm task past them too.
  * Errors: such a message of exactly [REMOTE_ERROR, result] is not delivered; it ends
    the IPC of the thread waiting in a closed receive from that off-site id with the V2
    error `result` (`error_notice`; ipc.py carries it out), so a caller of a node that
    has gone gets NOT_EXISTENT, like a caller of a dead task, even with timeout NEVER.

  * Grace: a send with timeout 0 to an off-site id (a server's reply to a remote
    client) waits up to GRACE for the comm task, which may be between two waits.

When the comm task ends, every thread waiting for an off-site partner gets NOT_EXISTENT
(tasks.py): no one is left who could answer it. docs/kernel.md, "Remote IPC".
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from microkernel.abi import COMM_TASK, Fault, KernelError
from microkernel.abi.errors import ERROR_BITS, FLAG_BITS
from microkernel.abi.ops import REMOTE_ERROR
from microkernel.abi.threadid import INVALID_RAW, SITE_MASK, SITE_SHIFT

from .thread import Thread, ThreadState

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["off_site", "route", "speaks_for", "error_notice", "grace", "GRACE"]

GRACE = 0.5                   # seconds a send with timeout 0 to an off-site id waits

_DEAD = ThreadState.DEAD


def off_site(k: "Kernel", tid: int) -> bool:
    """`tid` (a raw id, any int a request may carry) names a thread of another node."""
    site = (tid >> SITE_SHIFT) & SITE_MASK
    return site != 0 and site != k.site and 0 < tid < INVALID_RAW


def route(k: "Kernel", t: Thread, tid: int) -> Thread | None:
    """The comm task's lthread 0 if `tid` is off-site and `t` may reach it there; None
    if `tid` is not off-site, there is no comm task, or `t` is one of its threads (its
    off-site sends would come back to itself: it has the network for those)."""
    if not off_site(k, tid):
        return None
    comm = k.tasks.get(COMM_TASK)
    if comm is None or t.task is comm:
        return None
    c = comm.thread(0)
    return None if c.state is _DEAD else c


def grace(k: "Kernel", intended: int | None) -> float:
    """The send timeout that replaces 0 for a message to `intended`: GRACE if it is
    off-site (the comm task's lthread 0 is the network's queue: it takes the message
    within moments, though not always at this instant), else 0."""
    return GRACE if intended is not None and off_site(k, intended) else 0


def speaks_for(k: "Kernel", t: Thread, deceit) -> bool:
    """`t` is a thread of the comm task sending in the name of an off-site thread."""
    return t.task.no == COMM_TASK and type(deceit) is int and off_site(k, deceit)


def error_notice(words: list, items, frames) -> int | None:
    """The V2 result byte of a message [REMOTE_ERROR, result] (no items, no strings), or
    None for any other message; a result that is not an IPC error is refused."""
    if len(words) != 2 or words[0] != REMOTE_ERROR or items or frames:
        return None
    result = words[1]
    if result > 0xFF or result & FLAG_BITS or not result & ERROR_BITS:
        raise KernelError(Fault.BAD_ARGUMENT, f"{result:#x} is not an IPC error result "
                          "(errors.result_byte: a code and its phase)")
    return result
