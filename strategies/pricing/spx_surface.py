"""SPX implied-volatility surface driven only by the day's daily index data.

Inputs: VIX9D, VIX, VIX3M (Cboe 9-, 30- and 93-calendar-day implied-variance
indexes, vol points), the Cboe SKEW index, the SPX forward and, optionally,
the exchange holidays and scheduled macro events (CPI, FOMC) between the
quote and the expiry.

Variance clock
    Implied variance does not accrue evenly over calendar time: a weekend or
    holiday carries far less variance than a session, and a CPI or FOMC day
    more. Each calendar day ``d`` after the quote session counts
    ``1`` if it is a session, ``nonsession_weight`` otherwise, plus
    ``cpi_weight``/``fomc_weight`` extra session-days on event days; a
    partial last day (AM settlement at 09:30, 17.5 h after the previous
    close) counts pro rata. :meth:`SpxSurface.tau` converts that weighted day
    count to years by dividing by :data:`CLOCK_DAYS_PER_YEAR` weighted days
    (so ``tau`` is close to calendar years). Without a session date the
    clock is calendar time (``tau = t``).

ATM term structure
    Cboe's VIX-family indexes are model-free 9/30/93-calendar-day **variance
    swap** levels (Cboe VIX White Paper, 2019 ed.), which sit above ATM
    implied vol by the skew premium. The ATM vol over each index window is
    ``ratio_j * index_j / 100`` with
    ``ln ratio_j = ln atm_ratio + atm_ratio_skew * x_s + atm_ratio_vix * x_v
    + atm_ratio_term * ln(days_j / 30)``, ``x_s = (SKEW - skew_ref) / 10``,
    ``x_v = ln(VIX / vix_ref)``. Knot total variances
    ``w_j = (ratio_j index_j / 100)^2 days_j / 365`` sit at the clock times
    ``tau_j`` of the index windows and are interpolated linearly in ``tau``
    (forced non-decreasing: no calendar arbitrage, Gatheral, *The Volatility
    Surface*, 2006, ch. 3), with constant ``w / tau`` outside the knots.

Smile
    In normalised moneyness ``k = ln(K/F) / sqrt(w_atm)``:
    ``sigma(K) = sigma_atm * clip(1 + a k + b k^2, min_ratio, max_ratio)``
    with, for ``k < 0``,
    ``a = -(put_slope + put_slope_skew x_s + put_slope_vix x_v) s``,
    ``b = put_curvature + put_curvature_skew x_s`` and, for ``k >= 0``,
    ``a = -(call_slope + call_slope_vix x_v) s``, ``b = call_curvature``
    (the call wing held flat past the quadratic's minimum, which keeps far
    call deltas monotone); ``s = (tau / 30d)^slope_term_exponent``. The SKEW
    index is ``100 - 10 * risk-neutral skewness`` of 30-day returns (Cboe
    SKEW White Paper, 2010), so ``x_s`` measures the left tail.

Calibration
    The shipped defaults come from :mod:`strategies.pricing.calibrated`
    (fitted by ``scripts/fit_models.py`` on Cboe end-of-day SPX/SPXW chains,
    provenance and validation there and in the README (Option model validation)).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray, MarketContext
from strategies.pricing import calibrated as _cal

__all__ = [
    "CLOCK_DAYS_PER_YEAR",
    "T_VIX",
    "T_VIX3M",
    "T_VIX9D",
    "SessionClock",
    "Smile",
    "SpxSurface",
    "SpxSurfaceParams",
    "build_spx_surface",
    "session_clock",
    "smile_ratio",
    "smile_vols",
    "spx_surface_from_context",
    "variance_days",
]

#: Constant maturities of the Cboe indexes, years (calendar days / 365).
T_VIX9D = 9.0 / 365.0
T_VIX = 30.0 / 365.0
T_VIX3M = 93.0 / 365.0
_KNOT_DAYS = (9, 30, 93)

#: Weighted clock days per year used to express ``tau`` in years: a fixed
#: normalisation (252 sessions + 113 non-session days at weight 0.15 + 12 CPI
#: and 8 FOMC days at 0.5 extra), independent of the parameters so that the
#: smile's term factor means the same thing whatever the fitted weights;
#: ``tau`` is then close to calendar time. Part of the calibration: changing
#: it requires a refit.
CLOCK_DAYS_PER_YEAR = 278.95


@dataclass(frozen=True, slots=True)
class SpxSurfaceParams:
    """Parameters of the SPX vol surface (formulas in the module docstring).

    Attributes:
        nonsession_weight: variance of a weekend/holiday day in session-days.
        cpi_weight, fomc_weight: extra session-days of variance on a CPI/FOMC day.
        atm_ratio: ATM vol / VIX-family index at ``SKEW = skew_ref``,
            ``VIX = vix_ref``, 30 days (dimensionless).
        atm_ratio_skew: d ln(ratio) per 10 SKEW points.
        atm_ratio_vix: d ln(ratio) / d ln(VIX).
        atm_ratio_term: d ln(ratio) / d ln(index tenor / 30 days).
        put_slope, put_slope_skew, put_slope_vix: put-side slope of the vol
            ratio per unit ``k`` at 30 days (positive = vol rises as strikes
            fall) and its sensitivities to ``x_s`` and ``x_v``.
        put_curvature, put_curvature_skew: put-side ``k^2`` coefficient.
        call_slope, call_slope_vix: call-side slope (positive = vol falls as
            strikes rise) and its sensitivity to ``x_v``.
        call_curvature: call-side ``k^2`` coefficient.
        slope_term_exponent: ``beta`` in ``s = (tau / 30d)^beta``.
        skew_ref: SKEW reference level; vix_ref: VIX reference level (points).
        min_ratio, max_ratio: clip of ``sigma / sigma_atm``.
        min_vol, max_vol: absolute clip of the vol, decimal.
        vix9d_fallback, vix3m_fallback: ``(c0, c1)`` of ``index = c0 + c1 VIX``
            used when the index is missing (regressions on Cboe daily closes
            2009-2024; rms 1.9 and 1.4 points).
    """

    nonsession_weight: float = _cal.SPX["nonsession_weight"]
    cpi_weight: float = _cal.SPX["cpi_weight"]
    fomc_weight: float = _cal.SPX["fomc_weight"]
    atm_ratio: float = _cal.SPX["atm_ratio"]
    atm_ratio_skew: float = _cal.SPX["atm_ratio_skew"]
    atm_ratio_vix: float = _cal.SPX["atm_ratio_vix"]
    atm_ratio_term: float = _cal.SPX["atm_ratio_term"]
    put_slope: float = _cal.SPX["put_slope"]
    put_slope_skew: float = _cal.SPX["put_slope_skew"]
    put_slope_vix: float = _cal.SPX["put_slope_vix"]
    put_curvature: float = _cal.SPX["put_curvature"]
    put_curvature_skew: float = _cal.SPX["put_curvature_skew"]
    call_slope: float = _cal.SPX["call_slope"]
    call_slope_vix: float = _cal.SPX["call_slope_vix"]
    call_curvature: float = _cal.SPX["call_curvature"]
    slope_term_exponent: float = _cal.SPX["slope_term_exponent"]
    skew_ref: float = 130.0
    vix_ref: float = 18.0
    min_ratio: float = 0.5
    max_ratio: float = 3.0
    min_vol: float = 0.01
    max_vol: float = 3.0
    vix9d_fallback: tuple[float, float] = (-3.74, 1.170)
    vix3m_fallback: tuple[float, float] = (4.41, 0.866)


def _present(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0.0


def _x_skew(skew: float, p: SpxSurfaceParams) -> float:
    return (skew - p.skew_ref) / 10.0


def _x_vix(vix: float | None, p: SpxSurfaceParams) -> float:
    return math.log(vix / p.vix_ref) if vix is not None and _present(vix) else 0.0


def smile_ratio(
    k: npt.ArrayLike,
    t: float,
    skew: float,
    params: SpxSurfaceParams,
    vix: float | None = None,
) -> FloatArray:
    """Vol ratio ``sigma(K) / sigma_atm`` as a function of normalised moneyness ``k``.

    Args:
        k: ``ln(K/F) / sqrt(w_atm)`` (ATM total std), scalar or array.
        t: clock time to expiry in years (``tau``), > 0.
        skew: Cboe SKEW index level (e.g. 130).
        params: surface parameters.
        vix: VIX level (points) for the vol-level terms; None = ``vix_ref``.

    Returns:
        Array of the shape of ``k``, clipped to ``[min_ratio, max_ratio]``.
    """
    a_put, b_put, a_call = _smile_coefficients(t, skew, params, vix)
    return _ratio(np.asarray(k, dtype=np.float64), a_put, b_put, a_call, params)


def _smile_coefficients(
    t: float, skew: float, p: SpxSurfaceParams, vix: float | None
) -> tuple[float, float, float]:
    """``(a_put, b_put, a_call)`` of the smile at clock time ``t`` (module docstring)."""
    term = (max(t, 1e-6) / T_VIX) ** p.slope_term_exponent
    xs, xv = _x_skew(skew, p), _x_vix(vix, p)
    a_put = -max(p.put_slope + p.put_slope_skew * xs + p.put_slope_vix * xv, 0.0) * term
    b_put = max(p.put_curvature + p.put_curvature_skew * xs, 0.0)
    a_call = -max(p.call_slope + p.call_slope_vix * xv, 0.0) * term
    return a_put, b_put, a_call


def _ratio(
    kk: FloatArray,
    a_put: float | FloatArray,
    b_put: float | FloatArray,
    a_call: float | FloatArray,
    p: SpxSurfaceParams,
) -> FloatArray:
    """The clipped smile ratio at moneyness ``kk``; the coefficients scalars or arrays like ``kk``.

    Elementwise + - * / only: an option's ratio has the same bits whether its
    coefficients come as scalars (one expiry) or as arrays (many, :func:`smile_vols`).
    """
    put = 1.0 + kk * (a_put + b_put * kk)
    kc = kk
    if p.call_curvature > 0.0:
        kc = np.minimum(kk, -a_call / (2.0 * p.call_curvature))  # flat past the vertex
    call = 1.0 + kc * (a_call + p.call_curvature * kc)
    return np.clip(np.where(kk < 0.0, put, call), p.min_ratio, p.max_ratio)


@dataclass(frozen=True, slots=True)
class Smile:
    """The numbers :meth:`SpxSurface.vol` computes once per expiry (one surface, ``t``).

    Attributes:
        flat: the 9-day ATM vol every strike gets when ``t`` or its clock time
            is not positive (then the other fields are unused: 1.0 and 0.0);
            None otherwise.
        root_w: ``sqrt(w_atm)``, the ATM total std (normalises ``ln(K/F)``).
        atm: ``sqrt(w_atm / t)``, the ATM vol, decimal.
        a_put, b_put, a_call: the smile's coefficients (module docstring).
    """

    flat: float | None
    root_w: float = 1.0
    atm: float = 1.0
    a_put: float = 0.0
    b_put: float = 0.0
    a_call: float = 0.0


def smile_vols(
    strikes: FloatArray,
    forward: FloatArray,
    root_w: FloatArray,
    atm: FloatArray,
    a_put: FloatArray,
    b_put: FloatArray,
    a_call: FloatArray,
    params: SpxSurfaceParams,
) -> FloatArray:
    """:meth:`SpxSurface.vol` of many options of many expiries and surfaces in one pass.

    Every argument but ``params`` is an array parallel to ``strikes``: each
    option's forward and its expiry's :class:`Smile` numbers (none flat).
    Each vol has the bits :meth:`SpxSurface.vol` gives it (the same
    elementwise operations, in the same order).
    """
    k = np.log(strikes / forward) / root_w
    ratio = _ratio(k, a_put, b_put, a_call, params)
    return np.clip(atm * ratio, params.min_vol, params.max_vol)


def variance_days(
    session: date,
    t_years: float,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> float:
    """Weighted day count of the variance clock from the ``session`` close.

    Args:
        session: quote session (the clock starts at its 16:00 ET close).
        t_years: calendar time to settlement, years (days / 365); a
            fractional last day (AM settlement) counts pro rata.
        params: supplies ``nonsession_weight``, ``cpi_weight``, ``fomc_weight``.
        holidays: weekday exchange holidays (count as non-session days).
        events: date -> event kinds (``"CPI"``, ``"FOMC"``; others ignored).

    Returns:
        Session-day equivalents (>= 0).
    """
    return day_counter(session, params, holidays, events)(max(t_years, 0.0) * 365.0)


def day_counter(
    session: date,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> Callable[[float], float]:
    """The variance clock of :func:`variance_days` as ``calendar days -> session-day equivalents``.

    A surface counts many expiries on one clock: taking the counter once spares
    rebuilding the clock's key (the sorted events) for every count; each count
    is bit for bit :func:`variance_days`'s.
    """
    if not holidays and not events:
        weight = params.nonsession_weight
        return lambda days: _weekday_clock(session, days, weight)
    ev = tuple(sorted((d, tuple(k)) for d, k in events.items())) if events else ()
    return _clock(session, params, frozenset(holidays), ev).count


def _variance_days_loop(
    session: date,
    t_years: float,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> float:
    """:func:`variance_days` day by day: the reference :class:`_VarianceClock` is tested against."""
    days = max(t_years, 0.0) * 365.0
    total = 0.0
    j = 1
    while days > j - 1:
        d = session + timedelta(days=j)
        frac = min(days - (j - 1), 1.0)
        is_session = d.weekday() < 5 and d not in holidays
        total += frac * (1.0 if is_session else params.nonsession_weight)
        if events and frac > 0.5 and d in events:
            kinds = events[d]
            if "CPI" in kinds:
                total += params.cpi_weight
            if "FOMC" in kinds and frac >= 1.0:
                total += params.fomc_weight
        j += 1
    return total


class _VarianceClock:
    """The variance clock of one session and calendar, as running totals of whole days.

    ``totals[n]`` is the count after ``n`` whole days, accumulated in the
    order :func:`_variance_days_loop` adds its terms, so a count read from it
    is bit for bit the loop's (only the partial last day is added per call).
    The table grows on demand; the replay reads it for every quote, the loop
    cost O(days) each time.
    """

    __slots__ = (
        "_base",
        "_event_days",
        "_holiday_days",
        "events",
        "holidays",
        "params",
        "session",
        "totals",
    )

    def __init__(
        self,
        session: date,
        params: SpxSurfaceParams,
        holidays: frozenset[date],
        events: Mapping[date, Collection[str]],
    ) -> None:
        self.session = session
        self.params = params
        self.holidays = holidays
        self.events = events
        # doubles in an array, not a list of float objects: a quarter of the
        # memory (a sweep worker keeps ~4,500 clocks); the same IEEE values
        self.totals = array("d", [0.0])
        # days as ordinals: the table grows by ~100 days per session, one
        # date object, weekday and hash fewer per day (same tests, same sums)
        self._base = session.toordinal()
        self._holiday_days = frozenset(d.toordinal() for d in holidays)
        self._event_days = {d.toordinal(): kinds for d, kinds in events.items()}

    def _day(self, total: float, j: int, frac: float) -> float:
        p = self.params
        day = self._base + j
        # date.weekday() is (ordinal + 6) % 7 (Monday 0)
        is_session = (day + 6) % 7 < 5 and day not in self._holiday_days
        total += frac * (1.0 if is_session else p.nonsession_weight)
        if self._event_days and frac > 0.5 and day in self._event_days:
            kinds = self._event_days[day]
            if "CPI" in kinds:
                total += p.cpi_weight
            if "FOMC" in kinds and frac >= 1.0:
                total += p.fomc_weight
        return total

    def count(self, days: float) -> float:
        """Weighted day count for ``days`` calendar days (>= 0) after the session close."""
        n = math.ceil(days)  # the loop's iterations: every j with j - 1 < days
        if n <= 0:
            return 0.0
        totals = self.totals
        if len(totals) < n:
            self._grow(n)
        frac = min(days - (n - 1), 1.0)
        return self._day(totals[n - 1], n, frac)

    def _grow(self, n: int) -> None:
        """Extend :attr:`totals` to ``n`` whole days: :meth:`_day` with ``frac = 1``, inlined."""
        p = self.params
        rest, cpi, fomc = p.nonsession_weight, p.cpi_weight, p.fomc_weight
        holidays, events = self._holiday_days, self._event_days
        totals = self.totals
        total = totals[-1]
        for day in range(self._base + len(totals), self._base + n):
            total += 1.0 * (1.0 if (day + 6) % 7 < 5 and day not in holidays else rest)
            if events and day in events:  # frac = 1: both event terms apply
                kinds = events[day]
                if "CPI" in kinds:
                    total += cpi
                if "FOMC" in kinds:
                    total += fomc
            totals.append(total)


@lru_cache(maxsize=32)
def _clock(
    session: date,
    params: SpxSurfaceParams,
    holidays: frozenset[date],
    events: tuple[tuple[date, tuple[str, ...]], ...],
) -> _VarianceClock:
    return _VarianceClock(session, params, holidays, dict(events))


def _weekday_clock(session: date, days: float, nonsession_weight: float) -> float:
    """:func:`variance_days` with weekends as the only non-session days, in O(1)."""
    full = math.floor(days)
    frac = days - full
    weeks, rest = divmod(full, 7)
    start = session.weekday()
    weekdays = weeks * 5 + sum(1 for j in range(1, rest + 1) if (start + j) % 7 < 5)
    total = weekdays + (full - weekdays) * nonsession_weight
    if frac > 0.0:
        total += frac * (1.0 if (start + full + 1) % 7 < 5 else nonsession_weight)
    return total


@dataclass(frozen=True, slots=True)
class SpxSurface:
    """One day's SPX vol surface.

    Attributes:
        params: the parameters used.
        vix9d, vix, vix3m: index levels used (vol points, after fallbacks).
        skew: SKEW level used (after fallback).
        knot_w: total ATM variance (year units) over the 9-, 30- and 93-day
            index windows, non-decreasing.
        knot_tau: clock times of the knots, years.
        session: quote session (None: calendar clock).
        holidays, events: calendar inputs of the clock.
    """

    params: SpxSurfaceParams
    vix9d: float
    vix: float
    vix3m: float
    skew: float
    knot_w: tuple[float, float, float]
    knot_tau: tuple[float, float, float] = (T_VIX9D, T_VIX, T_VIX3M)
    session: date | None = None
    holidays: frozenset[date] = frozenset()
    events: Mapping[date, Collection[str]] = field(default_factory=dict)
    #: The variance clock of ``session``, ``holidays`` and ``events``
    #: (:func:`day_counter`), taken once by :func:`build_spx_surface`; None: take it per call.
    day_count: Callable[[float], float] | None = field(default=None, compare=False, repr=False)

    def tau(self, t: float) -> float:
        """Clock time (years) for ``t`` calendar years after the session close."""
        if self.session is None:
            return max(t, 0.0)
        if self.day_count is None:
            days = variance_days(self.session, t, self.params, self.holidays, self.events)
        else:
            days = self.day_count(max(t, 0.0) * 365.0)
        return days / CLOCK_DAYS_PER_YEAR

    def atm_total_variance(self, tau: npt.ArrayLike) -> FloatArray:
        """ATM total implied variance ``sigma_atm^2 t`` (years) at clock time ``tau``."""
        tt = np.asarray(tau, dtype=np.float64)
        kt = np.array(self.knot_tau)
        kw = np.array(self.knot_w)
        w = np.interp(tt, kt, kw)
        w = np.where(tt < kt[0], kw[0] * tt / kt[0], w)
        return np.where(tt > kt[2], kw[2] * tt / kt[2], w)

    def _atm_total_variance_at(self, tau: float) -> float:
        """:meth:`atm_total_variance` of one clock time, on Python floats (the same numbers)."""
        kt, kw = self.knot_tau, self.knot_w
        if tau < kt[0]:
            return kw[0] * tau / kt[0]
        if tau > kt[2]:
            return kw[2] * tau / kt[2]
        return float(np.interp(tau, kt, kw))

    def atm_vol(self, t: npt.ArrayLike, tau: npt.ArrayLike | None = None) -> FloatArray:
        """ATM (``K = F``) implied vol at ``t`` calendar years (> 0), decimal; shape of ``t``.

        ``tau`` overrides the clock time (default :meth:`tau` of each ``t``).
        """
        tt = np.asarray(t, dtype=np.float64)
        if tau is None:
            taus = np.vectorize(self.tau, otypes=[np.float64])(tt)
        else:
            taus = np.asarray(tau, dtype=np.float64)
        w = self.atm_total_variance(taus)
        with np.errstate(divide="ignore", invalid="ignore"):
            vol = np.sqrt(w / tt)
        fallback = math.sqrt(self.knot_w[0] / self.knot_tau[0])
        return np.where((tt > 0.0) & (np.asarray(taus) > 0.0), vol, fallback)

    def atm_vol_at(self, t: float) -> float:
        """:meth:`atm_vol` of one ``t`` (calendar years), on Python floats: the same number."""
        tau = self.tau(t)
        if t > 0.0 and tau > 0.0:
            return math.sqrt(self._atm_total_variance_at(tau) / t)
        return math.sqrt(self.knot_w[0] / self.knot_tau[0])

    def vol(
        self, strikes: npt.ArrayLike, forward: float, t: float, tau: float | None = None
    ) -> FloatArray:
        """Implied vol (decimal, calendar-time convention) at ``strikes`` for one expiry.

        Args:
            strikes: strikes in index points, scalar or array.
            forward: SPX forward for the expiry, index points.
            t: calendar years to expiry (from the quote); ``t <= 0`` returns
                the 9-day ATM vol everywhere (irrelevant at expiry).
            tau: clock time override, years (default :meth:`tau`).

        Returns:
            Array of the shape of ``strikes``.
        """
        smile = self.smile(t, tau)
        if smile.flat is not None:
            return np.full(np.shape(strikes), smile.flat)
        k = np.log(np.asarray(strikes, dtype=np.float64) / forward) / smile.root_w
        ratio = _ratio(k, smile.a_put, smile.b_put, smile.a_call, self.params)
        vol = smile.atm * ratio
        return np.clip(vol, self.params.min_vol, self.params.max_vol)

    def smile(self, t: float, tau: float | None = None) -> Smile:
        """The per-expiry numbers of :meth:`vol` at ``t`` calendar years (``tau``: as there)."""
        ta = self.tau(t) if tau is None else tau
        if t <= 0.0 or ta <= 0.0:
            return Smile(math.sqrt(self.knot_w[0] / self.knot_tau[0]))
        w = self._atm_total_variance_at(ta)
        a_put, b_put, a_call = _smile_coefficients(ta, self.skew, self.params, self.vix)
        return Smile(None, math.sqrt(w), math.sqrt(w / t), a_put, b_put, a_call)

    def sigma_fn(self, forward: float, t: float) -> Callable[[FloatArray], FloatArray]:
        """``strike -> vol`` for one expiry, e.g. for :func:`black.strike_from_delta`."""
        ta = self.tau(t)

        def fn(strikes: FloatArray) -> FloatArray:
            return self.vol(strikes, forward, t, ta)

        return fn


@dataclass(frozen=True, slots=True)
class SessionClock:
    """A session's variance clock with the clock times of the surface's knots.

    Every surface of one session and calendar shares it (the session's open,
    the extremes of its range and its close have different index levels, not
    a different clock): :func:`build_spx_surface` takes one instead of
    counting the knots again. Built by :func:`session_clock`.
    """

    session: date
    holidays: frozenset[date]
    events: Mapping[date, Collection[str]]
    count: Callable[[float], float]
    knot_tau: tuple[float, float, float]


def session_clock(
    session: date,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> SessionClock:
    """The variance clock of ``session`` (:func:`day_counter`) and its knots' clock times, years."""
    hol = frozenset(holidays)
    ev = dict(events) if events else {}
    count = day_counter(session, params, hol, ev)
    t9, t30, t93 = (count(max(d / 365.0, 0.0) * 365.0) / CLOCK_DAYS_PER_YEAR for d in _KNOT_DAYS)
    return SessionClock(session, hol, ev, count, (t9, t30, t93))


