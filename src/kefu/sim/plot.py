"""Charts of a simulated day and of a staffing curve (matplotlib, the optional ``plot`` extra).

matplotlib is imported only here and only when a chart is asked for, so
kefu itself never needs it; :func:`require` fails early with the install
hint, before a long simulation runs for nothing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from kefu.sim.driver import SimResult
from kefu.sim.errors import SimConfigError
from kefu.sim.report import Report
from kefu.sim.staffing import StaffResult

__all__ = ["PlotUnavailable", "plot_day", "plot_staffing", "require"]


class PlotUnavailable(SimConfigError):
    """matplotlib is not installed."""


def require() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend, or PlotUnavailable."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        return importlib.import_module("matplotlib.pyplot")
    except ImportError:
        raise PlotUnavailable(
            "--plot needs matplotlib, which is not installed: "
            "python -m pip install 'kefu[plot]'"
        ) from None


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise SimConfigError(f"--plot writes .png, .svg or .pdf files, got {str(p)!r}")
    if not p.parent.is_dir():
        raise SimConfigError(f"--plot: directory {str(p.parent)!r} does not exist")
    return p


def check_target(path: str | Path) -> None:
    """Fail before simulating if the chart could not be written anyway."""
    _check_path(path)
    require()


def plot_day(result: SimResult, report: Report, path: str | Path) -> Path:
    """Concurrent buyers, queue length (per minute) and the reply rate (per hour) over the day."""
    p = _check_path(path)
    plt = require()
    s = result.series
    last = min(len(s.arrivals), int((result.end - result.t0) // 60) + 1)
    hours = [m / 60 for m in range(last)]
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True, constrained_layout=True)
    cfg = result.config
    fig.suptitle(
        f"{cfg.day} - {cfg.shop.agents} agents, cap {cfg.shop.cap or 'unlimited'}, "
        f"{result.sessions:,} sessions (seed {cfg.seed})"
    )
    axes[0].plot(hours, s.max_concurrent[:last], color="tab:blue", linewidth=1)
    seats = cfg.shop.agents * cfg.shop.cap if cfg.shop.cap is not None else None
    if seats is not None:
        axes[0].axhline(seats, color="grey", linestyle="--", linewidth=1, label="agents x cap")
        axes[0].legend(loc="upper left")
    axes[0].set_ylabel("concurrent buyers")
    axes[1].plot(hours, s.max_queue[:last], color="tab:red", linewidth=1)
    axes[1].set_ylabel("queue length")
    rated = [h for h in report.hours if h.reply_rate is not None]
    axes[2].bar([h.hour + 0.5 for h in rated], [100 * (h.reply_rate or 0) for h in rated],
                width=0.9, color="tab:green")
    axes[2].axhline(90, color="grey", linestyle="--", linewidth=1)
    axes[2].set_ylabel("answered in time %")
    axes[2].set_ylim(0, 100)
    axes[2].set_xlabel("hour of the day")
    axes[2].set_xlim(0, max(24, last / 60))
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def plot_staffing(result: StaffResult, path: str | Path) -> Path:
    """Reply rate (worst seed) against agents, with the target line and the answer."""
    p = _check_path(path)
    plt = require()
    pts = [pt for pt in result.curve if pt.rate is not None]
    fig, ax = plt.subplots(figsize=(8, 4.5), constrained_layout=True)
    ax.plot([pt.agents for pt in pts], [100 * (pt.rate or 0) for pt in pts], marker="o")
    ax.axhline(100 * result.target, color="grey", linestyle="--", linewidth=1, label="target")
    if result.agents is not None:
        ax.axvline(result.agents, color="tab:green", linewidth=1,
                   label=f"answer: {result.agents} agents")
    ax.set_xlabel("agents")
    ax.set_ylabel("answered within the threshold % (worst day)")
    ax.legend()
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
