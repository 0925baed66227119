"""The task side: the runtime `rt` (system calls, MMU walk, port I/O) and task start-up."""
from .runtime import Runtime
from .vmem import MemoryFault

__all__ = ["Runtime", "MemoryFault"]
