"""Performance metrics of a daily net-liquidation series: overall, by VIX regime, by year.

Input: session dates and net liquidation at each session's mark (dollars),
optionally the annual risk-free rate per session (decimal, e.g. the 3-month
T-bill) and the VIX close per session. Daily returns are
``r_t = NL_t / NL_{t-1} - 1`` (the first session has none). Every metric is a
decimal (0.05 = 5%); annualisation uses :data:`PERIODS_PER_YEAR` = 252
sessions. The formulas are empyrical-reloaded's (Quantopian's
performance-analytics library, maintained by Stefan Jansen) where it has one:

* ``cagr``: ``prod(1 + r) ** (252 / n) - 1`` over the ``n`` returns
  (``empyrical.annual_return``; session-count annualisation, so a regime's
  days compound as if they were contiguous).
* ``vol``: annualised standard deviation of daily returns, ``std(r, ddof=1)
  * sqrt(252)`` (``empyrical.annual_volatility``).
* ``sharpe``: ``mean(r - rf) / std(r - rf) * sqrt(252)`` with ``rf`` the
  risk-free return over each return's calendar days, ``rate * days / 365`` at
  the *previous* session's rate (0 when no rate series is given): the same
  actual/365 accrual the replay credits cash with
  (:func:`daemon.brokers.interest.accrued_interest`), so a strategy holding
  only cash has an excess return of zero (``empyrical.sharpe_ratio``).
* ``sortino``: ``mean(r - rf) * 252 / downside deviation``, the downside
  deviation being ``sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(252)``
  (``empyrical.sortino_ratio`` with a per-day required return).
* ``max_drawdown``: the largest fall of the compounded returns from their
  running peak, a negative decimal (``empyrical.max_drawdown``); for a regime,
  of the regime's returns compounded one after the other.
* ``calmar``: ``cagr / |max_drawdown|`` (``empyrical.calmar_ratio``; NaN when
  there is no drawdown).
* ``cvar95``: mean of the worst 5% of daily returns, a negative decimal
  (``empyrical.conditional_value_at_risk``, cutoff 0.05).
* ``worst_month``: the lowest calendar-month return, the month's returns
  compounded (for a regime, only its sessions within each month).

VIX regime of a return (the session ``t`` whose mark ends it): the VIX close
of the *previous* session ``t-1``, i.e. the regime known when the day began,
so no regime label looks ahead. Bands: ``"<20"`` below 20, ``"20-30"`` from
20 up to and including 30, ``">30"`` above 30 (the ``[signals]``
regime thresholds' defaults). Sessions without a VIX close belong to no regime.

A metric with too few returns is NaN (vol, Sharpe and Sortino need 2). Money never enters a
metric, only ratios of net liquidation.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np

#: Sessions per year for annualisation.
PERIODS_PER_YEAR = 252
#: Day count of the risk-free accrual (actual/365, as the replay's cash interest).
DAYS_PER_YEAR = 365.0

#: Regime labels in display order; ``"all"`` is every return.
REGIMES = ("all", "<20", "20-30", ">30")

#: The VIX bounds of the regimes (VIX points): below CALM is ``"<20"``, above STRESSED ``">30"``.
CALM_BELOW = 20.0
STRESSED_ABOVE = 30.0

#: The columns of one metrics row, in the order of ``summary.csv``.
METRIC_NAMES = (
    "cagr",
    "vol",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "cvar95",
    "worst_month",
)


class MetricsError(ValueError):
    """The series cannot be measured (lengths differ, dates not ascending, bad values)."""


@dataclass(frozen=True, slots=True)
class Metrics:
    """One row of metrics (decimals; see the module docstring for each formula)."""

    n_returns: int
    cagr: float
    vol: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    cvar95: float
    worst_month: float

    def as_dict(self) -> dict[str, float]:
        """The metrics by name (``n_returns`` included)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Returns:
    """Daily returns with what each one is classified by.

    Attributes:
        dates: the session whose mark ends each return.
        values: the returns, decimals.
        risk_free: the daily risk-free return for each (decimal per day).
        vix_before: the VIX close of the previous session (NaN when unknown).
    """

    dates: tuple[date, ...]
    values: np.ndarray
    risk_free: np.ndarray
    vix_before: np.ndarray


def daily_returns(
    dates: Sequence[date],
    net_liq: Sequence[float],
    rate: Sequence[float] | None = None,
    vix: Sequence[float] | None = None,
) -> Returns:
    """The daily returns of ``net_liq`` with their risk-free return and previous VIX close.

    Args:
        dates: ascending session dates.
        net_liq: net liquidation at each session, dollars (positive).
        rate: annual risk-free rate per session, decimal (NaN: carry the last
            known rate forward); ``None`` for 0.
        vix: VIX close per session (NaN: unknown); ``None`` for unknown.

    Raises:
        MetricsError: lengths differ, dates not strictly ascending, or a net
            liquidation is not a positive finite number.
    """
    n = len(dates)
    if len(net_liq) != n or (rate is not None and len(rate) != n):
        raise MetricsError("dates, net liquidation and rate must have the same length")
    if vix is not None and len(vix) != n:
        raise MetricsError("dates and VIX must have the same length")
    if any(b <= a for a, b in itertools.pairwise(dates)):
        raise MetricsError("dates must be strictly ascending")
    nl = np.asarray(net_liq, dtype=float)
    if n and not (np.all(np.isfinite(nl)) and np.all(nl > 0)):
        raise MetricsError("net liquidation must be positive and finite")
    values = nl[1:] / nl[:-1] - 1.0 if n > 1 else np.empty(0)
    if rate is None:
        rf = np.zeros(max(n - 1, 0))
    else:
        annual = _forward_fill(np.asarray(rate, dtype=float))
        days = np.array([(b - a).days for a, b in itertools.pairwise(dates)], dtype=float)
        rf = np.nan_to_num(annual[:-1], nan=0.0) * days / DAYS_PER_YEAR
    before = (
        np.asarray(vix, dtype=float)[:-1]
        if vix is not None and n > 1
        else np.full(len(values), np.nan)
    )
    return Returns(tuple(dates[1:]), values, rf, before)


