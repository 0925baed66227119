"""/net: the file systems of the other nodes of the cluster, as QNX shows them.

`/net/NODE/PATH` is the file PATH of NODE's ext2 file system, served by NODE's own fs
server, which the Unix server calls by remote IPC (`FsClient` with the name "fs@NODE",
docs/net.md "Names across nodes"); this node's own name is its local fs. `/net` itself
is a directory made up here: its entries are this node and the peers its comm server
hears (protocols/comm.py NODES).

Paths are routed by their absolute form (the cwd's path joined with the path, `..`
taken lexically), so a relative path from a cwd under /net stays on that node, and
`..` from /net/n2 climbs back to /net. An open file keeps the fs client it was opened
with (fd.File), so it goes on talking to its node.
"""
from __future__ import annotations

import errno
import os
import posixpath
import stat as S

from protocols.client import ServiceError
from protocols.comm import CommClient
from protocols.fs import FsClient

__all__ = ["NET", "Net", "net_name", "not_here", "under_net"]

NET = "/net"
DIR_TYPE = 2                     # ext2's directory type in READDIR entries
REMOTE_PATIENCE = 2.0            # seconds to find NODE's fs registered


def net_name(rt) -> str:
    """This node's name: its folder's basename ("mk" when it has none)."""
    return os.path.basename(rt.rundir.rstrip("/")) if getattr(rt, "rundir", "") else "mk"


class Net:
    """Where paths go: `route(cwd, path)`; the /net directory's own answers."""

    def __init__(self, rt, local: FsClient):
        self.rt, self.local = rt, local
        self.me = net_name(rt)
        self.remote: dict[str, FsClient] = {}

    def fs(self, node: str) -> FsClient:
        """The fs server of `node` (this node's: the local one)."""
        if node == self.me:
            return self.local
        fs = self.remote.get(node)
        if fs is None:
            fs = FsClient(self.rt, name=f"fs@{node}", patience=REMOTE_PATIENCE)
            self.remote[node] = fs
        return fs

    def route(self, cwd: tuple[int, str], path: str):
        """(fs client, start inode, path as that server sees it) for `path` seen from
        `cwd` (ino, path); fs None: the /net directory itself."""
        absolute = posixpath.normpath(posixpath.join(cwd[1], path))
        absolute = "/" + absolute.lstrip("/")
        if absolute == NET:
            return None, 0, "/"
        if absolute.startswith(NET + "/"):
            node, _, rest = absolute[len(NET) + 1:].partition("/")
            return self.fs(node), 0, "/" + rest
        if under_net(cwd[1]):                    # `..` out of /net: the local root
            return self.local, 0, absolute
        return self.local, cwd[0], path

    def nodes(self) -> list[str]:
        """This node and every live peer its comm server knows, sorted."""
        names = {self.me}
        try:
            table = CommClient(self.rt, patience=1.0).nodes()
        except (ServiceError, OSError):
            return sorted(names)
        names.update(p["name"] for p in table.get("peers", ()) if p.get("alive"))
        return sorted(names)

    def entries(self, start: int) -> tuple[int, tuple]:
        """READDIR of /net: ".", ".." and a directory per node (all in one page)."""
        if start:
            return 0, ()
        rows = [(".", 0), ("..", 2)] + [(n, 0) for n in self.nodes()]
        return 0, tuple(b"%s\0%d\0%d" % (n.encode(), ino, DIR_TYPE) for n, ino in rows)

    @staticmethod
    def stat() -> tuple:
        """STAT of /net: a directory nobody may write."""
        return (0, S.S_IFDIR | 0o555, 2, 0, 0, 0, 0, 0, 0, 0)


def under_net(path: str) -> bool:
    return path == NET or path.startswith(NET + "/")


def not_here(what: str = "/net") -> OSError:
    """What changing /net itself gets: it is made up, read-only."""
    return OSError(errno.EROFS, f"{what}: read-only")
