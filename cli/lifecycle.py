"""`mk up`, `mk down`, `mk status`: a node's (or a cluster's) life, and its health.

One node by default (`--node NAME`); a cluster on the switch with `--nodes N` or
`-f FILE` (cluster/config.py); a node cabled to another host's switch with `--join`.
`mk status` without `--node` lists every node of $MK_HOME and the switch. The work is
in cli/node.py (one node) and cli/cluster.py (many, and the switch).
"""
from __future__ import annotations

import json
import os
import sys
import time

import click
from click.core import ParameterSource

from cluster import ClusterError, config
from cluster.client import SwitchClient
from cluster.keys import read_bundle

from . import cluster
from .node import Node, NodeError

__all__ = ["up", "down", "status", "health", "open_node", "node_option", "json_option"]

node_option = click.option("--node", "node_name", default="local", show_default=True,
                           help="which node (a folder under $MK_HOME)")
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")


def open_node(name: str) -> Node:
    """Node `name`, or the operator's one line about its name."""
    try:
        return Node(name)
    except NodeError as e:
        raise click.ClickException(str(e))


def _given(ctx: click.Context, names: tuple[str, ...]) -> set[str]:
    """Which of the options `names` the user gave (not their defaults)."""
    return {n for n in names if ctx.get_parameter_source(n) is not ParameterSource.DEFAULT}


@click.command()
@node_option
@click.option("--mem", default=16, show_default=True, help="physical memory, MiB (1-256)")
@click.option("--site", default=1, show_default=True, help="this node's site number")
@click.option("--link", default=None, help="cable net0 to another node (its name) or ENDPOINT")
@click.option("--pcap", is_flag=True, help="capture net0's frames to NODE/net0.pcap "
              "(with --nodes or -f: the switch's, to switch/switch.pcap)")
@click.option("--cpu", type=int, default=None,
              help="host CPU for the kernel process (-1: any; default: one per site)")
@click.option("--nodes", type=int, default=None,
              help="a cluster: nodes n1..nN (sites 1..N) on one switch, booted at once")
@click.option("-f", "--file", "cluster_file", default=None,
              help="the cluster a TOML file describes (docs/net.md)")
@click.option("--listen", default=None,
              help="with --nodes or -f: the switch admits nodes of other hosts on "
                   "tcp://HOST:PORT")
@click.option("--join", default=None, help="cable net0 to the switch at tcp://HOST:PORT")
@click.option("--keys", default=None, help="with --join: the node's keys (mk switch invite)")
@click.option("--disk", default=None, type=click.Path(dir_okay=False),
              help="boot from this ext2 image (default: the node's own disk.img, made "
                   "on first boot); a cluster file names each node's (disk = ...)")
@click.pass_context
def up(ctx: click.Context, node_name: str, mem: int, site: int, link: str | None,
       pcap: bool, cpu: int | None, nodes: int | None, cluster_file: str | None,
       listen: str | None, join: str | None, keys: str | None, disk: str | None) -> None:
    """Boot a node in the background (or a cluster: --nodes, -f; or a node joining
    another host's switch: --join); returns when it is ready. A disk the file server
    cannot mount fails the boot at once, with the reason, and leaves nothing running."""
    if not 1 <= mem <= 256:
        raise click.BadParameter("memory must be 1..256 MiB", param_hint="--mem")
    if cpu is not None and cpu != -1 and cpu not in os.sched_getaffinity(0):
        raise click.BadParameter(f"CPU {cpu} is not one of "
                                 f"{sorted(os.sched_getaffinity(0))} (or -1 for any)",
                                 param_hint="--cpu")
    given = _given(ctx, ("node_name", "mem", "site", "link", "cpu", "nodes",
                         "cluster_file", "listen", "join", "keys", "disk"))
    try:
        _clash(given)
        if nodes is not None or cluster_file is not None:
            spec = config.load(cluster_file) if cluster_file else config.numbered(nodes, mem)
            if not cluster.boot(spec, pcap, listen, click.echo):
                sys.exit(1)
            return
        t0 = time.monotonic()
        if join is not None and keys and "node_name" not in given:
            node_name = read_bundle(keys)["node"]         # the node the keys were made for
        node = open_node(node_name)
        progress = lambda s: click.echo(f"  {s}", err=True)
        if join is not None:
            pid = cluster.join_up(node, join, keys, site, mem, cpu, progress, disk)
        else:
            pid = node.up(mem, site, progress=progress, link=link, pcap=pcap, cpu=cpu,
                          disk=disk and os.path.abspath(disk))
    except (NodeError, ClusterError) as e:
        raise click.ClickException(str(e))
    click.echo(f"node {node.name} up (kernel pid {pid}, {mem} MiB) "
               f"in {time.monotonic() - t0:.2f}s")


def _clash(given: set[str]) -> None:
    """ClusterError naming two options of `mk up` that do not go together."""
    flag = lambda p: {"node_name": "--node", "cluster_file": "-f"}.get(p, f"--{p}")

    def apart(a: str, b: str) -> None:
        if a in given and b in given:
            raise ClusterError(f"{flag(a)} and {flag(b)} do not go together")
    apart("nodes", "cluster_file")
    for many in ("nodes", "cluster_file"):         # the cluster's nodes are named for it
        for one in ("node_name", "site", "link", "cpu", "join", "keys", "disk"):
            apart(many, one)
    apart("cluster_file", "mem")                    # the file gives each node's
    apart("join", "link")
    if "listen" in given and not given & {"nodes", "cluster_file"}:
        raise ClusterError("--listen is the switch's: give it with --nodes or -f")
    if "keys" in given and "join" not in given:
        raise ClusterError("--keys goes with --join")


