"""`mk trace`: record what the kernels do, and write it for Perfetto (docs/trace.md).

    mk trace start [--node N | --all] [--size ENTRIES]
    mk trace stop -o FILE.json [--node N | --all]
    mk trace status [--node N | --all]
    mk trace -o FILE.json [--node N | --all] -- COMMAND...

Each kernel records into its own ring (microkernel/kernel/trace.py), switched on and
off through its operator's port; `stop` drains the rings and cli/timeline.py turns
them into one Chrome trace-event file, a pid range per node.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import click

from . import cluster
from .node import Node, NodeError
from .timeline import chrome

__all__ = ["trace"]

ACTIONS = ("start", "stop", "status")


def _nodes(node_name: str, everything: bool) -> list[Node]:
    """The nodes asked for: one, or every running node of $MK_HOME (--all)."""
    if not everything:
        try:
            return [Node(node_name)]
        except NodeError as e:
            raise click.ClickException(str(e))
    nodes = [n for n in (Node(name) for name in cluster.node_names()) if n.running()]
    if not nodes:
        raise click.ClickException(f"no node is running in {cluster.home()} (mk up)")
    return nodes


def _control(node: Node, req: dict, timeout: float = 5.0) -> dict:
    try:
        return node.control({"op": "trace", **req}, timeout)
    except NodeError as e:
        text = str(e)
        raise click.ClickException(text if text.startswith("node ") else f"node {node.name!r}: {text}")


def start(nodes: list[Node], size: int | None) -> None:
    """Switch tracing on in every node (those already switched on stay as they were)."""
    req = {"action": "start"} if size is None else {"action": "start", "size": size}
    for node in nodes:
        _control(node, req)


def stop(nodes: list[Node], out) -> str:
    """Drain every node's ring into `out` (an open file); a one-line summary."""
    drained = [{"node": n.name, **_control(n, {"action": "stop"}, 120.0)} for n in nodes]
    doc = chrome(drained)
    json.dump(doc, out)
    lost = sum(d["lost"] for d in drained)
    return (f"{out.name}: {len(doc['traceEvents'])} trace events from "
            f"{len(drained)} node{'s' if len(drained) > 1 else ''}"
            + (f", {lost} lost (the ring was full: mk trace start --size)" if lost else ""))


def _open(path: str | None):
    """FILE.json, opened for writing before anything is drained (so a bad path costs
    no trace), or the one-line reason."""
    if not path:
        raise click.UsageError("give the output file: -o FILE.json")
    try:
        return open(path, "w")
    except OSError as e:
        raise click.ClickException(f"{path}: {e.strerror}")


def _writable(path: str | None) -> None:
    """The one-line reason FILE.json could not be written, without touching it."""
    if not path:
        raise click.UsageError("give the output file: -o FILE.json")
    folder = os.path.dirname(path) or "."
    reason = ("Is a directory" if os.path.isdir(path) else
              "No such file or directory" if not os.path.isdir(folder) else
              "Permission denied" if not os.access(path if os.path.exists(path) else folder,
                                                   os.W_OK) else None)
    if reason:
        raise click.ClickException(f"{path}: {reason}")


def _write(nodes: list[Node], path: str | None) -> None:
    out = _open(path)
    try:
        with out:
            click.echo(stop(nodes, out), err=True)
    except BaseException:
        os.unlink(out.name)
        raise


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--node", "node_name", default="local", show_default=True,
              help="which node (a folder under $MK_HOME)")
@click.option("--all", "everything", is_flag=True, help="every running node of $MK_HOME")
@click.option("-o", "output", default=None, help="the trace file to write (Chrome JSON)")
@click.option("--size", type=click.IntRange(16, 1 << 22), default=None,
              help="entries in each kernel's ring (default 131072); the oldest go first")
@click.argument("words", nargs=-1, type=click.UNPROCESSED)
def trace(node_name: str, everything: bool, output: str | None, size: int | None,
          words: tuple[str, ...]) -> None:
    """Trace IPC, page faults, interrupts and tasks for Perfetto (ui.perfetto.dev).

    `mk trace start`, then `mk trace stop -o FILE.json`; or `mk trace -o FILE.json --
    COMMAND...` around one command, which exits with the command's status."""
    if not words:
        raise click.UsageError("say start, stop, status, or -- COMMAND...")
    if words[0] in ACTIONS and len(words) == 1:
        nodes = _nodes(node_name, everything)
        if words[0] == "start":
            start(nodes, size)
            click.echo(f"tracing {', '.join(n.name for n in nodes)}", err=True)
        elif words[0] == "stop":
            _write(nodes, output)
        else:
            for n in nodes:
                st = _control(n, {"action": "status"})
                click.echo(f"{n.name}: " + (f"tracing, {st['events']}/{st['size']} entries"
                                            if st["tracing"] else "not tracing"))
        return
    _writable(output)                       # a bad path is told before the command runs
    nodes = _nodes(node_name, everything)
    start(nodes, size)
    try:
        status = subprocess.run(list(words)).returncode
    except OSError as e:
        status = None
        error = f"{words[0]}: {e.strerror}"
    finally:
        _write(nodes, output)
    if status is None:
        raise click.ClickException(error)
    sys.exit(status if 0 <= status < 256 else 1)
