"""`mk`, the command line: thin — it parses, calls the node, and prints."""
from __future__ import annotations

import json
import os
import sys

import click

from .lifecycle import down, json_option, node_option, open_node as _node, status, up
from .net import link, nodes, switch
from .node import Node, NodeError
from .top import top
from .trace import trace


@click.group()
def main() -> None:
    """mk: an L4 version 2 microkernel laboratory on a simulated 486 PC."""


@main.command()
@node_option
@json_option
def ps(node_name: str, as_json: bool) -> None:
    """Tasks and threads: IPC state, partner, pager, host pid, CPU and memory."""
    try:
        rows = _node(node_name).control({"op": "ps"})["tasks"]
    except NodeError as e:
        raise click.ClickException(str(e))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_ps_table(rows))


def _ps_table(rows: list[dict]) -> str:
    """`mk ps` as text: one line per thread, the task's columns on its first thread;
    thread ids as `task.lthread vVERSION@site`, every column as wide as its widest."""
    short = lambda tid: tid.removeprefix("ThreadId(").removesuffix(")")
    lines = [("TASK", "THREAD", "STATE", "PARTNER", "PAGER", "PID", "CPU s", "RSS MiB",
              "ENTRY")]
    for r in rows:
        cpu = f"{r['cpu']:.2f}" if r["cpu"] is not None else "-"
        rss = f"{r['rss'] / (1 << 20):.1f}" if r["rss"] is not None else "-"
        for i, t in enumerate(r["threads"]):
            task = (str(r["task"]), str(r["pid"] or "-"), cpu, rss, r["entry"]) if i == 0 \
                else ("",) * 5
            lines.append((task[0], short(t["id"]), t["state"], short(t["partner"]),
                          short(t["pager"]), *task[1:]))
    width = [max(len(line[c]) for line in lines) for c in range(len(lines[0]))]
    right = {0, 5, 6, 7}                                # the numbers
    return "\n".join("  ".join(v.rjust(w) if c in right else v.ljust(w)
                               for c, (v, w) in enumerate(zip(line, width))).rstrip()
                     for line in lines)


@main.command()
@node_option
@click.option("--task", type=int, default=None, help="one task's log (default: kernel)")
@click.option("-n", "lines", default=50, show_default=True, help="last N lines")
@click.option("--traceback", "tb", is_flag=True,
              help="the traceback the task left when it failed (with --task)")
def logs(node_name: str, task: int | None, lines: int, tb: bool) -> None:
    """Show the kernel's log, or a task's output (or, --traceback, how it failed)."""
    node = _node(node_name)
    if tb and task is None:
        raise click.UsageError("--traceback needs --task N")
    name = "kernel.log" if task is None else f"task-{task}.{'traceback' if tb else 'log'}"
    path = node.path("logs", name)
    if not os.path.exists(path):
        raise click.ClickException(f"task {task} left no traceback (it did not fail)"
                                   if tb else f"no log at {path}")
    with open(path, "rb") as f:
        text = f.read().decode(errors="replace").splitlines()
    click.echo("\n".join(text[-lines:]))


@main.command(context_settings={"ignore_unknown_options": True})
@node_option
@click.option("--detach", "-d", is_flag=True, help="start it and return at once")
@click.argument("entry")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(node_name: str, detach: bool, entry: str, args: tuple[str, ...]) -> None:
    """Start a task running ENTRY (MODULE:FUNC or FILE.py:FUNC) with ARGS.

    Without --detach, prints the task's output and exits with its status (a task that
    raised ends its output with one line saying so: `mk logs --task N --traceback`)."""
    node = _node(node_name)
    where, _, func = entry.rpartition(":")
    if where.endswith(".py"):
        if not os.path.exists(where):
            raise click.ClickException(f"no file {where}")
        entry = f"{os.path.abspath(where)}:{func}"
    try:
        started = node.root({"op": "run", "entry": entry, "args": list(args)})
        if detach:
            click.echo(f"task {started['task']} ({started['id']})")
            return
        done = node.root({"op": "wait", "task": started["task"]}, timeout=None)
    except NodeError as e:
        raise click.ClickException(str(e))
    with open(started["log"], "rb") as f:
        sys.stdout.write(f.read().decode(errors="replace"))
    status = done["status"]
    sys.exit(status if isinstance(status, int) and 0 <= status < 256 else 1)


