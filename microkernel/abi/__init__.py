"""The ABI shared by the kernel and every task: ids, fpages, messages, codes, wire.

This is the only part of `microkernel` that code above the kernel may import besides
`microkernel.user`.
"""
from .codec import CodecError, decode_header, encode_header
from .errors import (Fault, IpcCode, IpcError, KernelError, Phase, ResultFlag,
                     result_byte, split_result)
from .fpage import PAGE_SIZE, USER_TOP, Fpage, GrantItem, MapItem, place
from .layout import Delivery, IpcRequest
from .message import MAX_STRING, MAX_STRINGS, MAX_WORDS, Msg, StringLimits
from .ops import ABI_VERSION, REPLY_FAULT, Op, RcvMode
from .threadid import (COMM_TASK, INVALID, NIL, ROOT_TASK, SIGMA0_TASK, ThreadId, irq_id)
from .timeouts import NEVER

__all__ = [
    "CodecError", "decode_header", "encode_header",
    "Fault", "IpcCode", "IpcError", "KernelError", "Phase", "ResultFlag",
    "result_byte", "split_result",
    "PAGE_SIZE", "USER_TOP", "Fpage", "GrantItem", "MapItem", "place",
    "Delivery", "IpcRequest",
    "MAX_STRING", "MAX_STRINGS", "MAX_WORDS", "Msg", "StringLimits",
    "ABI_VERSION", "REPLY_FAULT", "Op", "RcvMode",
    "COMM_TASK", "INVALID", "NIL", "ROOT_TASK", "SIGMA0_TASK", "ThreadId", "irq_id",
    "NEVER",
]
