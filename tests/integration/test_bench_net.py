"""`mk bench net --quick --only forwarding`: every frame path of the benchmark (the direct
cable, the switch on its poller, the switch on uvloop, each with its echo process) runs
and reports every figure; nothing about speed is asserted (DESIGN §8)."""
import json
import math

import pytest
from click.testing import CliRunner

from bench.net import SIZES
from cli.main import main

pytestmark = pytest.mark.timeout(120)


def test_bench_net_quick_reports_every_forwarding_figure():
    res = CliRunner().invoke(main, ["bench", "net", "--quick", "--only", "forwarding",
                                    "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out["forwarding"]) == {f"{k}_{n}" for k in ("rtt", "burst") for n in SIZES}
    for fig in out["forwarding"].values():
        for key in ("cable", "poller", "uvloop", "switch_ratio", "uvloop_ratio"):
            assert isinstance(fig[key], (int, float)) and math.isfinite(fig[key]) \
                and fig[key] > 0, fig
    assert "boot" not in out
