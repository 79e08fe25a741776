"""A sweep point's metrics from its journal (placeholder until the study's metrics are merged).

:func:`point_metrics` is the one function the sweep calls; the study helper's
``daemon/study/metrics.py`` will replace its body (the lead rewires it at
merge), so everything else in :mod:`daemon.sweep` only relies on its
signature: a flat ``dict[str, float]`` of named metrics.

Definitions used here (from the run's ``daily`` rows, end-of-session net
liquidation ``NL`` in dollars, over the sessions of the window):

* daily return ``r_t = NL_t / NL_{t-1} - 1``, the first one against the
  window's base: the net liquidation of the session before the window, or the
  run's starting cash when the window starts with the run;
* ``cagr``: ``(NL_end / NL_base) ** (252 / n) - 1`` with ``n`` sessions
  (252 trading days a year), decimal;
* ``vol``: sample standard deviation of ``r`` times ``sqrt(252)``, decimal;
* ``sharpe``: ``mean(r) / std(r) * sqrt(252)``, zero risk-free rate;
* ``sortino``: ``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(252)``;
* ``max_drawdown``: largest fall of NL from its running peak (the base
  included) as a decimal share of that peak; ``calmar`` = ``cagr / max_drawdown``;
* ``worst_day``: the lowest ``r``, decimal;
* ``pnl``, ``condor_pnl``, ``hedge_pnl``: change of NL and of the cumulative
  per-structure P&L columns over the window, dollars;
* ``trades_closed``, ``win_rate``: positions closed in the window and the
  share of them with positive realized P&L;
* ``commissions``: the run's commissions and fees in dollars (whole run only;
  NaN for a window).

Undefined values (no sessions, zero volatility, no drawdown) are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from daemon.analytics import starting_net_liquidation
from daemon.journal import DailyRecord, Journal

__all__ = ["LOWER_IS_BETTER", "METRICS", "point_metrics"]

#: Trading sessions per year for annualising.
SESSIONS_PER_YEAR = 252

#: The metric names :func:`point_metrics` returns, in table order.
METRICS = (
    "cagr",
    "vol",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
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
LOWER_IS_BETTER = frozenset({"vol", "max_drawdown", "commissions"})


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
    window = []
    for row in daily:
        if row.session < lo:
            base = row.net_liquidation
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
    n = len(returns)
    growth = nl[-1] / base
    out["cagr"] = float(growth ** (SESSIONS_PER_YEAR / n) - 1.0) if growth > 0 else -1.0
    ann = math.sqrt(SESSIONS_PER_YEAR)
    if n > 1:
        std = float(np.std(returns, ddof=1))
        out["vol"] = std * ann
        if std > 0:
            out["sharpe"] = float(np.mean(returns)) / std * ann
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside > 0:
        out["sortino"] = float(np.mean(returns)) / downside * ann
    peaks = np.maximum.accumulate(levels)
    drawdown = float(np.max((peaks - levels) / peaks))
    out["max_drawdown"] = drawdown
    if drawdown > 0:
        out["calmar"] = out["cagr"] / drawdown
    out["worst_day"] = float(np.min(returns))
    out["pnl"] = float(nl[-1] - base)
    out["final_net_liquidation"] = float(nl[-1])
    before = _cumulative_before(daily, lo)
    last = window[-1]
    out["condor_pnl"] = float(last.condor_pnl or 0.0) - before[0]
    out["hedge_pnl"] = float(last.hedge_pnl or 0.0) - before[1]
    return out


def _cumulative_before(daily: Sequence[DailyRecord], lo: date) -> tuple[float, float]:
    """Cumulative condor and hedge P&L at the session before ``lo`` (0 at the run's start)."""
    condor = hedge = 0.0
    for row in daily:
        if row.session >= lo:
            break
        condor, hedge = float(row.condor_pnl or 0.0), float(row.hedge_pnl or 0.0)
    return condor, hedge
