"""Remote calls across nodes, for cli/timeline.py: one flow per call from the caller's
slice on its node, through the frames that carry it, to the delivery on the other node,
the server's reply and its frames back, to the caller's delivery (docs/trace.md).

Each node's converter collects, in a `Remote`, what it saw of remote IPC: the calls to
threads of other sites (with the steps on this node, e.g. the comm task's receipt of
the redirected message), the sends to such threads, the deliveries from them, and the
comm task's frame notes. `stitch` pairs them across nodes by the message's ends (the
`from` and `to` of its first fragment) and the frame's link and txn, each step the
first of its kind after the one before (one host clock for every node). A part that
was not traced (the other node, or a frame) is left out and the flow goes on.
"""
from __future__ import annotations

from bisect import bisect_right

from microkernel.abi.threadid import SITE_MASK, SITE_SHIFT

__all__ = ["EPS", "Remote", "stitch"]

EPS = 0.001                 # 1 ns: a flow point inside the slice it binds to


def site(tid) -> int:
    return (tid >> SITE_SHIFT) & SITE_MASK if type(tid) is int and tid > 16 else 0


class Remote:
    """One node's view of remote IPC (times in µs, as in the records)."""

    def __init__(self, own_site):
        self.own = own_site
        # (caller, remote dest, start point, [(tid, point)] on this node, end point)
        self.calls: list[tuple] = []
        self.frames: list[tuple] = []          # (note, comm tid, point), in time order
        self.sends: dict[tuple, list] = {}     # (local sender, remote dest) -> points
        self.receipts: dict[tuple, list] = {}  # (remote sender, local receiver) -> points
        self._index: dict | None = None

    def off_site(self, tid) -> bool:
        s = site(tid)
        return bool(s) and self.own is not None and s != self.own

    def add(self, what: str, key: tuple, point: float) -> None:
        getattr(self, what).setdefault(key, []).append(point)

    @staticmethod
    def frame_name(r: dict) -> str:
        """`frame sent data 5.0 to site 2`, `frame received ack from site 1`."""
        what, kind = r.get("dir", "sent"), r.get("frame", "")
        seq = f" {r.get('txn')}.{r.get('frag')}" if kind == "data" else ""
        peer = (f"from site {r.get('src')}" if what == "received" else
                "to all" if not r.get("dst") else f"to site {r.get('dst')}")
        return f"frame {what} {kind}{seq} {peer}"

    def index(self) -> dict:
        """The frames by what finds them, each list in time order: ("sent" | "came",
        from, to) for a message's first fragment, ("done", link, txn) for the fragment
        that completed a message received here."""
        if self._index is None:
            found: dict[tuple, list] = {}
            for r, tid, point in self.frames:
                what = r.get("dir")
                if what in ("sent", "received") and _ints(r.get("from"), r.get("to")):
                    found.setdefault(("sent" if what == "sent" else "came", r["from"], r["to"]),
                                     []).append((point, r, tid))
                link = (r.get("src"), r.get("boot"), r.get("dst"), r.get("txn"))
                if what == "received" and r.get("frame") == "data" and _ints(*link) \
                        and r.get("frag") == r.get("nfrags", 1) - 1:
                    found.setdefault(("done", *link), []).append((point, r, tid))
            self._index = {k: ([p for p, _, _ in v], [(r, t, p) for p, r, t in v])
                           for k, v in ((k, sorted(v, key=lambda x: x[0]))
                                        for k, v in found.items())}
            for points in (*self.sends.values(), *self.receipts.values()):
                points.sort()
        return self._index

    def find(self, key: tuple, after: float, before: float):
        """The first frame under `key` (index()) after `after` and before `before`."""
        points, frames = self.index().get(key, ((), ()))
        i = bisect_right(points, after)
        return frames[i] if i < len(points) and points[i] < before else None


def _ints(*values) -> bool:
    return all(type(v) is int for v in values)


def _first(points, after: float, before: float):
    i = bisect_right(points or (), after)
    return points[i] if points and i < len(points) and points[i] < before else None


def stitch(nodes: list, ids) -> None:
    """A flow per remote call seen on any of `nodes` (timeline.py's converters, with
    `.remote`, `.site` and `.emit`), with flow ids from `ids`."""
    by_site = {n.site: n for n in nodes if n.site is not None}
    for n in nodes:
        n.remote.index()
    for a in nodes:
        for caller, dest, start, steps, end in a.remote.calls:
            b = by_site.get(site(dest))
            path = [(a, caller, start)] + [(a, t, p) for t, p in steps]
            _hop(path, a, b, caller, dest, end)
            if b is not None:
                got = _first(b.remote.receipts.get((caller, dest)), path[-1][2], end)
                if got is not None:
                    path.append((b, dest, got))
                    sent = _first(b.remote.sends.get((dest, caller)), got, end)
                    if sent is not None:
                        path.append((b, dest, sent))
            _hop(path, b, a, dest, caller, end)
            fid = next(ids)
            for i, (node, tid, point) in enumerate(path):
                node.emit("s" if i == 0 else "t", tid, point, "remote call", cat="flow",
                          id=fid)
            a.emit("f", caller, end, "remote call", cat="flow", id=fid, bp="e")


def _hop(path: list, here, there, frm: int, to: int, end: float) -> None:
    """The message frm -> to leaving node `here` and arriving on `there` (either may be
    None: not traced), appended to `path` where found."""
    if here is None:
        came = there.remote.find(("came", frm, to), path[-1][2], end)
        if came is not None:
            path.append((there, came[1], came[2]))
        return
    out = here.remote.find(("sent", frm, to), path[-1][2], end)
    if out is None:
        return
    path.append((here, out[1], out[2]))
    if there is not None:
        r = out[0]
        came = there.remote.find(("done", r.get("src"), r.get("boot"), r.get("dst"),
                                  r.get("txn")), out[2], end)
        if came is not None:
            path.append((there, came[1], came[2]))
