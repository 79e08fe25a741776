"""SPX implied-volatility surface driven only by the day's daily index data.

Inputs: VIX9D, VIX, VIX3M (Cboe 9-, 30- and 93-calendar-day implied-variance
indexes, vol points), the Cboe SKEW index, and the SPX forward.

ATM term structure
    Cboe's VIX-family indexes are model-free 30-day (9-, 93-day) **variance
    swap** levels (Cboe VIX White Paper, 2019 ed.), which sit above ATM implied
    vol by the skew/variance premium. ATM vol at each index tenor is therefore
    ``atm_ratio * index / 100``; total ATM variance ``w(T) = sigma_atm^2 T``
    is interpolated linearly in ``T`` between the 9-, 30- and 93-day knots
    (forced non-decreasing, i.e. no calendar arbitrage; Gatheral, *The
    Volatility Surface*, 2006, ch. 3), and extrapolated with flat vol before
    9 days and after 93 days.

    Fallbacks for missing indexes (None, NaN or <= 0), regressions on Cboe
    daily closes 2009-2024 (``index = c0 + c1 * VIX``):
    VIX9D (before 2011) ``= -3.74 + 1.170 * VIX`` (rms 1.9 pts);
    VIX3M (before 2009-09) ``= 4.41 + 0.866 * VIX`` (rms 1.4 pts).
    SKEW missing uses ``skew_ref``.

Smile
    In normalised moneyness ``k = ln(K/F) / (sigma_atm(T) sqrt(T))``:
    ``sigma(K) = sigma_atm(T) * clip(1 + a k + b k^2, min_ratio, max_ratio)``
    with ``(a, b) = (-put_slope * s(T) * m(SKEW), put_curvature)`` for ``k < 0``
    and ``(-call_slope * s(T), call_curvature)`` for ``k >= 0``, the call
    wing held flat beyond the quadratic's minimum (real call wings turn up
    again past about +2 std devs, but extrapolating the upturn makes far-OTM
    call deltas non-monotone);
    ``s(T) = (T / 30d)^slope_term_exponent`` and
    ``m(SKEW) = ((SKEW - 100) / (skew_ref - 100))^skew_exponent`` (the SKEW
    index is ``100 - 10 * risk-neutral skewness`` of 30-day returns, Cboe SKEW
    White Paper 2010, so ``SKEW - 100`` measures the left tail). The final vol
    is clipped to ``[min_vol, max_vol]``. The form is a one-sided quadratic in
    ``k``, easy to refit by least squares.

Defaults were fitted (roughly) to Cboe end-of-day SPXW chains of 16 dates in
2022-2024, 5-60 DTE, ``-4 < k < 2.5``: smile rms error about 5 % of ATM vol;
ATM/index ratio median 0.81-0.83 (range 0.75-0.89 by date).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray, MarketContext

__all__ = [
    "T_VIX",
    "T_VIX3M",
    "T_VIX9D",
    "SpxSurface",
    "SpxSurfaceParams",
    "build_spx_surface",
    "smile_ratio",
    "spx_surface_from_context",
]

#: Constant maturities of the Cboe indexes, years (calendar days / 365).
T_VIX9D = 9.0 / 365.0
T_VIX = 30.0 / 365.0
T_VIX3M = 93.0 / 365.0


@dataclass(frozen=True, slots=True)
class SpxSurfaceParams:
    """Parameters of the SPX vol surface (see the module docstring for the formulas).

    Attributes:
        atm_ratio: ATM implied vol / VIX-family index level (dimensionless).
        put_slope: put-side slope of the vol ratio per unit ``k`` at 30 days
            and ``SKEW == skew_ref`` (positive = vol rises as strikes fall).
        put_curvature: put-side ``k^2`` coefficient.
        call_slope: call-side slope (positive = vol falls as strikes rise).
        call_curvature: call-side ``k^2`` coefficient (makes the call wing turn up).
        slope_term_exponent: ``beta`` in ``s(T) = (T/30d)^beta``.
        skew_ref: SKEW level at which ``put_slope`` applies unscaled.
        skew_exponent: elasticity of the put slope to ``SKEW - 100``.
        min_ratio, max_ratio: clip of ``sigma / sigma_atm``.
        min_vol, max_vol: absolute clip of the vol, decimal.
        vix9d_fallback, vix3m_fallback: ``(c0, c1)`` of ``index = c0 + c1 VIX``
            used when the index is missing.
    """

    atm_ratio: float = 0.83
    put_slope: float = 0.22
    put_curvature: float = 0.006
    call_slope: float = 0.26
    call_curvature: float = 0.084
    slope_term_exponent: float = 0.22
    skew_ref: float = 130.0
    skew_exponent: float = 0.4
    min_ratio: float = 0.5
    max_ratio: float = 3.0
    min_vol: float = 0.01
    max_vol: float = 3.0
    vix9d_fallback: tuple[float, float] = (-3.74, 1.170)
    vix3m_fallback: tuple[float, float] = (4.41, 0.866)


def _present(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0.0


def smile_ratio(k: npt.ArrayLike, t: float, skew: float, params: SpxSurfaceParams) -> FloatArray:
    """Vol ratio ``sigma(K) / sigma_atm`` as a function of normalised moneyness ``k``.

    Args:
        k: ``ln(K/F) / (sigma_atm sqrt(t))``, scalar or array.
        t: years to expiry, > 0.
        skew: Cboe SKEW index level (e.g. 130).
        params: surface parameters.

    Returns:
        Array of the shape of ``k``, clipped to ``[min_ratio, max_ratio]``.
    """
    kk = np.asarray(k, dtype=np.float64)
    term = (t / T_VIX) ** params.slope_term_exponent
    m = (max(skew - 100.0, 1.0) / (params.skew_ref - 100.0)) ** params.skew_exponent
    a_put = -params.put_slope * term * m
    a_call = -params.call_slope * term
    put = 1.0 + kk * (a_put + params.put_curvature * kk)
    kc = kk
    if params.call_curvature > 0.0:
        kc = np.minimum(kk, -a_call / (2.0 * params.call_curvature))  # flat past the vertex
    call = 1.0 + kc * (a_call + params.call_curvature * kc)
    return np.clip(np.where(kk < 0.0, put, call), params.min_ratio, params.max_ratio)


@dataclass(frozen=True, slots=True)
class SpxSurface:
    """One day's SPX vol surface.

    Attributes:
        params: the parameters used.
        vix9d, vix, vix3m: index levels used (vol points, after fallbacks).
        skew: SKEW level used (after fallback).
        knot_w: total ATM variance at ``(T_VIX9D, T_VIX, T_VIX3M)``, year units,
            non-decreasing.
    """

    params: SpxSurfaceParams
    vix9d: float
    vix: float
    vix3m: float
    skew: float
    knot_w: tuple[float, float, float]

    def atm_vol(self, t: npt.ArrayLike) -> FloatArray:
        """ATM (``K = F``) implied vol at ``t`` years (> 0), decimal; shape of ``t``."""
        tt = np.asarray(t, dtype=np.float64)
        kt = np.array([T_VIX9D, T_VIX, T_VIX3M])
        kw = np.array(self.knot_w)
        w = np.interp(tt, kt, kw)
        w = np.where(tt < T_VIX9D, kw[0] * tt / T_VIX9D, w)
        w = np.where(tt > T_VIX3M, kw[2] * tt / T_VIX3M, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            vol = np.sqrt(w / tt)
        return np.where(tt > 0.0, vol, math.sqrt(kw[0] / T_VIX9D))

    def vol(self, strikes: npt.ArrayLike, forward: float, t: float) -> FloatArray:
        """Implied vol (decimal) at ``strikes`` for one expiry.

        Args:
            strikes: strikes in index points, scalar or array.
            forward: SPX forward for the expiry, index points.
            t: years to expiry; ``t <= 0`` returns the 9-day ATM vol everywhere
                (the value is irrelevant at expiry; avoids division by zero).

        Returns:
            Array of the shape of ``strikes``.
        """
        atm = float(self.atm_vol(t))
        if t <= 0.0:
            return np.full(np.shape(strikes), atm)
        k = np.log(np.asarray(strikes, dtype=np.float64) / forward) / (atm * math.sqrt(t))
        vol = atm * smile_ratio(k, t, self.skew, self.params)
        return np.clip(vol, self.params.min_vol, self.params.max_vol)

    def sigma_fn(self, forward: float, t: float) -> Callable[[FloatArray], FloatArray]:
        """``strike -> vol`` for one expiry, e.g. for :func:`black.strike_from_delta`."""

        def fn(strikes: FloatArray) -> FloatArray:
            return self.vol(strikes, forward, t)

        return fn


def build_spx_surface(
    vix: float,
    vix9d: float | None = None,
    vix3m: float | None = None,
    skew: float | None = None,
    params: SpxSurfaceParams | None = None,
) -> SpxSurface:
    """Build the day's surface from Cboe index closes (vol points, e.g. 18.33).

    Missing ``vix9d``/``vix3m``/``skew`` (None, NaN, <= 0) use the documented
    fallbacks.

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
    w = [
        (p.atm_ratio * level / 100.0) ** 2 * tk
        for level, tk in ((v9, T_VIX9D), (float(vix), T_VIX), (v3, T_VIX3M))
    ]
    w1 = max(w[1], w[0])
    w2 = max(w[2], w1)
    return SpxSurface(p, v9, float(vix), v3, sk, (w[0], w1, w2))


def spx_surface_from_context(
    ctx: MarketContext, params: SpxSurfaceParams | None = None
) -> SpxSurface:
    """:func:`build_spx_surface` from a :class:`MarketContext` (uses vix, vix9d, vix3m, skew)."""
    return build_spx_surface(ctx.vix, ctx.vix9d, ctx.vix3m, ctx.skew, params)
