"""Operation numbers on the wire, defined once for the kernel's table and the runtime.

1..7 are the seven V2 system calls in their V2 order (int 0x30..0x36). The numbers from
16 on are not system calls: they are what the simulated CPU does that must reach the
machine the kernel owns — a page fault trap, and the port I/O instructions (IN, OUT,
REP INSW/OUTSW, and PORT_BATCH: a short run of those in one trap, as a CPU runs
several IN/OUT instructions without the kernel between them), which the kernel checks
against the task's I/O bitmap. HELLO binds a socket to a thread once; EXIT says a
thread's host code returned.
"""
from __future__ import annotations

import enum

__all__ = ["Op", "ABI_VERSION", "RcvMode", "REPLY_FAULT", "TASK_EXIT_NOTICE",
           "EXIT_DELETED", "exit_status", "REMOTE_ERROR", "PF_PRESENT", "PF_WRITE",
           "PAGE_FAULT_EIP", "NEAREST_SAME", "NEAREST_OUTER", "NEAREST_INNER"]

ABI_VERSION = 1


class Op(enum.IntEnum):
    HELLO = 0
    IPC = 1
    ID_NEAREST = 2
    FPAGE_UNMAP = 3
    THREAD_SWITCH = 4
    THREAD_SCHEDULE = 5
    LTHREAD_EX_REGS = 6
    TASK_NEW = 7
    PAGE_FAULT = 16
    PORT_IN = 17
    PORT_OUT = 18
    PORT_INS = 19
    PORT_OUTS = 20
    EXIT = 21
    PORT_BATCH = 22


class RcvMode(enum.IntEnum):
    """The receive phase of an IPC: none, closed (from one thread), open (from any)."""
    NONE = 0
    CLOSED = 1
    OPEN = 2


# A reply header whose first element is REPLY_FAULT is a refusal: [REPLY_FAULT, code, text].
REPLY_FAULT = -1

# The first word of the notice a chief receives (by open wait, from the dead task's id)
# when a task of its clan ends; the second word is the host exit status (or -signal),
# or EXIT_DELETED for a task deleted (by task_new, or with its chief) rather than ended.
TASK_EXIT_NOTICE = 0xFFFF_0E71
EXIT_DELETED = 0xFFFF_FFFF


def exit_status(word: int) -> int | None:
    """A death notice's status word as the host's: the exit code, -signal, or None for
    a task deleted rather than ended."""
    if word == EXIT_DELETED:
        return None
    return word - (1 << 32) if word >> 31 else word


# The first word of the one message the kernel does not deliver: [REMOTE_ERROR, result]
# sent by the comm task in the name of an off-site thread ends, instead, the IPC of the
# local thread waiting in a closed receive from that thread, with `result` (an IPC
# result byte, errors.result_byte(code, phase): the error the remote partner's IPC came
# to, or NOT_EXISTENT for a node that has gone). docs/kernel.md, "Remote IPC".
REMOTE_ERROR = 0xFFFF_0E72

# id_nearest relations (V2 §2): same clan, redirected out to own chief, into an inner clan.
NEAREST_SAME, NEAREST_OUTER, NEAREST_INNER = 0x00, 0x04, 0x0C

# The page-fault message the kernel sends a pager on a thread's behalf (V2 §5):
# [address | PF_WRITE | PF_PRESENT, PAGE_FAULT_EIP]; the second word is V2's faulting EIP,
# which the simulated CPU has none to give.
PF_PRESENT, PF_WRITE = 0x1, 0x2
PAGE_FAULT_EIP = 0xFFFF_FFFF
