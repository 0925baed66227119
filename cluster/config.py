"""A cluster described in a TOML file, for `mk up -f FILE` and `mk down -f FILE`.

    [switch]                            # optional
    listen = "tcp://127.0.0.1:7700"     # accept nodes of other hosts (CurveZMQ)
    pcap = true                         # capture every frame to $MK_HOME/switch/switch.pcap

    [[node]]
    name = "a"                          # required: a folder under $MK_HOME
    site = 1                            # default: the node's position, 1, 2, ...
    mem = 16                            # MiB, 1..256 (default 16)
    disk = "a.img"                      # an ext2 image to use, relative to this file
                                        # (default: the node's own, made on first boot)
    drivers = [{ name = "com3", port = 0x3e8, irq = 5 }]   # plugged in after boot

Read with the standard library's `tomllib`; every mistake (bad TOML, an unknown key, a
wrong type, a name or site used twice) is one ClusterError line naming the file and the
node.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field

from . import ClusterError
from .ctl import MAX_SITE
from .keys import NAME_RE

__all__ = ["NodeSpec", "DriverSpec", "ClusterSpec", "load", "numbered"]

_DRIVER_NAME = re.compile(r"(com|ata|net)[0-9]{1,2}")


@dataclass(frozen=True)
class DriverSpec:
    name: str
    port: int
    irq: int


@dataclass(frozen=True)
class NodeSpec:
    name: str
    site: int
    mem: int = 16
    disk: str | None = None
    drivers: tuple[DriverSpec, ...] = ()


@dataclass(frozen=True)
class ClusterSpec:
    nodes: tuple[NodeSpec, ...]
    listen: str | None = None
    pcap: bool = False
    source: str = field(default="", compare=False)


def numbered(n: int, mem: int = 16) -> ClusterSpec:
    """`mk up --nodes N`: nodes n1..nN on sites 1..N."""
    if not 1 <= n <= 64:
        raise ClusterError(f"--nodes is 1..64, not {n}")
    return ClusterSpec(tuple(NodeSpec(f"n{i}", i, mem) for i in range(1, n + 1)),
                       source=f"--nodes {n}")


def _check(where: str, table: dict, keys: dict[str, type]) -> None:
    for k, v in table.items():
        if k not in keys:
            raise ClusterError(f"{where}: unknown key {k!r} (keys: {', '.join(keys)})")
        want = keys[k]
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise ClusterError(f"{where}: {k} is {want.__name__}, not {v!r}")


def _driver(where: str, d) -> DriverSpec:
    if not isinstance(d, dict):
        raise ClusterError(f"{where}: a driver is {{ name, port, irq }}, not {d!r}")
    _check(where, d, {"name": str, "port": int, "irq": int})
    if set(d) != {"name", "port", "irq"}:
        raise ClusterError(f"{where}: a driver needs name, port and irq")
    if not _DRIVER_NAME.fullmatch(d["name"]):
        raise ClusterError(f"{where}: a device name is comN, ataN or netN, not {d['name']!r}")
    if not 0 <= d["port"] <= 0xFFFF:
        raise ClusterError(f"{where}: port {d['port']:#x} is outside 0..0xffff")
    if not 0 <= d["irq"] <= 15 or d["irq"] == 2:
        raise ClusterError(f"{where}: IRQ is 0..15 but 2 (the cascade), not {d['irq']}")
    return DriverSpec(d["name"], d["port"], d["irq"])


def _node(path: str, i: int, t) -> NodeSpec:
    where = f"{path}: node {i}"
    if not isinstance(t, dict):
        raise ClusterError(f"{where}: a node is a [[node]] table")
    _check(where, t, {"name": str, "site": int, "mem": int, "disk": str, "drivers": list})
    if "name" not in t:
        raise ClusterError(f"{where}: a node needs a name")
    if not NAME_RE.fullmatch(t["name"]) or t["name"] == "switch":
        raise ClusterError(f"{where}: bad node name {t['name']!r}")
    where = f"{path}: node {t['name']}"
    site, mem = t.get("site", i), t.get("mem", 16)
    if not 1 <= site <= MAX_SITE:
        raise ClusterError(f"{where}: site is 1..{MAX_SITE}, not {site}")
    if not 1 <= mem <= 256:
        raise ClusterError(f"{where}: mem is 1..256 MiB, not {mem}")
    disk = t.get("disk")
    if disk is not None:
        disk = os.path.join(os.path.dirname(os.path.abspath(path)), disk)
        if not os.path.isfile(disk):
            raise ClusterError(f"{where}: no disk image {disk}")
    drivers = tuple(_driver(where, d) for d in t.get("drivers", []))
    return NodeSpec(t["name"], site, mem, disk, drivers)


def load(path: str) -> ClusterSpec:
    """The cluster `path` describes; ClusterError (one line) for any mistake."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        raise ClusterError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ClusterError(f"{path} is not valid TOML: {e}") from None
    _check(path, doc, {"switch": dict, "node": list})
    sw = doc.get("switch", {})
    _check(f"{path}: [switch]", sw, {"listen": str, "pcap": bool})
    if "listen" in sw and not sw["listen"].startswith("tcp://"):
        raise ClusterError(f"{path}: [switch] listen is tcp://HOST:PORT, not {sw['listen']!r}")
    nodes = tuple(_node(path, i, t) for i, t in enumerate(doc.get("node", []), 1))
    if not nodes:
        raise ClusterError(f"{path}: no [[node]] in it")
    for attr in ("name", "site"):
        seen: dict = {}
        for n in nodes:
            value = getattr(n, attr)
            if value in seen:
                raise ClusterError(f"{path}: nodes {seen[value]} and {n.name} have the "
                                   f"same {attr} {value}")
            seen[value] = n.name
    return ClusterSpec(nodes, sw.get("listen"), sw.get("pcap", False), source=path)
