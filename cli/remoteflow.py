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

    def off_site(self, tid) -> bool:
        s = site(tid)
        return bool(s) and self.own is not None and s != self.own

    def add(self, what: str, key: tuple, point: float) -> None:
        getattr(self, what).setdefault(key, []).append(point)

    @staticmethod
    def frame_name(r: dict) -> str:
        """`frame sent data 5.0 to site 2`, `frame received ack from site 1`."""
        what, kind = r.get("dir", "sent"), r.get("frame", "")
        seq = f" {r['txn']}.{r['frag']}" if kind == "data" and "txn" in r else ""
        peer = (f"from site {r.get('src')}" if what == "received" else
                "to all" if not r.get("dst") else f"to site {r.get('dst')}")
        return f"frame {what} {kind}{seq} {peer}"

    def sent(self, frm: int, to: int, after: float, before: float):
        """The first fragment of the message frm -> to first sent after `after`."""
        for r, tid, point in self.frames:
            if after < point < before and r.get("from") == frm and r.get("to") == to \
                    and r.get("dir") == "sent":
                return r, tid, point
        return None

    def received(self, sent: dict, after: float, before: float):
        """The frame that completed the message `sent` began, as it came in here."""
        key = (sent.get("src"), sent.get("boot"), sent.get("dst"), sent.get("txn"))
        for r, tid, point in self.frames:
            if after < point < before and r.get("dir") == "received" \
                    and r.get("frame") == "data" \
                    and (r.get("src"), r.get("boot"), r.get("dst"), r.get("txn")) == key \
                    and r.get("frag") == r.get("nfrags", 1) - 1:
                return r, tid, point
        return None

    def came(self, frm: int, to: int, after: float, before: float):
        """The first fragment of the message frm -> to first received after `after`
        (when its sender's node was not traced)."""
        for r, tid, point in self.frames:
            if after < point < before and r.get("from") == frm and r.get("to") == to \
                    and r.get("dir") == "received":
                return r, tid, point
        return None


def _first(points, after: float, before: float):
    return next((p for p in points or () if after < p < before), None)


def stitch(nodes: list, ids) -> None:
    """A flow per remote call seen on any of `nodes` (timeline.py's converters, with
    `.remote`, `.site` and `.emit`), with flow ids from `ids`."""
    by_site = {n.site: n for n in nodes if n.site is not None}
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
        came = there.remote.came(frm, to, path[-1][2], end)
        if came is not None:
            path.append((there, came[1], came[2]))
        return
    out = here.remote.sent(frm, to, path[-1][2], end)
    if out is None:
        return
    path.append((here, out[1], out[2]))
    if there is not None:
        came = there.remote.received(out[0], out[2], end)
        if came is not None:
            path.append((there, came[1], came[2]))
