"""The one exception of the ext2 package: a POSIX errno plus a message.

FsError is an OSError, so `e.errno` holds the code (errno.ENOENT, ...) that the fs server
sends back to its clients unchanged; the message is for logs and humans.
"""
from __future__ import annotations

import os

__all__ = ["FsError"]


class FsError(OSError):
    """A file-system operation failed with POSIX error `code` (an `errno` constant)."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(code, message or os.strerror(code))