def build_spx_surface(
    vix: float,
    vix9d: float | None = None,
    vix3m: float | None = None,
    skew: float | None = None,
    params: SpxSurfaceParams | None = None,
    *,
    session: date | None = None,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
    clock: SessionClock | None = None,
) -> SpxSurface:
    """Build the day's surface from Cboe index closes (vol points, e.g. 18.33).

    Missing ``vix9d``/``vix3m``/``skew`` (None, NaN, <= 0) use the documented
    fallbacks. With ``session`` the variance clock counts weekends,
    ``holidays`` and ``events`` (see the module docstring); without it time
    is calendar time. ``clock`` (:func:`session_clock` of ``params``) stands
    for ``session``, ``holidays`` and ``events``: the same surface, its clock
    not built again.

    Raises:
        ValueError: if ``vix`` is missing or not positive.
    """
    p = params if params is not None else SpxSurfaceParams()
    if not _present(vix):
        raise ValueError(f"VIX must be a positive number, got {vix!r}")
    c9, c3 = p.vix9d_fallback, p.vix3m_fallback
    v9 = float(vix9d) if vix9d is not None and _present(vix9d) else c9[0] + c9[1] * vix
    v3 = float(vix3m) if vix3m is not None and _present(vix3m) else c3[0] + c3[1] * vix
    v9, v3 = max(v9, 1.0), max(v3, 1.0)
    sk = float(skew) if skew is not None and _present(skew) else p.skew_ref
    base = math.log(p.atm_ratio) + p.atm_ratio_skew * _x_skew(sk, p)
    base += p.atm_ratio_vix * _x_vix(vix, p)
    w: list[float] = []
    for level, days in zip((v9, float(vix), v3), _KNOT_DAYS, strict=True):
        ratio = math.exp(base + p.atm_ratio_term * math.log(days / 30.0))
        w.append((ratio * level / 100.0) ** 2 * days / 365.0)
    if clock is None and session is not None:
        clock = session_clock(session, p, holidays, events)
    w1 = max(w[1], w[0])
    w2 = max(w[2], w1)
    knot_w = (w[0], w1, w2)
    if clock is None:
        hol = frozenset(holidays)
        ev = dict(events) if events else {}
        return SpxSurface(
            p, v9, float(vix), v3, sk, knot_w, (T_VIX9D, T_VIX, T_VIX3M), None, hol, ev
        )
    return SpxSurface(
        p, v9, float(vix), v3, sk, knot_w, clock.knot_tau,
        clock.session, clock.holidays, clock.events, clock.count,
    )  # fmt: skip


def spx_surface_from_context(
    ctx: MarketContext,
    params: SpxSurfaceParams | None = None,
    *,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> SpxSurface:
    """:func:`build_spx_surface` from a :class:`MarketContext` (vix, vix9d, vix3m, skew).

    The clock starts at ``ctx.session`` (weekends always count as
    non-session days; pass ``holidays``/``events`` for the rest). Surfaces
    without holidays or events are memoised per day's inputs: a surface is
    immutable, and replay prices many slices from the same day.
    """
    if not holidays and not events:
        return _surface_for_day(ctx.vix, ctx.vix9d, ctx.vix3m, ctx.skew, params, ctx.session)
    return build_spx_surface(
        ctx.vix, ctx.vix9d, ctx.vix3m, ctx.skew, params,
        session=ctx.session, holidays=holidays, events=events,
    )  # fmt: skip


@lru_cache(maxsize=64)
def _surface_for_day(
    vix: float,
    vix9d: float | None,
    vix3m: float | None,
    skew: float | None,
    params: SpxSurfaceParams | None,
    session: date,
) -> SpxSurface:
    return build_spx_surface(vix, vix9d, vix3m, skew, params, session=session)
