"""Result codes: the V2 IPC error codes with their phase, and the request faults.

An IPC result byte (V2 `ipc.h`) holds flag bits in its low nibble and the error in
`0xF0`: bits 5..7 the code, bit 4 set when the error happened in the send phase.
`IpcError` carries the code and phase. Requests that are not IPC (or that are malformed)
are refused with a `Fault` code instead, carried by `KernelError`.
"""
from __future__ import annotations

import enum

__all__ = ["IpcCode", "Phase", "IpcError", "Fault", "KernelError", "ResultFlag",
           "result_byte", "split_result", "SEND_PHASE_BIT", "ERROR_BITS", "FLAG_BITS"]


class IpcCode(enum.IntEnum):
    """The V2 error codes (`result & 0xE0`, NOT_EXISTENT is 0x10 in either phase)."""
    OK = 0x00
    NOT_EXISTENT = 0x10
    TIMEOUT = 0x20
    CANCELED = 0x40
    MAP_FAILED = 0x60
    SND_PF_TIMEOUT = 0x80
    RCV_PF_TIMEOUT = 0xA0
    ABORTED = 0xC0
    MSG_CUT = 0xE0


class Phase(enum.Enum):
    SEND = "send"
    RECEIVE = "receive"


class ResultFlag(enum.IntFlag):
    """The low nibble of the V2 result: what happened besides the error."""
    NONE = 0
    DECEITED = 0x01
    FPAGE_RECEIVED = 0x02
    REDIRECTED = 0x04
    SRC_INSIDE = 0x08


SEND_PHASE_BIT = 0x10
ERROR_BITS, FLAG_BITS = 0xF0, 0x0F       # a result byte's error (code | phase), its flags


def result_byte(code: IpcCode, phase: Phase) -> int:
    """The V2 result byte for an error in a phase (RE* even, SE* odd nibble)."""
    if code == IpcCode.OK or code == IpcCode.NOT_EXISTENT:
        return int(code)
    return int(code) | (SEND_PHASE_BIT if phase is Phase.SEND else 0)


def split_result(byte: int) -> tuple[IpcCode, Phase]:
    """Inverse of `result_byte` (NOT_EXISTENT is reported as a send-phase error)."""
    if byte & ERROR_BITS == IpcCode.NOT_EXISTENT:
        return IpcCode.NOT_EXISTENT, Phase.SEND
    phase = Phase.SEND if byte & SEND_PHASE_BIT else Phase.RECEIVE
    return IpcCode(byte & 0xE0), phase


class IpcError(Exception):
    """An IPC that failed: `.code` (IpcCode) and `.phase` (Phase)."""

    def __init__(self, code: IpcCode, phase: Phase, detail: str = ""):
        self.code = IpcCode(code)
        self.phase = phase
        text = f"{self.code.name} in {phase.value} phase"
        super().__init__(f"{text}: {detail}" if detail else text)

    @property
    def result(self) -> int:
        return result_byte(self.code, self.phase)


class Fault(enum.IntEnum):
    """Why the kernel refused a request outright (not an IPC result)."""
    BAD_REQUEST = 1        # malformed header, unknown operation, wrong types
    BAD_ARGUMENT = 2       # a value out of range (fpage outside the space, bad width)
    NO_PERMISSION = 3      # MCP too low, not the chief, port not in the I/O bitmap
    NOT_EXISTENT = 4       # a task or thread that does not exist
    NO_MEMORY = 5          # out of kernel memory (page tables, mapping nodes)
    BUSY = 6               # the resource is taken (task number in use, IRQ owned)
    VERSION = 7            # wire protocol version mismatch
    BAD_IDENTITY = 8       # the hello's secret did not match


class KernelError(Exception):
    """A request the kernel refused: `.fault` (Fault) and a message."""

    def __init__(self, fault: Fault, message: str = ""):
        self.fault = Fault(fault)
        self.text = message
        super().__init__(f"{self.fault.name}: {message}" if message else self.fault.name)
