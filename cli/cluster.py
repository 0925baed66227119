"""The cluster from the command line: nodes booted and stopped on the switch, a node
joined to another host's switch, and every node of $MK_HOME listed.

The click commands stay thin: `up`, `down` and `status` (cli/main.py) call `boot`,
`join_up`, `stop`, `stop_all` and `rows` here; `mk link` and `mk switch` are in
cli/net.py. The switch starts with the first cluster `mk up` and stops when the last
node on it goes down (or with `mk down --all`). Nodes boot and stop in parallel, one
host thread each: a boot is a kernel process to spawn and watch, not work for this one.
"""
from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from cluster import ClusterError
from cluster.client import SwitchClient, join, leave
from cluster.config import ClusterSpec, NodeSpec
from cluster.keys import read_bundle

from .node import DISK_BYTES, Node, NodeError

__all__ = ["home", "boot", "join_up", "stop", "stop_all", "node_names", "rows",
           "link_text"]

JOINED = "joined"                   # in a joined node's folder: the switch's endpoint
BUNDLE = "switch.keys"              # in a joined node's folder: its keys (mode 0600)


def home() -> str:
    return os.environ.get("MK_HOME") or os.path.expanduser("~/.mk")


def _parallel(fn, items: list) -> list:
    """fn(item) for every item at once, in threads; results in order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(fn, items))


def _switch(sw: SwitchClient, pcap: bool, listen: str | None, echo, meanwhile) -> None:
    """Start the switch, doing `meanwhile()` while it starts, or give the running one
    what was asked (capture, listener)."""
    if not sw.running():
        pid = sw.spawn(pcap, listen)
        meanwhile()
        sw.wait(pid)
        st = sw.request("status")
        echo(f"switch up (pid {pid})" + (f", listening on {st['listen']}" if listen else "")
             + (f", capturing to {st['pcap']}" if pcap else ""))
        return
    meanwhile()
    st = sw.request("status")
    if pcap and not st["pcap"]:
        echo(f"switch: capturing to {sw.request('capture', on=True)['pcap']}")
    if listen and not st["listen"]:
        echo(f"switch: listening on {sw.request('listen', endpoint=listen)['listen']}")
    elif listen and st["listen"] != listen:
        echo(f"switch: already listening on {st['listen']}")


def _boot_one(job: tuple[NodeSpec, Node, str]) -> tuple[Node, bool, str | None, float]:
    """Boot one node cabled to `endpoint` and plug its extra drivers: (node, whether it
    is up, what went wrong, seconds)."""
    from .main import KINDS, plug
    spec, node, endpoint = job
    t0 = time.monotonic()
    try:
        node.up(spec.mem, spec.site, link=endpoint, disk=spec.disk)
    except NodeError as e:
        return node, False, str(e), time.monotonic() - t0
    took = time.monotonic() - t0
    for d in spec.drivers:
        try:
            plug(node, d.name, KINDS[d.name.rstrip("0123456789")], d.port, d.irq)
        except NodeError as e:
            return node, True, f"driver {d.name}: {e}", took
    return node, True, None, took


def boot(spec: ClusterSpec, pcap: bool, listen: str | None, echo) -> bool:
    """Boot `spec`'s nodes on the switch, all at once; whether every one is up."""
    sw = SwitchClient(home())
    t0 = time.monotonic()
    _switch(sw, pcap or spec.pcap, listen or spec.listen, echo, lambda: _images(spec))
    jobs, added = [], []
    try:
        for n in spec.nodes:
            known = {p["name"] for p in sw.request("status")["ports"]}
            endpoint = sw.request("add", name=n.name, site=n.site)["endpoint"]
            if n.name not in known:
                added.append(n.name)
            node = Node(n.name, home())
            if node.running():
                cabled = _cable_of(node) == f"connect:{endpoint}"
                echo(f"node {n.name} already up" + ("" if cabled else
                     "; its NIC is not cabled to the switch (mk down --node "
                     f"{n.name}, then up again)"))
            else:
                jobs.append((n, node, endpoint))
    except ClusterError:
        _unplug(sw, added)
        raise
    ok = True
    for node, up, error, took in _parallel(_boot_one, jobs):
        if up:
            echo(f"node {node.name} up (site {node_site(spec, node.name)}) in {took:.2f}s"
                 + (f", but {error}" if error else ""))
        else:
            echo(f"node {node.name} failed: {error}")
            _unplug(sw, [node.name])
        ok = ok and error is None
    echo(f"cluster {spec.source}: {len(spec.nodes)} nodes in {time.monotonic() - t0:.2f}s")
    return ok


