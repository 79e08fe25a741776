"""The study's pictures (matplotlib, Agg backend, PNG): written next to the page.

Each function draws one figure from a :class:`~daemon.study.run.StudyResult`
and returns its file name, or ``None`` when its inputs are missing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from daemon.study.run import StudyResult

#: Series shown in the equity and drawdown charts, in order, with their labels.
MAIN_SERIES = (
    ("alvh", "ALVH (defaults)"),
    ("unhedged", "Unhedged condor"),
    ("cndr_replica", "CNDR replica"),
    ("cndr_index", "CNDR index (Cboe)"),
    ("sp500tr", "S&P 500 TR"),
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _levels(result: StudyResult, name: str) -> tuple[Sequence[date], np.ndarray] | None:
    if name in result.runs:
        run = result.runs[name]
        return run.sessions, np.asarray(run.net_liq, dtype=float)
    series = result.benchmarks.get(name)
    if series is not None and series.dates:
        return series.dates, np.asarray(series.values, dtype=float)
    return None


def write_plots(result: StudyResult, out: Path) -> dict[str, str]:
    """Draw every picture into ``out``; returns ``{key: file name}`` of those drawn."""
    plt = _pyplot()
    drawn: dict[str, str] = {}
    for key, draw in (
        ("equity", _equity),
        ("drawdown", _drawdown),
        ("cndr", _cndr),
        ("regime_vol", _regime_vol),
        ("variants", _variants),
    ):
        name = draw(result, out, plt)
        if name is not None:
            drawn[key] = name
    return drawn


def _equity(result: StudyResult, out: Path, plt: Any) -> str | None:
    fig, ax = plt.subplots(figsize=(10, 5))
    for name, label in MAIN_SERIES:
        got = _levels(result, name)
        if got is None or len(got[1]) < 2:
            continue
        dates, levels = got
        ax.plot(dates, levels / levels[0], label=label, linewidth=1.2)
    ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("growth of 1 (log scale)")
    ax.set_title(f"Equity {result.options.start} to {result.options.end}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, out / "equity.png", plt)


def _drawdown(result: StudyResult, out: Path, plt: Any) -> str | None:
    fig, ax = plt.subplots(figsize=(10, 4))
    for name, label in MAIN_SERIES:
        got = _levels(result, name)
        if got is None or len(got[1]) < 2:
            continue
        dates, levels = got
        ax.plot(dates, levels / np.maximum.accumulate(levels) - 1.0, label=label, linewidth=1.0)
    ax.set_ylabel("drawdown (decimal)")
    ax.set_title("Drawdown from the running peak")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left")
    return _save(fig, out / "drawdown.png", plt)


def _cndr(result: StudyResult, out: Path, plt: Any) -> str | None:
    cmp = result.cndr
    if cmp is None or len(cmp.months) < 3:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    months = [date(y, m, 1) for y, m in cmp.months]
    replica = np.cumprod(1.0 + np.asarray(cmp.replica))
    index = np.cumprod(1.0 + np.asarray(cmp.index))
    left.plot(months, replica, label="CNDR replica (this engine)")
    left.plot(months, index, label="CNDR index (Cboe)")
    left.set_title("Growth of 1, month ends")
    left.grid(True, alpha=0.3)
    left.legend(loc="upper left")
    right.scatter(cmp.index, cmp.replica, s=10, alpha=0.7)
    lo = min(min(cmp.index), min(cmp.replica))
    hi = max(max(cmp.index), max(cmp.replica))
    right.plot([lo, hi], [lo, hi], color="grey", linewidth=0.8)
    right.set_xlabel("CNDR index monthly return")
    right.set_ylabel("replica monthly return")
    right.set_title(
        f"Monthly returns: correlation {cmp.correlation:.2f}, "
        f"tracking error {cmp.tracking_error:.1%}"
    )
    right.grid(True, alpha=0.3)
    return _save(fig, out / "cndr.png", plt)


def _regime_vol(result: StudyResult, out: Path, plt: Any) -> str | None:
    names = [(n, label) for n, label in MAIN_SERIES if n in result.metrics]
    if not names:
        return None
    regimes = ("all", "<20", "20-30", ">30")
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(names)
    x = np.arange(len(regimes))
    for i, (name, label) in enumerate(names):
        vols = [result.metrics[name].regimes[r].vol for r in regimes]
        ax.bar(x + i * width, [v if math.isfinite(v) else 0.0 for v in vols], width, label=label)
    ax.set_xticks(
        x + width * (len(names) - 1) / 2, [f"VIX {r}" if r != "all" else r for r in regimes]
    )
    ax.set_ylabel("annualised vol of daily returns")
    ax.set_title("Volatility by VIX regime (previous session's VIX close)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return _save(fig, out / "regime_vol.png", plt)


def _variants(result: StudyResult, out: Path, plt: Any) -> str | None:
    names = [v.name for v in result.variants if v.name in result.metrics]
    if not names:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.35 * len(names) + 1.5), sharey=True)
    y = np.arange(len(names))
    sharpe = [result.metrics[n].regimes["all"].sharpe for n in names]
    high = [result.metrics[n].regimes[">30"].vol for n in names]
    left.barh(y, [s if math.isfinite(s) else 0.0 for s in sharpe])
    left.set_yticks(y, names)
    left.invert_yaxis()
    left.set_title("Sharpe ratio, whole range")
    left.grid(True, axis="x", alpha=0.3)
    right.barh(y, [v if math.isfinite(v) else 0.0 for v in high], color="tab:orange")
    right.set_title("Annualised vol on sessions with VIX > 30")
    right.grid(True, axis="x", alpha=0.3)
    return _save(fig, out / "variants.png", plt)


def _save(fig: Any, path: Path, plt: Any) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
