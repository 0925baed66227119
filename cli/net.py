"""`mk link` and `mk switch`: a port's link and impairment (Mininet's `link`, VDE's
wirefilter), the switch's ports and counters, and the keys of nodes on other hosts."""
from __future__ import annotations

import json
import os

import click

from cluster import ClusterError
from cluster.client import SwitchClient
from cluster.impair import parse_delay
from cluster.keys import Keys

from .cluster import home
from .lifecycle import json_option, node_option, open_node
from .node import NodeError

__all__ = ["link", "switch", "nodes"]


class Delay(click.ParamType):
    """A delay with its unit: 2ms, 500us, 0.1s (or 0)."""
    name = "delay"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            return parse_delay(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def _ask(op: str, **fields) -> dict:
    try:
        return SwitchClient(home()).request(op, **fields)
    except ClusterError as e:
        raise click.ClickException(str(e))


def _impairment(imp: dict) -> str:
    parts = [f"{k} {imp[k]:g}" for k in ("loss", "dup", "reorder") if imp[k]]
    if imp["delay_ms"]:
        parts.append(f"delay {imp['delay_ms']:g}ms")
    return (" ".join(parts) or "none") + f", seed {imp['seed']}"


def _port_line(p: dict) -> str:
    c = p["counters"]
    return (f"{p['name']}: link {'up' if p['up'] else 'down'}, "
            f"{'node connected' if p['node'] else 'no node'}, "
            f"impairment {_impairment(p['impairment'])}; "
            f"from node {c['rx_frames']} frames {c['rx_bytes']} B, "
            f"to node {c['tx_frames']} frames {c['tx_bytes']} B, drops {c['drops']}")


@click.command()
@click.argument("node")
@click.argument("state", required=False, type=click.Choice(["up", "down"]))
@click.option("--loss", type=click.FloatRange(0, 1), help="probability a frame is lost")
@click.option("--dup", type=click.FloatRange(0, 1), help="probability a frame is doubled")
@click.option("--reorder", type=click.FloatRange(0, 1),
              help="probability a frame is overtaken by the next")
@click.option("--delay", type=Delay(), help="added to every frame, e.g. 2ms")
@click.option("--seed", type=int, help="the random stream's seed (default: the port's)")
@click.option("--clear", is_flag=True, help="no impairment (before the options given)")
@json_option
def link(node: str, state: str | None, loss, dup, reorder, delay, seed, clear: bool,
         as_json: bool) -> None:
    """Take NODE's link on the switch down or up, or impair it (each direction).

    Loss, duplication, reordering and delay are drawn from a random stream per port and
    direction, restarted from the seed at each change: the same seed and the same
    frames give the same pattern. Without options, shows the port."""
    p = _ask("link", name=node, state=state, loss=loss, dup=dup, reorder=reorder,
             delay=delay, seed=seed, clear=clear)
    click.echo(json.dumps(p, indent=2) if as_json else _port_line(p))


def _table(st: dict) -> str:
    head = ("PORT", "SITE", "LINK", "NODE", "RX FRAMES", "RX BYTES", "TX FRAMES",
            "TX BYTES", "DROPS", "IMPAIRMENT")
    lines = [head]
    for p in st["ports"]:
        c = p["counters"]
        lines.append((p["name"], str(p["site"]), "up" if p["up"] else "down",
                      "yes" if p["node"] else "no", str(c["rx_frames"]), str(c["rx_bytes"]),
                      str(c["tx_frames"]), str(c["tx_bytes"]), str(c["drops"]),
                      _impairment(p["impairment"])))
    width = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, width)).rstrip()
                     for line in lines)


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def switch(ctx: click.Context, as_json: bool) -> None:
    """The cluster's switch: its ports, counters and learned addresses (no subcommand),
    and the keys of nodes that join it from other hosts."""
    if ctx.invoked_subcommand is not None:
        return
    st = _ask("status")
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    extra = [f"listening on {st['listen']} ({st['refused']} refused)" if st["listen"]
             else "not listening", f"capture {st['pcap']} ({st['captured']} frames)"
             if st["pcap"] else "no capture"]
    click.echo(f"switch: pid {st['pid']}, loop {st['loop']}, {', '.join(extra)}")
    click.echo(_table(st))
    learned = ", ".join(f"{mac} {port}" for mac, port in st["learned"].items())
    click.echo(f"learned: {learned or 'nothing yet'}")


@switch.command("invite")
@click.argument("name")
def switch_invite(name: str) -> None:
    """Make node NAME's keys and put it on the allow-list: it may join from another host."""
    try:
        bundle = Keys(os.path.join(home(), "switch")).invite(name)
    except ClusterError as e:
        raise click.ClickException(str(e))
    click.echo(f"node {name}'s keys: {bundle} (secret: copy it to the node's host, then "
               f"mk up --node {name} --site N --join tcp://THIS-HOST:PORT --keys FILE)")


@switch.command("revoke")
@click.argument("name")
def switch_revoke(name: str) -> None:
    """Take node NAME off the allow-list (its next handshake is refused)."""
    if not Keys(os.path.join(home(), "switch")).revoke(name):
        raise click.ClickException(f"node {name!r} is not on the allow-list")
    click.echo(f"node {name} is off the allow-list")


@click.command()
@node_option
@json_option
def nodes(node_name: str, as_json: bool) -> None:
    """The cluster as one node's comm server sees it: each peer's site and MAC, when it
    was last heard, round-trip time, frames, retransmissions, duplicates dropped."""
    try:
        t = open_node(node_name).root({"op": "nodes"})
    except NodeError as e:
        raise click.ClickException(str(e))
    if as_json:
        click.echo(json.dumps(t, indent=2))
        return
    click.echo(_nodes_table(t))


def _nodes_table(t: dict) -> str:
    rows = [("NODE", "SITE", "MAC", "STATE", "HEARD s", "RTT ms", "IN", "OUT", "RETRANS",
             "DUPS", "IN FLIGHT"),
            (t["name"], str(t["site"]), t["mac"], "self", "-", "-", "-", "-", "-", "-", "-")]
    for p in t["peers"]:
        rows.append((p["name"], str(p["site"]), p["mac"], "alive" if p["alive"] else "dead",
                     f"{p['last_heard']:.1f}", "-" if p["rtt_ms"] is None else f"{p['rtt_ms']:.2f}",
                     str(p["frames_in"]), str(p["frames_out"]), str(p["retransmits"]),
                     str(p["duplicates"]), str(p["in_flight"])))
    width = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, width)).rstrip() for r in rows]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(t["counts"].items())) or "none"
    return "\n".join(lines + [f"announcing every {t['interval']:g} s; counted: {counts}"])