def _images(spec: ClusterSpec) -> None:
    """Give every node of `spec` that has no disk image yet a copy of one fresh image:
    one build (mke2fs and the files of /bin) instead of one per node."""
    need = [Node(n.name, home()) for n in spec.nodes if n.disk is None]
    need = [n for n in need if not n.running() and not os.path.exists(n.path("disk.img"))]
    if not need:
        return
    from personalities.unix.image import build
    first = need[0].path("disk.img")
    os.makedirs(need[0].dir, mode=0o700, exist_ok=True)
    build(first, DISK_BYTES)
    for node in need[1:]:
        os.makedirs(node.dir, mode=0o700, exist_ok=True)
        _copy_sparse(first, node.path("disk.img"))


def _copy_sparse(src: str, dst: str, chunk: int = 1 << 16) -> None:
    """Copy a disk image, leaving holes where it is all zeros (as mke2fs made it)."""
    with open(src, "rb") as i, open(dst + ".tmp", "wb") as o:
        while block := i.read(chunk):
            if block.count(0) == len(block):
                o.seek(len(block), os.SEEK_CUR)
            else:
                o.write(block)
        o.truncate()
    os.replace(dst + ".tmp", dst)


def node_site(spec: ClusterSpec, name: str) -> int:
    return next(n.site for n in spec.nodes if n.name == name)


def _unplug(sw: SwitchClient, names: list[str]) -> None:
    """Take the ports of `names` off the switch; stop it when none is left."""
    left = None
    for name in names:
        try:
            left = sw.request("remove", name=name)["ports"]
        except ClusterError:
            pass
    if left == 0:
        sw.stop()


def _cable_of(node: Node) -> str | None:
    """The running node's net0 cable spec (None: no net0, or no answer)."""
    try:
        devices = node.control({"op": "status"}, timeout=3.0)["devices"]
    except NodeError:
        return None
    return next((d.get("link") for d in devices if d["name"] == "net0"), None)


def join_up(node: Node, endpoint: str, keys: str | None, site: int, mem: int,
            cpu: int | None, echo, disk: str | None = None) -> int:
    """Join the switch at `endpoint` (another host's) as `node`, then boot it (from
    ext2 image `disk`, default its own)."""
    bundle = keys or node.path(BUNDLE)
    if not os.path.exists(bundle):
        raise ClusterError(f"no keys for node {node.name}: give --keys FILE "
                           f"(on the switch's host: mk switch invite {node.name})")
    got = read_bundle(bundle)
    if got["node"] != node.name:
        raise ClusterError(f"{bundle} holds node {got['node']}'s keys, not {node.name}'s")
    if node.running():
        raise ClusterError(f"node {node.name!r} already runs (kernel pid {node.pid()})")
    os.makedirs(node.dir, mode=0o700, exist_ok=True)
    if os.path.abspath(bundle) != os.path.abspath(node.path(BUNDLE)):
        shutil.copyfile(bundle, node.path(BUNDLE))
        os.chmod(node.path(BUNDLE), 0o600)
    port = join(endpoint, node.path(BUNDLE), node.name, site)
    echo(f"switch {endpoint} gave node {node.name} port {port}")
    with open(node.path(JOINED), "w") as f:
        f.write(endpoint)
    try:
        return node.up(mem, site, link=f"{port}#curve={node.path(BUNDLE)}", cpu=cpu,
                       progress=lambda s: echo(f"  {s}"),
                       disk=disk and os.path.abspath(disk))
    except NodeError:
        _leave(node)
        raise