@main.command()
@node_option
def console(node_name: str) -> None:
    """Attach this terminal to the node's serial console (COM1); Ctrl-] leaves."""
    from .terminal import relay
    node = _node(node_name)
    if not node.running():
        raise click.ClickException(f"node {node.name!r} is not running")
    with open(node.path("console")) as f:
        pty = f.read().strip()
    click.echo(f"connected to {node.name}'s COM1 ({pty}); Ctrl-] to leave", err=True)
    relay(pty)
    click.echo("", err=True)


@main.command(context_settings={"ignore_unknown_options": True})
@node_option
@click.option("-c", "command", default=None, help="run this command line and exit with its status")
def sh(node_name: str, command: str | None) -> None:
    """A Unix shell on the node: interactive on a serial line (COM2, or a UART plugged in
    for the session; Ctrl-] leaves and hangs it up), or `-c CMD` to run one command
    line with this process's stdin, stdout and stderr, exiting with its status."""
    from .sessions import interactive, one_command
    node = _node(node_name)
    try:
        status = one_command(node, command) if command is not None else interactive(node)
    except NodeError as e:
        raise click.ClickException(str(e))
    sys.exit(status)


@main.group()
def driver() -> None:
    """User-level drivers: list them, plug a device in with its driver, take it out."""


@driver.command("list")
@node_option
@json_option
def driver_list(node_name: str, as_json: bool) -> None:
    """Each driver: class, ports, IRQ, task, host pid, state, restarts."""
    node = _node(node_name)
    try:
        rows = node.root({"op": "drivers"})["drivers"]
        pids = {t["task"]: t["pid"] for t in node.control({"op": "ps"})["tasks"]}
    except NodeError as e:
        raise click.ClickException(str(e))
    for r in rows:
        r["pid"] = pids.get(r["task"])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'NAME':<7} {'CLASS':<6} {'PORTS':<22} {'IRQ':>3} {'TASK':>4} {'PID':>7} "
               f"{'STATE':<9} {'RESTARTS':>8}")
    for r in rows:
        irq = "-" if r["irq"] is None else r["irq"]
        click.echo(f"{r['name']:<7} {r['class']:<6} {','.join(r['ports']):<22} {irq:>3} "
                   f"{r['task'] or '-':>4} {r['pid'] or '-':>7} {r['state']:<9} {r['restarts']:>8}")


KINDS = {"com": "uart", "ata": "ata", "net": "nic"}


class Port(click.ParamType):
    """An I/O port number, in any base Python reads (0x2f8, 760)."""
    name = "port"

    def convert(self, value, param, ctx):
        try:
            port = int(value, 0) if isinstance(value, str) else int(value)
        except ValueError:
            self.fail(f"{value!r} is not a port number (e.g. 0x2f8)", param, ctx)
        if not 0 <= port <= 0xFFFF:
            self.fail(f"{value} is outside the 486's ports 0..0xffff", param, ctx)
        return port


class Irq(click.IntRange):
    """An ISA interrupt line a card may use: 0..15 but 2, the cascade line."""

    def __init__(self):
        super().__init__(0, 15)

    def convert(self, value, param, ctx):
        irq = super().convert(value, param, ctx)
        if irq == 2:
            self.fail("IRQ 2 is the cascade to the second 8259A; a card wired to it "
                      "uses IRQ 9 on a PC AT", param, ctx)
        return irq


