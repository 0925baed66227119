"""The simulated 486 PC: one module per part, importing nothing else of the project.

`Machine` puts the parts together; `mmu.translate` is the one page-table walk used by
the kernel and by every task's runtime.
"""
from . import mmu
from .machine import Machine

__all__ = ["Machine", "mmu"]