def _leave(node: Node) -> str | None:
    """A joined node tells its switch it left; what to tell the operator, if anything."""
    try:
        with open(node.path(JOINED)) as f:
            endpoint = f.read().strip()
    except FileNotFoundError:
        return None
    os.unlink(node.path(JOINED))
    try:
        leave(endpoint, node.path(BUNDLE), node.name)
        return f"left the switch at {endpoint}"
    except ClusterError as e:
        return f"could not tell the switch: {e}"


def stop(names: list[str], echo, quiet: bool = False) -> bool:
    """Stop nodes `names` at once, and take them off the switch (the last one stops
    it); whether any was running or had left something to remove (`quiet`: say
    nothing of a node that had neither)."""
    nodes = [Node(n, home()) for n in names]
    results = _parallel(lambda n: n.down(), nodes)
    for node, (stopped, removed) in zip(nodes, results):
        said = f"node {node.name} " + ("down" if stopped else "was not running")
        left = _leave(node)
        if stopped or removed or left or not quiet:
            echo(said + (f"; removed what its kernel left: {', '.join(removed)}"
                         if removed else "") + (f"; {left}" if left else ""))
    sw = SwitchClient(home())
    if sw.running():
        ports = {p["name"] for p in sw.request("status")["ports"]}
        _unplug(sw, [n for n in names if n in ports])
        if not sw.running():
            echo("switch down (no node left on it)")
    return any(stopped or removed for stopped, removed in results)


def stop_all(echo) -> bool:
    """`mk down --all`: every node of $MK_HOME, and the switch."""
    names = [n for n in node_names() if Node(n, home()).pid() is not None]
    stopped = stop(names, echo) if names else False
    if SwitchClient(home()).stop():
        echo("switch down")
        stopped = True
    return stopped


def node_names() -> list[str]:
    """Every node folder of $MK_HOME (one with logs/ or a disk image), sorted."""
    root = home()
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [e for e in entries if e != "switch" and not e.startswith(".")
            and (os.path.isdir(os.path.join(root, e, "logs"))
                 or os.path.exists(os.path.join(root, e, "disk.img")))]


def link_text(spec: str | None, carrier: bool | None) -> str:
    """net0's cable as the operator thinks of it: switch, cable to NODE, or none."""
    if spec is None:
        return "none"
    mode, _, endpoint = spec.partition(":")
    endpoint = endpoint.partition("#")[0]
    where = {True: ", carrier up", False: ", no carrier", None: ""}[carrier]
    if mode == "bind":
        return f"own end{where}"
    switch = os.path.join(home(), "switch") + "/"
    if endpoint.startswith(f"ipc://{switch}"):
        return f"switch{where}"
    if endpoint.startswith("ipc://") and endpoint.endswith("/net0.cable"):
        return f"cable to {os.path.basename(os.path.dirname(endpoint))}{where}"
    return f"switch at {endpoint}{where}"


def rows() -> list[dict]:
    """`mk status`: one row per node of $MK_HOME (up or down), health included."""
    from .lifecycle import health
    out = []
    for name in node_names():
        node = Node(name, home())
        row = {"node": name, "state": "down", "site": None, "mem_mib": None,
               "tasks": None, "link": None, "carrier": None, "health": None}
        if node.running():
            try:
                st = node.control({"op": "status"}, timeout=3.0)
                net0 = next((d for d in st["devices"] if d["name"] == "net0"), {})
                row.update(state="up", site=st["site"], mem_mib=st["memory"] >> 20,
                           tasks=st["tasks"], link=net0.get("link"),
                           carrier=net0.get("carrier"), health=health(node, st))
            except NodeError as e:
                row.update(state="up", health=f"failed: {e}")
        out.append(row)
    return out
