"""The cluster from the command line, as a user types it (`python -m cli.main` in a
subprocess): `mk up --nodes 2`, `mk status`, `mk switch`, `mk down --all`; a cluster
from a TOML file (`mk up -f`, `mk down -f`); and bad input, one line each."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cluster.client import SwitchClient
from microkernel.user.testing import wait_until

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def mk(home: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home})


def test_up_nodes_status_switch_and_down_all(mk_home):
    r = mk(mk_home, "up", "--nodes", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("switch up (pid ")
    assert "node n1 up (site 1)" in r.stdout and "node n2 up (site 2)" in r.stdout
    assert "cluster --nodes 2: 2 nodes in" in r.stdout
    st = wait_until(lambda: (lambda r: r if r.stdout.count("carrier up") == 2 else None)(
        mk(mk_home, "status")), 15, "both carriers up")
    assert st.returncode == 0, st.stdout
    assert st.stdout.splitlines()[:2] == [
        "n1: up, site 1, 16 MiB, 15 tasks, net0 switch, carrier up, ready",
        "n2: up, site 2, 16 MiB, 15 tasks, net0 switch, carrier up, ready"], st.stdout
    sw = json.loads(mk(mk_home, "switch", "--json").stdout)
    assert [(p["name"], p["site"], p["up"], p["node"]) for p in sw["ports"]] == [
        ("n1", 1, True, True), ("n2", 2, True, True)]
    table = mk(mk_home, "switch").stdout.splitlines()
    assert table[1].split()[:4] == ["PORT", "SITE", "LINK", "NODE"]
    assert table[2].split()[:4] == ["n1", "1", "up", "yes"]
    again = mk(mk_home, "up", "--nodes", "2")             # what runs is left alone
    assert again.returncode == 0 and "node n1 already up" in again.stdout, again.stdout

    r = mk(mk_home, "down", "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "node n1 down" in r.stdout and "node n2 down" in r.stdout
    assert "switch down" in r.stdout
    assert not SwitchClient(mk_home).running()
    st = mk(mk_home, "status")
    assert st.returncode == 1 and st.stdout.splitlines()[:2] == ["n1: down, site -",
                                                                 "n2: down, site -"]
    assert mk(mk_home, "down", "--all").returncode == 1       # nothing was running


CLUSTER = """
[switch]
pcap = true

[[node]]
name = "solo"
site = 5
mem = 8
drivers = [{ name = "com3", port = 0x3e8, irq = 5 }]
"""


def test_a_cluster_from_a_toml_file(mk_home, tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text(CLUSTER)
    r = mk(mk_home, "up", "-f", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "capturing to" in r.stdout and "node solo up (site 5)" in r.stdout
    st = mk(mk_home, "status", "--node", "solo")
    assert "site 5, 8 MiB" in st.stdout and "net0 switch" in st.stdout, st.stdout
    drivers = json.loads(mk(mk_home, "driver", "list", "--node", "solo", "--json").stdout)
    com3 = next(d for d in drivers if d["name"] == "com3")
    assert com3["state"] == "running" and com3["irq"] == 5
    assert SwitchClient(mk_home).request("status")["pcap"].endswith("switch/switch.pcap")
    r = mk(mk_home, "down", "-f", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("node solo down") and lines[1:] == [
        "switch down (no node left on it)"], r.stdout


@pytest.mark.parametrize("args,file_text,says", [
    (("up", "-f", "{file}"), "[[node]\nname = 'a'", "is not valid TOML"),
    (("up", "-f", "{file}"), "[[node]]\nname = 'a'\nmemory = 8", "unknown key 'memory'"),
    (("up", "-f", "{file}"), None, "cannot read"),
    (("up", "--nodes", "0"), None, "--nodes is 1..64, not 0"),
    (("up", "--nodes", "2", "--node", "x"), None, "--nodes and --node do not go together"),
    (("up", "--listen", "tcp://127.0.0.1:7"), None, "--listen is the switch's"),
    (("up", "--join", "ipc:///tmp/x", "--keys", "{file}"), "", "is not an mk keys bundle"),
    (("down", "--all", "--nodes", "2"), None, "do not go together"),
    (("link", "n1", "down"), None, "the switch is not running"),
    (("switch",), None, "the switch is not running"),
])
def test_bad_input_gets_one_line(mk_home, tmp_path, args, file_text, says):
    path = tmp_path / "bad.toml"
    if file_text is not None:
        path.write_text(file_text)
    r = mk(mk_home, *(a.replace("{file}", str(path)) for a in args))
    assert r.returncode != 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], r.stderr
