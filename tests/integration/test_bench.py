"""`mk bench ipc|drivers|unix|trace --quick`: every floor and every figure is produced,
through the same code as a real run (floor peers, a node of its own, bench tasks), with
tiny counts, checked on the values each bench reports; and a bench task's result line
counts only once it is whole. Nothing about speed is asserted here: speed is measured,
never timed in a test."""
import json
import math

import pytest
from click.testing import CliRunner

from bench.ipc import FIGURES, FLOORS, MAP_SIZES
from cli.main import main

pytestmark = pytest.mark.timeout(240)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v >= 0


def test_bench_ipc_quick_reports_every_figure(mk_home):
    res = CliRunner().invoke(main, ["bench", "ipc", "--quick", "--json", "--node", "smoke"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out["floors"]) == set(FLOORS)
    for name in FLOORS:
        assert _number(out["floors"][name]["ns"]), name
    assert set(out["figures"]) == set(FIGURES)
    for name, (label, floor, target) in FIGURES.items():
        f = out["figures"][name]
        assert f["label"] == label and f["floor"] == floor and f["target"] == target
        assert _number(f["ns"]) and _number(f["floor_ns"]), name
        assert f["ratio"] is None or _number(f["ratio"]), name
        if target is not None:      # judged on the ratio to its floor timed beside it
            assert _number(f["paired_ratio"]) and f["met"] == (f["paired_ratio"] <= target)
    for n in (1, 2, 4):
        assert out["figures"][f"throughput_{n}"]["rps"] > 0
        assert _number(out["figures"][f"throughput_{n}"]["paired_ratio"])
    assert set(out["map"]["sizes"]) == {str(n) for n in MAP_SIZES}
    assert out["map"]["source"]


def test_a_task_line_counts_only_once_it_is_whole(tmp_path):
    """A task's output is unbuffered and `print("DISK", data)` is several writes: a log
    that ends in "DISK" is not yet the line (it was read as "DISK" with nothing after)."""
    from bench.floors import BenchError
    from bench.node import BenchNode
    log = tmp_path / "task.log"
    log.write_text("READY\nDISK")
    task = {"log": str(log), "task": 70, "func": "disk"}
    bn = BenchNode.__new__(BenchNode)          # line() reads only the task's log
    with pytest.raises(BenchError):
        bn.line(task, "DISK", timeout=0.05)
    with open(log, "a") as f:
        f.write(' {"write_ns": 5}\n')
    assert json.loads(bn.line(task, "DISK", timeout=1)) == {"write_ns": 5}


def test_bench_trace_quick_reports_the_traced_null_rpc():
    """`mk bench trace --quick`: the traced null RPC beside the untraced one, paired,
    and every traced call in the drained ring."""
    res = CliRunner().invoke(main, ["bench", "trace", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    fig = out["figures"]["null_rpc_traced"]
    assert fig["floor"] == "null_rpc" and fig["target"] == 1.3
    assert all(_number(fig[k]) for k in ("ns", "floor_ns", "ratio", "paired_ratio"))
    assert out["records_per_step"] >= 2 * out["n"]


@pytest.mark.timeout(300)
def test_bench_drivers_quick_reports_every_figure():
    """The drivers bench runs end to end (tiny sizes) and reports each figure."""
    from bench.drivers import run
    out = run(mib=1, samples=5, repeats=1)
    for key in ("user_write_ns", "user_read_ns", "kernel_write_ns", "kernel_read_ns",
                "write_ratio", "read_ratio", "irq_ns_median", "null_rpc_ns"):
        assert out[key] > 0, key
    assert out["data_ok"] is True


@pytest.mark.timeout(300)
def test_bench_unix_quick_reports_every_figure():
    """`mk bench unix --quick`: every figure of the Unix personality, each floor and the
    boot time are produced, with their ratios (the processes check their own results:
    the data read, /bin/true's status, the pipeline's count). No timing is asserted."""
    from bench.unix import FIGURES, FLOORS
    res = CliRunner().invoke(main, ["bench", "unix", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out["floors"]) == set(FLOORS)
    for name in FLOORS:
        assert _number(out["floors"][name]["ns"]) and out["floors"][name]["ns"] > 0, name
    assert set(out["figures"]) == set(FIGURES)
    for name, (label, floor, target) in FIGURES.items():
        f = out["figures"][name]
        assert f["label"] == label and f["floor"] == floor and f["target"] == target
        assert _number(f["ns"]) and _number(f["floor_ns"]) and _number(f["ratio"]), name
    assert out["figures"]["read_4k"]["rpcs"] == 2
    boot = out["boot"]
    assert boot["seconds"] > 0 and boot["target_s"] == 3.0 and boot["runs"]
    assert out["pipeline_lines"] > 0
    assert out["settings"]["files"] > 0 and out["figures"]["create_file"]["ns"] > 0


@pytest.mark.timeout(300)
def test_bench_paper_quick_reports_every_figure_with_its_floor(mk_home, tmp_path):
    """`mk bench paper --quick --json --plot F.svg`: every figure of the IPC table has its
    floor (a floor or another figure, with its value), Figure 3 has both curves at every
    level and the work under 10% for each; the plot is drawn, or, without matplotlib,
    the run says how to get it in one line. No timing is asserted."""
    import importlib.util

    from bench.paper import FIGURES
    plot = tmp_path / "fig3.svg"
    res = CliRunner().invoke(main, ["bench", "paper", "--quick", "--json", "--node", "psmoke",
                                    "--plot", str(plot)])
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    assert res.exit_code == (0 if has_mpl else 1), res.output
    out = json.loads(res.stdout)
    assert set(out["figures"]) == set(FIGURES)
    for name, (label, floor, target, paper) in FIGURES.items():
        f = out["figures"][name]
        assert f["label"] == label and f["floor"] == floor and f["paper_486_us"] == paper
        assert floor in out["floors"] or floor in out["figures"], name
        assert _number(f["ns"]) and _number(f["floor_ns"]) and _number(f["ratio"]), name
        if target is not None:
            assert _number(f["paired_ratio"]) and isinstance(f["met"], bool), name
    f3 = out["figure3"]
    assert len(f3["kernel"]) == len(f3["direct"]) == len(f3["levels"]) >= 2
    assert all(_number(f3["under"][side]["10"]) for side in ("kernel", "direct"))
    if has_mpl:
        assert plot.read_text().lstrip().startswith("<?xml")
    else:
        assert "pip install -e '.[plot]'" in res.output and "Traceback" not in res.output
