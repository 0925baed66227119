"""The host's e2fsprogs (mke2fs, e2fsck, debugfs): finding and running them.

These are the judges of this package: images are made by mke2fs, and e2fsck decides
whether what this code wrote is consistent. Not used by the fs server itself.
"""
from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["MkfsError", "tool", "e2fsck", "is_clean", "debugfs"]

_DIRS = ("/sbin", "/usr/sbin", "/usr/local/sbin")


class MkfsError(RuntimeError):
    """A host tool is missing or failed."""


def tool(name: str) -> str:
    """The path of host tool `name`; MkfsError if it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for d in _DIRS:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise MkfsError(f"{name} not found: install e2fsprogs (apt-get install e2fsprogs)")


def e2fsck(path, fix: bool = False) -> tuple[int, str]:
    """Run a forced check (read-only unless `fix`): (exit status, output). 0 = clean."""
    r = subprocess.run([tool("e2fsck"), "-f", "-y" if fix else "-n", os.fspath(path)],
                       capture_output=True, text=True, errors="replace")
    return r.returncode, r.stdout + r.stderr


def is_clean(path) -> tuple[bool, str]:
    """(e2fsck -fn found nothing at all, its output). Stricter than the exit status,
    which stays 0 for some problems e2fsck declines to count (answered "no")."""
    rc, out = e2fsck(path)
    return rc == 0 and "? no" not in out, out


def debugfs(path, request: str) -> str:
    """The output of one debugfs request (e.g. "cat /etc/motd") on image `path`."""
    r = subprocess.run([tool("debugfs"), "-R", request, os.fspath(path)],
                       capture_output=True)
    if r.returncode:
        raise MkfsError(f"debugfs {request!r}: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode(errors="surrogateescape")
