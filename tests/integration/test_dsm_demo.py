"""The README's DSM demonstration on a real two-node cluster, run as a user runs it
(`mk run` of examples/dsm.py on each node): the product of two matrices split across
the nodes equals the single-node product, and a counter incremented under the segment's
lock by tasks on both nodes ends at exactly the sum. Then `mk bench dsm --quick` (four
nodes of its own) reports every figure beside its floor; no speed is asserted."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli.main import main

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "examples", "dsm.py")


def mk(home: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "MK_HOME": home},
                          cwd=ROOT)


@pytest.fixture(scope="module")
def two(mk_home):
    r = mk(mk_home, "up", "--nodes", "2")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield mk_home
    finally:
        mk(mk_home, "down", "--all")


def test_the_product_over_two_nodes_equals_one_nodes(two):
    assert mk(two, "run", "-d", "--node", "n2", f"{DEMO}:matmul", "1", "2", "48").returncode == 0
    r = mk(two, "run", "--node", "n1", f"{DEMO}:matmul", "0", "2", "48")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "equals the single-node result" in r.stdout, r.stdout


def test_a_counter_under_the_lock_ends_at_the_sum(two):
    for _ in range(2):
        assert mk(two, "run", "-d", "--node", "n2", f"{DEMO}:counter", "50", "3").returncode == 0
    r = mk(two, "run", "--node", "n1", f"{DEMO}:counter", "50", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "total: 150" in r.stdout, r.stdout


def test_bench_dsm_quick_reports_every_figure_beside_its_floor():
    res = CliRunner().invoke(main, ["bench", "dsm", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert all(x > 0 for x in out["floor_rpc4k_ms"]), out
    for key in ("read_fault", "write_fault_k1", "write_fault_k2"):
        f = out["figures"][key]
        assert f["ratios"] and all(x > 0 for x in f["ratios"]) and f["target"] >= 2.0, f
    d = out["demo"]["12"]
    assert d["ratios"] and all(x > 0 for x in d["ratios"]) and d["target"] == 1.5, d
