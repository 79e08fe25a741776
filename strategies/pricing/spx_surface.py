"""SPX implied-volatility surface driven only by the day's daily index data.

Inputs: VIX9D, VIX, VIX3M (Cboe 9-, 30- and 93-calendar-day implied-variance
indexes, vol points), the Cboe SKEW index, the SPX forward and, optionally,
the exchange holidays and scheduled macro events (CPI, FOMC) between the
quote and the expiry.

Variance clock (:mod:`strategies.pricing.variance_clock`)
    Implied variance does not accrue evenly over calendar time: weekends,
    holidays and CPI/FOMC days are weighted; ``tau`` is the weighted day
    count in years (:data:`CLOCK_DAYS_PER_YEAR`). Without a session date the
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

Smile (:mod:`strategies.pricing.spx_smile`)
    vol / ATM vol as a quadratic in normalised moneyness ``ln(K/F) / sqrt(w_atm)``,
    clipped, with put and call slopes tilted by SKEW and VIX; the formula and
    its sources are in that module.

Calibration
    The shipped defaults come from :mod:`strategies.pricing.calibrated`
    (fitted by ``scripts/fit_models.py`` on Cboe end-of-day SPX/SPXW chains,
    provenance and validation there and in the README (Option model validation)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray, MarketContext
from strategies.pricing.spx_params import KNOT_DAYS, T_VIX, T_VIX3M, T_VIX9D, SpxSurfaceParams
from strategies.pricing.spx_smile import (
    Smile,
    _present,
    _ratio,
    _smile_coefficients,
    _x_skew,
    _x_vix,
    smile_ratio,
    smile_vols,
)
from strategies.pricing.variance_clock import (
    CLOCK_DAYS_PER_YEAR,
    SessionClock,
    day_counter,
    session_clock,
    variance_days,
)

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
    "day_counter",
    "session_clock",
    "smile_ratio",
    "smile_vols",
    "spx_surface_from_context",
    "variance_days",
]


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
    for level, days in zip((v9, float(vix), v3), KNOT_DAYS, strict=True):
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
