"""A sweep point's metrics from its journal: the study's metrics plus the run's money figures.

:func:`point_metrics` is the one function the sweep calls. The performance
metrics are the study's (:mod:`daemon.study.metrics`, empyrical-reloaded's
formulas): ``cagr``, ``vol``, ``sharpe`` and ``sortino`` over the 3-month
T-bill rate bundled with the market data, ``calmar``, ``max_drawdown``,
``cvar95`` and ``worst_month``, overall and by VIX regime of the previous
session's close (suffixes ``_vix_lt20``, ``_vix_20_30``, ``_vix_gt30``).
One sign differs from the study's table: ``max_drawdown`` here is the fall
from the peak as a positive decimal share (0.12 = 12 %), so "lower is better"
reads naturally in the sweep's rankings (:data:`LOWER_IS_BETTER`).

The series is the run's ``daily`` rows (end-of-session net liquidation
``NL``, dollars) over the sessions of the window, preceded by the window's
base: the net liquidation of the session before the window, or the run's
starting cash when the window starts with the run. Besides:

* ``worst_day``: the lowest daily return, decimal;
* ``pnl``, ``condor_pnl``, ``hedge_pnl``: change of NL and of the cumulative
  per-structure P&L columns over the window, dollars;
* ``final_net_liquidation``, dollars;
* ``trades_closed``, ``win_rate``: positions closed in the window and the
  share of them with positive realized P&L;
* ``commissions``: the run's commissions and fees in dollars (whole run only;
  NaN for a window); ``sessions``: sessions in the window.

Undefined values (no sessions, zero volatility, no drawdown) are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np

from daemon.analytics import starting_net_liquidation
from daemon.journal import DailyRecord, Journal
from daemon.marketdata.loader import MarketHistory, load_history
from daemon.study.benchmarks import Series, bundled_tbill, read_tbill
from daemon.study.metrics import METRIC_NAMES, REGIMES, by_regime, daily_returns

__all__ = ["LOWER_IS_BETTER", "METRICS", "point_metrics", "worker_history"]

#: Name suffix of each VIX regime's metrics (``"all"`` has none).
REGIME_SUFFIX = {"all": "", "<20": "_vix_lt20", "20-30": "_vix_20_30", ">30": "_vix_gt30"}

#: The metric names :func:`point_metrics` returns, in table order.
METRICS = (
    *(f"{name}{REGIME_SUFFIX[regime]}" for regime in REGIMES for name in METRIC_NAMES),
    "worst_day",
    "pnl",
    "condor_pnl",
    "hedge_pnl",
    "final_net_liquidation",
    "trades_closed",
    "win_rate",
    "commissions",
    "sessions",
)

#: Metrics where a smaller value is better (for "best point" choices).
LOWER_IS_BETTER = frozenset(
    {"commissions"}
    | {f"{name}{suffix}" for suffix in REGIME_SUFFIX.values() for name in ("vol", "max_drawdown")}
)


@cache
def worker_history() -> MarketHistory:
    """The bundled market history (VIX closes for the regimes), loaded once per process."""
    return load_history()


@cache
def _tbill() -> Series | None:
    path = bundled_tbill()
    return read_tbill(path) if path is not None else None


def point_metrics(
    journal_path: Path,
    run_id: int,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, float]:
    """Metrics of run ``run_id`` of ``journal_path`` over sessions ``start..end`` (inclusive).

    ``None`` bounds mean the run's first / last session. Definitions in the
    module docstring; every name of :data:`METRICS` is present.

    Raises:
        JournalError: the file is not a journal or has no such run.
    """
    with Journal.open(journal_path, read_only=True) as journal:
        info = journal.run(run_id)
        daily = journal.daily(run_id)
        positions = journal.positions(run_id)
    starting = starting_net_liquidation(info, daily)
    lo = start or date.min
    hi = end or date.max
    base = starting
    base_session: date | None = None
    window = []
    for row in daily:
        if row.session < lo:
            base, base_session = row.net_liquidation, row.session
        elif row.session <= hi:
            window.append(row)
    nan = math.nan
    out = dict.fromkeys(METRICS, nan)
    out["sessions"] = float(len(window))
    closed = [p for p in positions if p.closed_session is not None and lo <= p.closed_session <= hi]
    out["trades_closed"] = float(len(closed))
    if closed:
        out["win_rate"] = sum((p.realized_pnl or 0.0) > 0 for p in closed) / len(closed)
    if start is None and end is None and info.summary:
        out["commissions"] = float(info.summary.get("commissions", nan))
    if not window or base is None or base <= 0:
        return out
    nl = np.array([row.net_liquidation for row in window], dtype=float)
    levels = np.concatenate(([base], nl))
    returns = levels[1:] / levels[:-1] - 1.0
    _performance(out, window, base_session, levels)
    out["worst_day"] = float(np.min(returns))
    out["pnl"] = float(nl[-1] - base)
    out["final_net_liquidation"] = float(nl[-1])
    before = _cumulative_before(daily, lo)
    last = window[-1]
    out["condor_pnl"] = float(last.condor_pnl or 0.0) - before[0]
    out["hedge_pnl"] = float(last.hedge_pnl or 0.0) - before[1]
    return out


def _performance(
    out: dict[str, float],
    window: Sequence[DailyRecord],
    base_session: date | None,
    levels: np.ndarray,
) -> None:
    """Put the study's metrics of ``levels`` (the base, then the window) into ``out``.

    ``base_session`` is the session of the base level (``None``: the run's
    start, dated the history's session before the window's first).
    """
    if not np.all(levels > 0):
        return  # a non-positive net liquidation has no return; the metrics stay NaN
    history = worker_history()
    first = window[0].session
    if base_session is None:
        try:
            i = history.index_of(first)
            base_session = history.sessions[i - 1] if i > 0 else first - timedelta(days=1)
        except KeyError:  # NotASessionError: a hand-made journal
            base_session = first - timedelta(days=1)
    sessions = [base_session, *(row.session for row in window)]
    vix: list[float] = []
    for session in sessions:
        try:
            vix.append(float(history.vix_close[history.index_of(session)]))
        except KeyError:  # not a session of the bundled history: no regime
            vix.append(math.nan)
    tbill = _tbill()
    rate = tbill.on(sessions) if tbill is not None else None
    returns = daily_returns(sessions, list(levels), rate, vix)
    for regime, metrics in by_regime(returns).items():
        for name, value in metrics.as_dict().items():
            key = f"{name}{REGIME_SUFFIX[regime]}"
            if key in out:
                out[key] = abs(value) if name == "max_drawdown" else value


def _cumulative_before(daily: Sequence[DailyRecord], lo: date) -> tuple[float, float]:
    """Cumulative condor and hedge P&L at the session before ``lo`` (0 at the run's start)."""
    condor = hedge = 0.0
    for row in daily:
        if row.session >= lo:
            break
        condor, hedge = float(row.condor_pnl or 0.0), float(row.hedge_pnl or 0.0)
    return condor, hedge
