"""A program as the Unix server loads it and crt0 runs it: the personality's own
conventions, beside the system-call protocol (protocols/unix.py).

A program file is Python source whose first line is MAGIC. exec copies it into pages
of the server mapped read-only at TEXT_BASE of the new task (at most TEXT_MAX bytes)
and starts the task at CRT0, which reads the text back through the MMU; SPAWN_MODULE
starts CRT0_MODULE with a Python function instead. Anonymous and file memory (MMAP)
is handed out from MMAP_BASE up.
"""
from __future__ import annotations

__all__ = ["TEXT_BASE", "TEXT_MAX", "MMAP_BASE", "MAGIC", "CRT0", "CRT0_MODULE"]

TEXT_BASE = 0x0040_0000         # where a program's text is mapped
TEXT_MAX = 4 << 20
MMAP_BASE = 0x1000_0000         # memory handed out by MMAP
MAGIC = b"#!mk"                 # the first line of every program
CRT0 = "personalities.unix.crt0:start"
CRT0_MODULE = "personalities.unix.crt0:start_module"
