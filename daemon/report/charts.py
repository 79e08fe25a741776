"""The report's pictures: PNG files drawn with matplotlib from a :class:`RunReport`.

Each function draws one figure from gathered values (no journal access) and
writes it to the path given. Figures are built on
:class:`matplotlib.figure.Figure` with the Agg canvas, never ``pyplot``: no
global state, no display needed, safe to call from any thread (the study
renders one page per variant).

Units are in the axis labels; see :mod:`daemon.report.data`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from daemon.report.data import GREEKS, ROLLING_WINDOW, RunReport

__all__ = [
    "CHART_FILES",
    "draw_all",
    "draw_equity",
    "draw_greeks",
    "draw_hedge_attribution",
    "draw_vol_vix",
]

#: File name of each chart inside the output directory, in page order.
CHART_FILES = {
    "equity": "equity.png",
    "vol_vix": "vol_vix.png",
    "hedge_attribution": "hedge_attribution.png",
    "greeks": "greeks.png",
}

_DPI = 110
_WIDTH = 10.0  # inches

#: Labels of the greeks with their units, per structure kind (underlying).
_GREEK_LABELS = {
    "delta": "delta ($ per index point)",
    "gamma": "gamma ($/pt per point)",
    "vega": "vega ($ per vol point)",
    "theta": "theta ($ per calendar day)",
}
_KIND_LABELS = {"condor": "condors (SPX)", "hedge_layer": "hedge layers (VIX)"}


def _dollars(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))


def _dates(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _x(report: RunReport) -> npt.NDArray[np.datetime64]:
    """The sessions as ``datetime64[D]`` (what matplotlib's date axis takes)."""
    return np.array(report.sessions, dtype="datetime64[D]")


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI, format="png")
    return path


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def draw_equity(report: RunReport, path: Path, title: str = "") -> Path:
    """Net liquidation (dollars) above its drawdown from the running peak (percent)."""
    fig = Figure(figsize=(_WIDTH, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    x = _x(report)
    if not len(x):
        _empty(top, "no daily rows")
        _empty(bottom, "")
        return _save(fig, path)
    top.plot(x, report.net_liquidation, color="#1f6feb", lw=1.4)
    top.set_ylabel("net liquidation ($)")
    top.set_title(title or "Equity and drawdown")
    _dollars(top)
    top.grid(alpha=0.3)
    dd = [-d for d in report.drawdown]
    bottom.fill_between(x, dd, 0.0, color="#d73a49", alpha=0.35, lw=0)
    bottom.plot(x, dd, color="#d73a49", lw=0.8)
    bottom.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    bottom.set_ylabel("drawdown")
    bottom.grid(alpha=0.3)
    _dates(bottom)
    return _save(fig, path)


def draw_vol_vix(report: RunReport, path: Path, window: int = ROLLING_WINDOW) -> Path:
    """Rolling annualised volatility of net liquidation (percent) with VIX on a second axis."""
    fig = Figure(figsize=(_WIDTH, 3.8), layout="constrained")
    ax = fig.subplots()
    x = _x(report)
    if not len(x):
        _empty(ax, "no daily rows")
        return _save(fig, path)
    ax.plot(x, report.rolling_vol, color="#1f6feb", lw=1.3, label=f"{window}-session vol")
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_ylabel(f"account vol, {window}-session, annualised")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title("Rolling volatility of net liquidation and VIX")
    lines, labels = ax.get_legend_handles_labels()
    if any(not math.isnan(v) for v in report.vix):
        right = ax.twinx()
        right.plot(x, report.vix, color="#e36209", lw=1.0, alpha=0.8, label="VIX close")
        right.set_ylabel(f"VIX (points; {report.vix_source})")
        right.set_ylim(bottom=0)
        more_lines, more_labels = right.get_legend_handles_labels()
        lines, labels = lines + more_lines, labels + more_labels
    ax.legend(lines, labels, loc="upper left", fontsize="small")
    _dates(ax)
    return _save(fig, path)


def draw_hedge_attribution(report: RunReport, path: Path) -> Path:
    """Cumulative hedge P&L per rung tag (dollars) and their total."""
    fig = Figure(figsize=(_WIDTH, 4.2), layout="constrained")
    ax = fig.subplots()
    x = _x(report)
    if not len(x):
        _empty(ax, "no daily rows")
        return _save(fig, path)
    total = [0.0] * len(x)
    for key, series in report.hedge_pnl.items():
        ax.plot(x, series, lw=1.2, label=f"hedge {key}")
        total = [t + v for t, v in zip(total, series, strict=True)]
    if report.hedge_pnl:
        ax.plot(x, total, color="black", lw=1.6, ls="--", label="hedge total")
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_ylabel("cumulative P&L ($, net of costs)")
    ax.set_title("Hedge P&L by rung (realized + open)")
    _dollars(ax)
    ax.grid(alpha=0.3)
    if report.hedge_pnl:
        ax.legend(loc="upper left", fontsize="small", ncol=2)
    else:
        _empty(ax, "no hedge layer")
    _dates(ax)
    return _save(fig, path)


def draw_greeks(report: RunReport, path: Path) -> Path:
    """Net greeks per session, one panel per greek, one line per structure kind."""
    fig = Figure(figsize=(_WIDTH, 7.0), layout="constrained")
    axes: Sequence[Axes] = fig.subplots(len(GREEKS), 1, sharex=True).ravel().tolist()
    x = _x(report)
    if not len(x) or not report.greeks:
        for ax in axes:
            _empty(ax, "no marks")
        return _save(fig, path)
    for ax, greek in zip(axes, GREEKS, strict=True):
        for kind, by_greek in report.greeks.items():
            ax.plot(x, by_greek[greek], lw=1.1, label=_KIND_LABELS.get(kind, kind))
        ax.axhline(0.0, color="grey", lw=0.6)
        ax.set_ylabel(_GREEK_LABELS[greek], fontsize="small")
        _dollars(ax)
        ax.grid(alpha=0.3)
    axes[0].set_title(
        "Net greeks at the close (each kind per its own underlying: SPX points / SPX vol, "
        "VIX points / VIX-option vol)",
        fontsize="medium",
    )
    axes[0].legend(loc="upper left", fontsize="small")
    _dates(axes[-1])
    return _save(fig, path)


def draw_all(report: RunReport, out_dir: Path, title: str = "") -> dict[str, Path]:
    """Draw every chart of :data:`CHART_FILES` into ``out_dir``; returns name -> path.

    Matplotlib's warnings (e.g. about absurd values in a damaged journal) are
    silenced: the command's output is its one line.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _draw_all(report, out_dir, title)


def _draw_all(report: RunReport, out_dir: Path, title: str) -> dict[str, Path]:
    return {
        "equity": draw_equity(report, out_dir / CHART_FILES["equity"], title),
        "vol_vix": draw_vol_vix(report, out_dir / CHART_FILES["vol_vix"]),
        "hedge_attribution": draw_hedge_attribution(
            report, out_dir / CHART_FILES["hedge_attribution"]
        ),
        "greeks": draw_greeks(report, out_dir / CHART_FILES["greeks"]),
    }
