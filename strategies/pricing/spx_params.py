"""Parameters of the SPX vol surface and the tenors of the Cboe indexes it is built on.

:class:`SpxSurfaceParams` is shared by the variance clock
(:mod:`strategies.pricing.variance_clock`), the smile
(:mod:`strategies.pricing.spx_smile`) and the surface
(:mod:`strategies.pricing.spx_surface`, whose docstring has the formulas).
Defaults from :mod:`strategies.pricing.calibrated`.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.pricing import calibrated as _cal

__all__ = ["KNOT_DAYS", "T_VIX", "T_VIX3M", "T_VIX9D", "SpxSurfaceParams"]

#: Constant maturities of the Cboe indexes, years (calendar days / 365).
T_VIX9D = 9.0 / 365.0
T_VIX = 30.0 / 365.0
T_VIX3M = 93.0 / 365.0
#: The same tenors in calendar days: the knots of the ATM term structure.
KNOT_DAYS = (9, 30, 93)


@dataclass(frozen=True, slots=True)
class SpxSurfaceParams:
    """Parameters of the SPX vol surface (formulas in :mod:`strategies.pricing.spx_surface`).

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
