"""Gone: the fs protocol is protocols/fs.py. These names stay importable only for the
modules that still import them until the conversion is merged (servers/root.py,
personalities/unix/server.py, tests/integration/tasks/unix_mmap_tasks.py); delete
this file then."""
from protocols.fs import FsClient, Op, Stat, StatFs

__all__ = ["FsClient", "Stat", "StatFs", "UMOUNT"]

UMOUNT = int(Op.UMOUNT)
