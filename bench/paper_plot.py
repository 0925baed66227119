"""The plot of `mk bench paper --plot FILE`: Figure 3 for mk, as PNG or SVG (by suffix).

matplotlib is an optional extra (`pip install -e '.[plot]'`): without it, `plot` raises
a BenchError that says so, and the table and JSON are still printed.
"""
from __future__ import annotations

import os

from .floors import BenchError

__all__ = ["plot", "check_path"]


def check_path(path: str) -> None:
    """A BenchError unless `path` names a kind of file the plot is written as."""
    if os.path.splitext(path)[1].lower() not in (".png", ".svg"):
        raise BenchError(f"{path}: the plot is written as .png or .svg")


def plot(out: dict, path: str) -> None:
    """Relative RPC overhead against lines of work per RPC, with the 10% and 50% lines
    and the paper's two marks, written to `path` (.png or .svg)."""
    check_path(path)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BenchError("plotting needs matplotlib: pip install -e '.[plot]'") from None
    f3 = out["figure3"]
    pts = [(L, k, d) for L, k, d in zip(f3["levels"], f3["kernel"], f3["direct"]) if L > 0]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [p[0] for p in pts]
    for i, (side, label, style) in enumerate((("kernel", "mk null RPC", "o-"), (
            "direct", "direct ZeroMQ round trip (no kernel)", "s--"))):
        line, = ax.plot(xs, [100 * p[1 + i] for p in pts], style, label=label)
        r = f3["under"][side]["rpc_ns"]              # the model: R / (R + L l)
        ax.plot(xs, [100 * r / (r + x * f3["line_ns"]) for x in xs], ":", lw=1,
                color=line.get_color(), label=f"{label}: R / (R + L x line)")
    for level in (10, 50):
        ax.axhline(level, color="grey", lw=0.8, ls=":")
        ax.text(xs[-1], level + 1, f"{level}%", color="grey", fontsize=8, ha="right")
    for label, lines in out["paper"]["lines_per_rpc_10pct"].items():
        ax.axvline(lines, color="tab:red", lw=0.8, ls="-.")
        ax.text(lines * 1.08, 92, f"paper, {label}:\n~{lines:,} lines (486, C)",
                color="tab:red", fontsize=7, va="top")
    ax.set_xscale("log")
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"lines of Python between two RPCs (one line = {f3['line_ns']:.0f} ns)")
    ax.set_ylabel("relative RPC overhead (%)")
    ax.set_title("Figure 3 on mk: RPC overhead against user-level work")
    ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as e:
        raise BenchError(f"{path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)