@driver.command("attach")
@node_option
@click.argument("name")
@click.option("--port", type=Port(), default=None, help="base I/O port (e.g. 0x2f8)")
@click.option("--irq", type=Irq(), default=None, help="IRQ line 0-15, not 2")
def driver_attach(node_name: str, name: str, port: int | None, irq: int | None) -> None:
    """Plug device NAME (comN, ataN, netN) into the running machine and start its driver."""
    from servers.devmgr import DEFAULT_DRIVERS
    node = _node(node_name)
    kind = KINDS.get(name.rstrip("0123456789"))
    if kind is None:
        raise click.BadParameter(f"{name!r}: a device name starts with com, ata or net")
    default = DEFAULT_DRIVERS.get(name)
    base = port if port is not None else (default[2][0][0] if default else None)
    irq = irq if irq is not None else (default[3] if default else None)
    if base is None or irq is None:
        raise click.UsageError(f"{name} has no default: give --port and --irq")
    try:
        plug(node, name, kind, base, irq)
    except NodeError as e:
        raise click.ClickException(str(e))
    click.echo(f"{name}: plugged in at {base:#x}, IRQ {irq}; driver started")


def plug(node: Node, name: str, kind: str, base: int, irq: int) -> None:
    """Plug device `name` into the running machine and start its driver."""
    ports = [(base, 32 if kind == "nic" else 8)] + ([(base + 0x206, 1)] if kind == "ata" else [])
    entry = {"uart": "drivers.uart:main", "ata": "drivers.ata:main", "nic": "drivers.nic:main"}[kind]
    cls = {"uart": "char", "ata": "block", "nic": "net"}[kind]
    if kind == "ata" and not os.path.exists(node.path(f"{name}.img")):
        with open(node.path(f"{name}.img"), "wb") as f:
            f.truncate(8 << 20)
    node.control({"op": "plug", "kind": kind, "name": name, "port": base, "irq": irq,
                  "disk": node.path(f"{name}.img")})
    try:
        node.root({"op": "driver_start", "name": name, "class": cls, "entry": entry,
                   "ports": ports, "irq": irq})
    except NodeError:
        node.control({"op": "unplug", "name": name})
        raise


@driver.command("detach")
@node_option
@click.argument("name")
@click.option("--force", is_flag=True, help="also the console's line (com1)")
def driver_detach(node_name: str, name: str, force: bool) -> None:
    """Stop NAME's driver and unplug the device; its ports and IRQ become free."""
    node = _node(node_name)
    try:
        node.root({"op": "driver_stop", "name": name, "force": force})
        node.control({"op": "unplug", "name": name})
    except NodeError as e:
        raise click.ClickException(str(e))
    click.echo(f"{name}: driver stopped, device unplugged")


@main.command()
def machine() -> None:
    """Build the simulated 486 PC (without a kernel) and show its parts."""
    from hw import Machine
    m = Machine()
    try:
        click.echo(json.dumps(m.describe(), indent=2))
    finally:
        m.close()


@main.group("bench")
def bench_group() -> None:
    """Measure figures beside their floors, in one run (see docs/bench.md)."""


@bench_group.command("ipc")
@click.option("--node", "node_name", default="bench", show_default=True,
              help="name of the node the run boots for itself (in a temporary $MK_HOME)")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
def bench_ipc(node_name: str, as_json: bool, quick: bool) -> None:
    """IPC: floors (pipe, ZeroMQ, a 4-hop relay) beside null/string RPC, page fault,
    map and flush, and throughput, with ratios. Boots and stops its own node."""
    from bench.ipc import BenchError, Settings, format_table, run
    try:
        out = run(Settings.quick() if quick else Settings(), node_name,
                  progress=lambda text: click.echo(f"  {text}", err=True))
    except (BenchError, NodeError) as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, indent=2) if as_json else format_table(out))


