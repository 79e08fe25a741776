"""VIX futures curve and VIX option volatility model.

VIX options are European options on the VIX index, settled (special opening
quotation) on the morning of the expiry Wednesday, the same settlement as the
VIX future of that expiry. They are therefore priced with Black-76 on that
future (Hull, *Options, Futures, and Other Derivatives*, §18.8; Carr & Lee,
"Volatility derivatives", Annu. Rev. Financ. Econ. 2009), with the model below
supplying the future (when no quote is available) and the vol.

Futures curve
    Mean reversion of expected VIX, ``E[VIX_T] = theta + (VIX - theta) e^{-kappa T}``
    (Ornstein-Uhlenbeck / Grünbichler-Longstaff 1996 style), so a future's
    sensitivity to a 1-point move in spot VIX is ``beta(T) = e^{-kappa T}``.
    ``theta`` is anchored on VIX3M: the curve is made to pass through
    ``F(anchor_t) = VIX3M``, i.e. ``theta = (VIX3M - VIX e^{-kappa t_a}) /
    (1 - e^{-kappa t_a})``, clipped to ``[min_theta, max_theta]``. Without VIX3M
    (before 2009-09) VIX3M is estimated as ``c0 + c1 VIX``.
    Defaults (``kappa = 6 /yr``, ``anchor_t = 0.12 yr``) were chosen on Cboe VIX
    futures settlements 2009-2024 (months 1-7 vs. spot VIX and VIX3M): in the
    45-90 DTE bucket the median absolute error is 0.66 pts (rms 1.6, bias
    +0.2); ``e^{-kappa T}`` matches the empirical regression beta of daily
    futures changes on spot changes (0.43 at 44 days, 0.33 at 72 days) within
    about 0.05 over 40-90 days.

Where the futures come from
    Replay (:class:`strategies.pricing.market_model.MarketModel`) prices a VIX
    option on the real daily **settlement** of the future of the same expiry
    from the bundle (``vix_futures.csv``, CFE settlements to 2024-12-31,
    mapped to expiries by the Cboe rule). From 2025 on, and for any expiry
    beyond M7, no settlement exists and the future is the modelled curve
    above (VIX, VIX3M anchor, ``kappa``), so replay results after 2024 carry
    that curve's error (median 0.66 pts at 45-90 DTE over 2009-2024).
    ``alvh model-check`` on a VIX chain uses the future implied by put-call
    parity of each expiry instead (the market's own forward).

Option vol
    ATM vol of vol ``sigma_atm(T) = vvix_ratio * VVIX / 100 * (T / 30d)^-alpha``
    (VVIX is the 30-day variance-swap vol of VIX, Cboe VVIX White Paper 2012;
    like VIX over SPX ATM vol it sits above ATM implied vol). The smile in
    ``y = ln(K/F) * (T / 30d)^-gamma`` is
    ``sigma = sigma_atm * clip(1 + a y + b y^2, min_ratio, max_ratio)`` with
    ``(a, b) = (call_slope, call_curvature)`` for ``y >= 0`` (the upward call
    skew; ``y`` is capped at the quadratic's peak when ``b < 0``) and
    ``(put_slope, put_curvature)`` for ``y < 0``. ``vvix_ratio``,
    ``term_exponent``, ``skew_term_exponent``, ``call_slope`` and
    ``call_curvature`` come from :mod:`strategies.pricing.calibrated` (fitted
    by ``scripts/fit_models.py`` on the calls of the Cboe VIX chain of
    2023-05-15 11:47 ET, VVIX 94.65, 30-120 DTE, at the money to 40 % OTM,
    market IV recomputed from mids on parity futures); the put side
    (``put_slope``, ``put_curvature``) is the earlier fit to the same chain,
    ``-0.4 < ln(K/F) < 0``. One snapshot only: the vol-of-vol level is
    tied to VVIX but the smile shape is not validated out of sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray
from strategies.pricing import calibrated as _cal

__all__ = [
    "DEFAULT_KAPPA",
    "VixCurveParams",
    "VixOptionParams",
    "future_spot_beta",
    "vix_futures_curve",
    "vix_option_atm_vol",
    "vix_option_vol",
]

#: Default mean-reversion speed of expected VIX, per year.
DEFAULT_KAPPA = 6.0
_T30 = 30.0 / 365.0


@dataclass(frozen=True, slots=True)
class VixCurveParams:
    """Modelled VIX futures curve (see the module docstring).

    Attributes:
        kappa: mean-reversion speed, per year.
        anchor_t: maturity (years) at which the curve equals VIX3M.
        min_theta, max_theta: clip of the long-run level, VIX points.
        vix3m_fallback: ``(c0, c1)`` of ``VIX3M = c0 + c1 VIX`` when VIX3M is missing.
    """

    kappa: float = DEFAULT_KAPPA
    anchor_t: float = 0.12
    min_theta: float = 9.0
    max_theta: float = 60.0
    vix3m_fallback: tuple[float, float] = (4.41, 0.866)


@dataclass(frozen=True, slots=True)
class VixOptionParams:
    """VIX option implied-vol model (see the module docstring).

    Attributes:
        vvix_ratio: 30-day ATM vol / (VVIX / 100).
        term_exponent: ``alpha`` of the ATM term decay ``(T/30d)^-alpha``.
        skew_term_exponent: ``gamma`` scaling log-moneyness by ``(T/30d)^-gamma``.
        call_slope, call_curvature: smile coefficients for ``K >= F``.
        put_slope, put_curvature: smile coefficients for ``K < F``.
        min_ratio, max_ratio: clip of ``sigma / sigma_atm``.
        min_vol, max_vol: absolute clip, decimal.
        min_t: floor on ``T`` (years) inside the term factors, so 0-DTE stays finite.
        default_vvix: VVIX used when missing (before 2006-03), index points.
    """

    vvix_ratio: float = _cal.VIX["vvix_ratio"]
    term_exponent: float = _cal.VIX["term_exponent"]
    skew_term_exponent: float = _cal.VIX["skew_term_exponent"]
    call_slope: float = _cal.VIX["call_slope"]
    call_curvature: float = _cal.VIX["call_curvature"]
    put_slope: float = 2.16
    put_curvature: float = 4.66
    min_ratio: float = 0.5
    max_ratio: float = 4.0
    min_vol: float = 0.05
    max_vol: float = 5.0
    min_t: float = 1.0 / 365.0
    default_vvix: float = 90.0


def future_spot_beta(t_years: npt.ArrayLike, kappa: float = DEFAULT_KAPPA) -> float | FloatArray:
    """Sensitivity ``dF(T)/dVIX = e^{-kappa T}`` of a VIX future to spot VIX.

    Args:
        t_years: time to the future's settlement, years (>= 0), scalar or array.
        kappa: mean-reversion speed per year (default :data:`DEFAULT_KAPPA`).

    Returns:
        A float for scalar input, else an array of the input shape; in (0, 1].

    Source: mean-reverting expected VIX (module docstring).
    """
    beta = np.exp(-kappa * np.maximum(np.asarray(t_years, dtype=np.float64), 0.0))
    return float(beta) if beta.ndim == 0 else beta


def vix_futures_curve(
    vix: float,
    vix3m: float | None,
    expiry_t_years: npt.ArrayLike,
    params: VixCurveParams | None = None,
) -> FloatArray:
    """Modelled VIX futures prices ``theta + (VIX - theta) e^{-kappa T}``.

    Args:
        vix: spot VIX, points (> 0).
        vix3m: VIX3M, points, or None/NaN when missing (fallback regression).
        expiry_t_years: years to each future's settlement, scalar or array.
        params: curve parameters.

    Returns:
        Futures prices in VIX points, shape of ``expiry_t_years``.

    Raises:
        ValueError: if ``vix`` is not a positive number.
    """
    p = params if params is not None else VixCurveParams()
    if not (math.isfinite(vix) and vix > 0.0):
        raise ValueError(f"VIX must be a positive number, got {vix!r}")
    if vix3m is None or not math.isfinite(vix3m) or vix3m <= 0.0:
        vix3m = p.vix3m_fallback[0] + p.vix3m_fallback[1] * vix
    e = math.exp(-p.kappa * p.anchor_t)
    theta = min(max((vix3m - vix * e) / (1.0 - e), p.min_theta), p.max_theta)
    t = np.maximum(np.asarray(expiry_t_years, dtype=np.float64), 0.0)
    return np.asarray(theta + (vix - theta) * np.exp(-p.kappa * t), dtype=np.float64)


def vix_option_atm_vol(
    vvix: float | None, t_years: npt.ArrayLike, params: VixOptionParams | None = None
) -> FloatArray:
    """ATM implied vol of VIX options (decimal) at ``t_years``; shape of ``t_years``.

    ``vvix`` in index points (e.g. 94.65); None/NaN uses ``params.default_vvix``.
    """
    p = params if params is not None else VixOptionParams()
    level = vvix if vvix is not None and math.isfinite(vvix) and vvix > 0.0 else p.default_vvix
    t = np.maximum(np.asarray(t_years, dtype=np.float64), p.min_t)
    vol = p.vvix_ratio * level / 100.0 * (t / _T30) ** (-p.term_exponent)
    return np.asarray(np.clip(vol, p.min_vol, p.max_vol), dtype=np.float64)


def vix_option_vol(
    strikes: npt.ArrayLike,
    future_price: float,
    t_years: float,
    vvix: float | None,
    params: VixOptionParams | None = None,
) -> FloatArray:
    """Implied vol (decimal) of VIX options at ``strikes`` for one expiry.

    Args:
        strikes: strikes, VIX points, scalar or array.
        future_price: the VIX future of the same expiry, points (> 0).
        t_years: years to expiry (floored at ``params.min_t``).
        vvix: VVIX level or None.
        params: model parameters.

    Returns:
        Array of the shape of ``strikes``.
    """
    p = params if params is not None else VixOptionParams()
    t = max(t_years, p.min_t)
    atm = float(vix_option_atm_vol(vvix, t, p))
    y = np.log(np.asarray(strikes, dtype=np.float64) / future_price) * (t / _T30) ** (
        -p.skew_term_exponent
    )
    yc = y
    if p.call_curvature < 0.0:
        yc = np.minimum(y, -p.call_slope / (2.0 * p.call_curvature))
    call = 1.0 + yc * (p.call_slope + p.call_curvature * yc)
    put = 1.0 + y * (p.put_slope + p.put_curvature * y)
    ratio = np.clip(np.where(y >= 0.0, call, put), p.min_ratio, p.max_ratio)
    return np.asarray(np.clip(atm * ratio, p.min_vol, p.max_vol), dtype=np.float64)