def _forward_fill(values: np.ndarray) -> np.ndarray:
    out = values.copy()
    last = math.nan
    for i, v in enumerate(out):
        if math.isnan(v):
            out[i] = last
        else:
            last = v
    return out


def regime_of(vix: float) -> str | None:
    """The regime label of a VIX level (``None`` when unknown)."""
    if not math.isfinite(vix):
        return None
    if vix < CALM_BELOW:
        return "<20"
    if vix <= STRESSED_ABOVE:
        return "20-30"
    return ">30"


def regime_mask(returns: Returns, regime: str) -> np.ndarray:
    """Boolean mask of the returns in ``regime`` (one of :data:`REGIMES`)."""
    if regime == "all":
        return np.ones(len(returns.values), dtype=bool)
    if regime not in REGIMES:
        raise MetricsError(f"unknown regime {regime!r}")
    labels = [regime_of(float(v)) for v in returns.vix_before]
    return np.array([label == regime for label in labels], dtype=bool)


def compute(values: np.ndarray, risk_free: np.ndarray, dates: Sequence[date]) -> Metrics:
    """The metrics of the daily returns ``values`` (decimals) ending on ``dates``."""
    import empyrical as ep

    r = np.asarray(values, dtype=float)
    n = len(r)
    if n == 0:
        nan = math.nan
        return Metrics(n, nan, nan, nan, nan, nan, nan, nan, nan)
    rf = np.asarray(risk_free, dtype=float)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        cagr = float(ep.annual_return(r, period="daily"))
        vol = float(ep.annual_volatility(r, period="daily")) if n >= 2 else math.nan
        excess = r - rf
        sharpe = float(ep.sharpe_ratio(excess, risk_free=0.0, period="daily"))
        sortino = float(ep.sortino_ratio(excess, required_return=0.0, period="daily"))
        mdd = float(ep.max_drawdown(r))
        calmar = float(cagr / abs(mdd)) if mdd < 0 else math.nan
        cvar = float(ep.conditional_value_at_risk(r, cutoff=0.05))
    return Metrics(
        n,
        cagr,
        vol,
        _finite(sharpe),
        _finite(sortino),
        calmar,
        mdd,
        cvar,
        worst_month(r, dates),
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.nan


def worst_month(values: np.ndarray, dates: Sequence[date]) -> float:
    """The lowest calendar-month return: each month's daily returns compounded (NaN if none)."""
    months: dict[tuple[int, int], float] = {}
    for d, r in zip(dates, values, strict=True):
        key = (d.year, d.month)
        months[key] = (1.0 + months.get(key, 0.0)) * (1.0 + float(r)) - 1.0
    return min(months.values()) if months else math.nan


def monthly_returns(dates: Sequence[date], levels: Sequence[float]) -> dict[tuple[int, int], float]:
    """Month-on-month returns of a level series (last level of each month; first month dropped).

    Keys are ``(year, month)``; a month's return is its last level over the
    previous month's last level, minus 1.
    """
    last: dict[tuple[int, int], float] = {}
    for d, v in zip(dates, levels, strict=True):
        if math.isfinite(float(v)):
            last[(d.year, d.month)] = float(v)
    keys = sorted(last)
    return {b: last[b] / last[a] - 1.0 for a, b in itertools.pairwise(keys)}


def by_regime(returns: Returns) -> dict[str, Metrics]:
    """Metrics of every regime in :data:`REGIMES` (``"all"`` first)."""
    out: dict[str, Metrics] = {}
    for regime in REGIMES:
        mask = regime_mask(returns, regime)
        picked = [d for d, m in zip(returns.dates, mask, strict=True) if m]
        out[regime] = compute(returns.values[mask], returns.risk_free[mask], picked)
    return out


def by_year(returns: Returns) -> dict[int, Metrics]:
    """Metrics of each calendar year of the returns."""
    years = sorted({d.year for d in returns.dates})
    out: dict[int, Metrics] = {}
    for year in years:
        mask = np.array([d.year == year for d in returns.dates], dtype=bool)
        picked = [d for d in returns.dates if d.year == year]
        out[year] = compute(returns.values[mask], returns.risk_free[mask], picked)
    return out


@dataclass(frozen=True, slots=True)
class SeriesMetrics:
    """Everything :func:`series_metrics` measures of one series."""

    regimes: dict[str, Metrics]
    years: dict[int, Metrics]

    def as_json(self) -> dict[str, object]:
        """JSON-ready: ``{"regimes": {label: {...}}, "years": {"2008": {...}}}`` (NaN as null)."""
        return {
            "regimes": {k: _clean(v.as_dict()) for k, v in self.regimes.items()},
            "years": {str(k): _clean(v.as_dict()) for k, v in self.years.items()},
        }


def _clean(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (v if isinstance(v, int) or math.isfinite(v) else None) for k, v in values.items()}


def series_metrics(
    dates: Sequence[date],
    net_liq: Sequence[float],
    rate: Sequence[float] | None = None,
    vix: Sequence[float] | None = None,
) -> SeriesMetrics:
    """Metrics of a daily net-liquidation series overall, by VIX regime and by year.

    Raises:
        MetricsError: as :func:`daily_returns`.
    """
    returns = daily_returns(dates, net_liq, rate, vix)
    return SeriesMetrics(by_regime(returns), by_year(returns))
