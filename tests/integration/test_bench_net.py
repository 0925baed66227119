"""`mk bench net --quick --only forwarding` and `--only remote`: every frame path of the
benchmark (the direct cable, the switch on its poller, the switch on uvloop, each with
its echo process) and every remote IPC figure with its floor (two real nodes) runs and
is reported; nothing about speed is asserted (DESIGN §8)."""
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


@pytest.mark.timeout(180)
def test_bench_net_quick_reports_every_remote_figure_beside_its_floor():
    res = CliRunner().invoke(main, ["bench", "net", "--quick", "--only", "remote", "--json"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)["remote"]
    for figure, floor in (("remote_rpc_ms", "frame_rtt_60_ms"), ("bulk_mb_s", "link_floor_mb_s"),
                          ("local_rpc_ms", "frame_rtt_1514_ms")):
        assert all(x > 0 for x in r[figure] + r[floor]), r
    assert r["remote_rpc_per_frame_rtt_median"] > 0 and r["bulk_per_link_floor_median"] > 0
    assert r["exactly_once"]["exact"] is True, r["exactly_once"]
    assert r["death"]["error"] == "NOT_EXISTENT", r["death"]