@click.command()
@node_option
@click.option("--nodes", type=int, default=None, help="the cluster's nodes n1..nN")
@click.option("-f", "--file", "cluster_file", default=None, help="the nodes a TOML file names")
@click.option("--all", "everything", is_flag=True, help="every node of $MK_HOME, and the switch")
@click.pass_context
def down(ctx: click.Context, node_name: str, nodes: int | None, cluster_file: str | None,
         everything: bool) -> None:
    """Stop a node (or a cluster: --nodes, -f, --all) and every process it started."""
    chosen = [o for o, v in (("--nodes", nodes is not None), ("-f", cluster_file),
                             ("--all", everything), ("--node", _given(ctx, ("node_name",))))
              if v]
    if len(chosen) > 1:
        raise click.ClickException(f"{chosen[0]} and {chosen[1]} do not go together")
    try:
        if everything:
            stopped = cluster.stop_all(click.echo)
        elif nodes is not None or cluster_file:
            spec = config.load(cluster_file) if cluster_file else config.numbered(nodes)
            stopped = cluster.stop([n.name for n in spec.nodes], click.echo)
        else:
            open_node(node_name)
            if not cluster.stop([node_name], click.echo, quiet=True):
                raise ClusterError(f"node {node_name!r} is not running")
            return
    except ClusterError as e:
        raise click.ClickException(str(e))
    if not stopped:
        raise click.ClickException("nothing was running")


@click.command()
@node_option
@json_option
@click.pass_context
def status(ctx: click.Context, node_name: str, as_json: bool) -> None:
    """Is the node up, and what does it hold; without --node, every node of $MK_HOME
    (site, link, health) and the switch."""
    if not _given(ctx, ("node_name",)):
        sys.exit(_status_all(as_json))
    node = open_node(node_name)
    try:
        st = node.control({"op": "status"})
    except NodeError as e:
        raise click.ClickException(str(e))
    st["health"] = health(node, st)
    net0 = next((d for d in st["devices"] if d["name"] == "net0"), {})
    if as_json:
        click.echo(json.dumps(st, indent=2))
    else:
        kf = st["kernel_frames"]
        click.echo(f"node {node.name}: up, kernel pid {st['pid']}, site {st['site']}, "
                   f"{st['memory'] >> 20} MiB, {st['tasks']} tasks, {st['threads']} threads, "
                   f"kernel frames {kf['used']}/{kf['total']}, "
                   f"net0 {cluster.link_text(net0.get('link'), net0.get('carrier'))}, "
                   f"{st['health']}")
    sys.exit(0 if st["health"] == "ready" else 1)


def _status_all(as_json: bool) -> int:
    """Every node of $MK_HOME and the switch; 0 when some node runs and all that run
    are ready."""
    rows = cluster.rows()
    sw = SwitchClient(cluster.home())
    try:
        sw_st = sw.request("status") if sw.running() else None
    except ClusterError:
        sw_st = None
    sites = {p["name"]: p["site"] for p in (sw_st or {}).get("ports", [])}
    for r in rows:
        r["site"] = r["site"] if r["site"] is not None else sites.get(r["node"])
    up = [r for r in rows if r["state"] == "up"]
    code = 0 if up and all(r["health"] == "ready" for r in up) else 1
    if as_json:
        click.echo(json.dumps({"nodes": rows, "switch": sw_st}, indent=2))
        return code
    if not rows:
        click.echo(f"no nodes in {cluster.home()} (mk up)")
    for r in rows:
        dash = lambda v: "-" if v is None else str(v)
        click.echo(f"{r['node']}: {r['state']}, site {dash(r['site'])}"
                   + (f", {r['mem_mib']} MiB, {r['tasks']} tasks, net0 "
                      f"{cluster.link_text(r['link'], r['carrier'])}, {r['health']}"
                      if r["state"] == "up" else ""))
    if sw_st is not None:
        click.echo(f"switch: up, pid {sw_st['pid']}, {len(sw_st['ports'])} ports"
                   + (f", listening on {sw_st['listen']}" if sw_st["listen"] else ""))
    return code


def health(node: Node, st: dict) -> str:
    """The node as `systemctl is-system-running` would put it: ready, booting,
    degraded: WHY (a core server lost for good, a kept one restarting) or failed: WHY
    (sigma0 or root gone: nothing can be restarted)."""
    dead = [name for name, alive in st.get("alive", {}).items() if not alive]
    if dead:
        return f"failed: {' and '.join(dead)} died"
    if not st["ready"]:
        return "booting"
    try:
        h = node.root({"op": "health"}, timeout=3.0)
    except NodeError as e:
        return f"failed: root does not answer ({e})"
    why = [f"{name} {how}" for name, how in h["lost"].items()]
    why += [f"{name} {state}" for name, state in h["servers"].items() if state != "running"]
    return f"degraded: {', '.join(why)}" if why else "ready"