@bench_group.command("drivers")
@json_option
@click.option("--mib", default=4, show_default=True, help="MiB written and read")
@click.option("--quick", is_flag=True, help="tiny sizes: checks every path, times nothing")
def bench_drivers(as_json: bool, mib: int, quick: bool) -> None:
    """Disk through the user-level ATA driver beside the same driver code with no IPC,
    and interrupt latency beside a null RPC. Boots and stops its own node."""
    from bench.drivers import BenchError, format_table, run
    try:
        out = run(1 if quick else mib, 10 if quick else 100, 1 if quick else 3)
    except (BenchError, NodeError) as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, indent=2) if as_json else format_table(out))


@bench_group.command("unix")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
def bench_unix(as_json: bool, quick: bool) -> None:
    """The Unix personality: getpid, a cached 4 KiB read, fork+exec+wait, a pipeline and
    boot to a shell, beside floors from the same run. Boots and stops its own nodes."""
    _settled_bench("unix", as_json, quick)


def _settled_bench(name: str, as_json: bool, quick: bool) -> None:
    """Run bench.NAME with its Settings (quick or not), progress on stderr; print."""
    import importlib
    bench = importlib.import_module(f"bench.{name}")
    try:
        out = bench.run(bench.Settings.quick() if quick else bench.Settings(),
                        progress=lambda text: click.echo(f"  {text}", err=True))
    except (bench.BenchError, NodeError) as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, indent=2) if as_json else bench.format_table(out))


PARTS = ("forwarding", "boot", "remote")       # bench/net.py's


@bench_group.command("net")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
@click.option("--only", type=click.Choice(list(PARTS)), default=None,
              help="one part of the run")
def bench_net(as_json: bool, quick: bool, only: str | None) -> None:
    """The switch: frames through it beside the direct cable (and on uvloop beside its
    zmq.Poller loop); `mk up --nodes 4` beside one node's boot; remote IPC on two nodes
    beside raw frames through both NIC drivers and a local RPC."""
    from bench.net import BenchError, Settings, format_table, run
    try:
        out = run(Settings.quick() if quick else Settings(),
                  lambda text: click.echo(f"  {text}", err=True),
                  (only,) if only else PARTS)
    except (BenchError, NodeError) as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, indent=2) if as_json else format_table(out))


@bench_group.command("dsm")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
def bench_dsm(as_json: bool, quick: bool) -> None:
    """Distributed shared memory on four nodes: read and write faults beside a remote
    4 KiB RPC, and the demo's product by DSM beside the same by messages."""
    _settled_bench("dsm", as_json, quick)


@bench_group.command("trace")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
def bench_trace(as_json: bool, quick: bool) -> None:
    """What `mk trace` costs: null RPC with the kernel's trace on beside off, paired."""
    _settled_bench("trace", as_json, quick)


@bench_group.command("paper")
@click.option("--node", "node_name", default="paper", show_default=True,
              help="name of the node the run boots for itself (in a temporary $MK_HOME)")
@json_option
@click.option("--quick", is_flag=True, help="tiny counts: checks every path, times nothing")
@click.option("--plot", "plot_file", metavar="FILE", default=None,
              help="also draw Figure 3 as FILE (.png or .svg; needs the [plot] extra)")
def bench_paper(node_name: str, as_json: bool, quick: bool, plot_file: str | None) -> None:
    """The paper's Figure 3 (RPC overhead against work between RPCs) and its IPC table
    (null RPC, IPC, getpid, page fault, IRQ latency) beside the paper's 486 numbers."""
    from bench.paper import BenchError, Settings, format_table, run
    from bench.paper_plot import check_path, plot
    try:
        if plot_file is not None:
            check_path(plot_file)
        out = run(Settings.quick() if quick else Settings(), node_name,
                  progress=lambda text: click.echo(f"  {text}", err=True))
    except (BenchError, NodeError) as e:
        raise click.ClickException(str(e))
    click.echo(json.dumps(out, indent=2) if as_json else format_table(out))
    if plot_file is not None:
        try:
            plot(out, plot_file)
        except BenchError as e:
            raise click.ClickException(str(e))


for command in (up, down, status, link, switch, nodes, trace, top):
    main.add_command(command)

if __name__ == "__main__":
    main()
