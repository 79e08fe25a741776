"""VIX futures curve and VIX option volatility model.

VIX options are European options on the VIX index, settled (special opening
quotation) on the morning of the expiry Wednesday, the same settlement as the
VIX future of that expiry. They are therefore priced with Black-76 on that
future (Hull, *Options, Futures, and Other Derivatives*, §18.8; Carr & Lee,
"Volatility derivatives", Annu. Rev. Financ. Econ. 2009), with the model below
supplying the future (when no quote is available) and the vol.

Futures curve
    Mean reversion of expected VIX, ``E[VIX_T] = theta + (VIX - theta) e^{-kappa T}``
    (Ornstein-Uhlenbeck / Grünbichler-Longstaff 1996 style) whose speed and
    level depend on the regime:
    ``kappa = kappa0 (VIX / VIX3M)^kappa_ratio_exponent`` (backwardation,
    i.e. a spike, reverts faster) and
    ``theta = theta_c0 + theta_vix3m VIX3M + theta_vix VIX`` clipped to
    ``[min_theta, max_theta]``. Without VIX3M (before 2009-09) VIX3M is
    estimated as ``c0 + c1 VIX``. Fitted by ``scripts/fit_vix_model.py`` on the
    bundled CFE settlements 2009-09 .. 2024-12 (months 1-7, robust least
    squares, validated leave-one-year-out; figures in the README, "VIX
    futures curve"). The previous curve, anchored on ``F(0.12 y) = VIX3M``
    with ``kappa = 6``, overstated 45-90-DTE futures by 18.7 points on
    2020-03-16 (VIX3M, a 93-day SPX variance swap, sits far above VIX
    futures in a spike); the regime-dependent curve is 1.5 points above
    there. The hedge sizing beta ``e^{-kappa T}`` keeps ``DEFAULT_KAPPA``
    (a regression beta of daily futures changes on spot changes, a different
    quantity from the curve's level).

Where the futures come from
    Replay (:class:`strategies.pricing.market_model.MarketModel`) prices a VIX
    option on the real daily **settlement** of the future of the same expiry
    from the bundle (``vix_futures.csv``, CFE settlements to 2024-12-31,
    mapped to expiries by the Cboe rule). From 2025 on, and for any expiry
    beyond M7, no settlement exists and the future is the modelled curve
    above. ``alvh model-check`` on a VIX chain uses the future implied by
    put-call parity of each expiry instead (the market's own forward).

Option vol
    ATM vol of vol
    ``sigma_atm = vvix_ratio (VVIX/100)^vvix_exponent (T/30d)^-alpha
    (VIX/F)^basis_exponent (F/20)^level_exponent``
    (VVIX is the 30-day variance-swap vol of VIX, Cboe VVIX White Paper 2012;
    the basis term lifts the vol of a future below spot, i.e. in a spike when
    the market expects VIX to fall; the level term lets vol of vol fall as
    the future rises). Without VVIX (before 2007: the 2006 series is sparse
    and wrong) ``VVIX = exp(c0) VIX^c1`` (regression on 2007-2024 closes).
    The smile in ``y = ln(K/F) (T / 30d)^-gamma`` is
    ``sigma = sigma_atm * clip(1 + a y + b y^2, min_ratio, max_ratio)`` with
    ``(a, b) = (call_slope (F/20)^call_slope_level, call_curvature)`` for
    ``y >= 0`` (the upward call skew, flatter when the future is high: in a
    spike the calls' premium over ATM shrinks; ``y`` is capped at the
    quadratic's peak when ``b < 0``; the fit keeps ``b <= 0``, a concave wing
    that levels off, because a convex one fitted on VXTH's strikes
    (``ln(K/F) <= 0.5``) overprices 2023's far calls by 36 vol points out of
    sample) and
    ``(put_slope, put_curvature)`` for ``y < 0``. The call-side and ATM
    parameters come from :mod:`strategies.pricing.calibrated` (fitted by
    ``scripts/fit_vix_model.py`` on real quotes: Cboe's VXTH VIX calls
    2006-2013 and the 2023 Cboe VIX chains, validated leave-one-year-out;
    README, "VIX options"). The put side (``put_slope``,
    ``put_curvature``) is the earlier fit to the 2023-05-15 chain,
    ``-0.4 < ln(K/F) < 0``, not validated out of sample (the hedge buys calls).
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
    "vix_option_vol_arrays",
    "vvix_or_fallback",
]

#: Default mean-reversion speed of expected VIX, per year.
DEFAULT_KAPPA = 6.0
_T30 = 30.0 / 365.0
_F_REF = 20.0
#: ``ln VVIX = c0 + c1 ln VIX``, OLS on the bundled Cboe closes 2007-2024.
_VVIX_FALLBACK = (3.999, 0.179)


@dataclass(frozen=True, slots=True)
class VixCurveParams:
    """Modelled VIX futures curve (see the module docstring).

    Attributes:
        kappa0: mean-reversion speed at ``VIX = VIX3M``, per year.
        kappa_ratio_exponent: elasticity of ``kappa`` to ``VIX / VIX3M``.
        theta_c0, theta_vix3m, theta_vix: long-run level
            ``theta_c0 + theta_vix3m VIX3M + theta_vix VIX``, VIX points.
        min_theta, max_theta: clip of the long-run level, VIX points.
        min_kappa, max_kappa: clip of the speed, per year.
        vix3m_fallback: ``(c0, c1)`` of ``VIX3M = c0 + c1 VIX`` when VIX3M is missing.
    """

    kappa0: float = _cal.VIX_CURVE["kappa0"]
    kappa_ratio_exponent: float = _cal.VIX_CURVE["kappa_ratio_exponent"]
    theta_c0: float = _cal.VIX_CURVE["theta_c0"]
    theta_vix3m: float = _cal.VIX_CURVE["theta_vix3m"]
    theta_vix: float = _cal.VIX_CURVE["theta_vix"]
    min_theta: float = 9.0
    max_theta: float = 60.0
    min_kappa: float = 0.5
    max_kappa: float = 60.0
    vix3m_fallback: tuple[float, float] = (4.41, 0.866)


@dataclass(frozen=True, slots=True)
class VixOptionParams:
    """VIX option implied-vol model (see the module docstring).

    Attributes:
        vvix_ratio: 30-day ATM vol / (VVIX / 100).
        term_exponent: ``alpha`` of the ATM term decay ``(T/30d)^-alpha``.
        skew_term_exponent: ``gamma`` scaling log-moneyness by ``(T/30d)^-gamma``.
        call_slope, call_curvature: smile coefficients for ``K >= F``.
        call_slope_level: elasticity of the call slope to ``F / 20``.
        put_slope, put_curvature: smile coefficients for ``K < F``.
        min_ratio, max_ratio: clip of ``sigma / sigma_atm``.
        min_vol, max_vol: absolute clip, decimal.
        vvix_exponent: elasticity of the ATM vol to VVIX.
        basis_exponent: elasticity of the ATM vol to ``VIX / F`` (spot over future).
        level_exponent: elasticity of the ATM vol to ``F / 20``.
        min_t: floor on ``T`` (years) inside the term factors, so 0-DTE stays finite.
        vvix_fallback: ``(c0, c1)`` of ``ln VVIX = c0 + c1 ln VIX`` when VVIX is
            missing (before 2007), or a VIX level is not given either: VVIX = 90.
    """

    vvix_ratio: float = _cal.VIX["vvix_ratio"]
    term_exponent: float = _cal.VIX["term_exponent"]
    skew_term_exponent: float = _cal.VIX["skew_term_exponent"]
    call_slope: float = _cal.VIX["call_slope"]
    call_curvature: float = _cal.VIX["call_curvature"]
    call_slope_level: float = _cal.VIX["call_slope_level"]
    vvix_exponent: float = _cal.VIX["vvix_exponent"]
    basis_exponent: float = _cal.VIX["basis_exponent"]
    level_exponent: float = _cal.VIX["level_exponent"]
    put_slope: float = 2.16
    put_curvature: float = 4.66
    min_ratio: float = 0.5
    max_ratio: float = 4.0
    min_vol: float = 0.05
    max_vol: float = 5.0
    min_t: float = 1.0 / 365.0
    vvix_fallback: tuple[float, float] = _VVIX_FALLBACK


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
    kappa = p.kappa0 * (vix / vix3m) ** p.kappa_ratio_exponent
    kappa = min(max(kappa, p.min_kappa), p.max_kappa)
    theta = p.theta_c0 + p.theta_vix3m * vix3m + p.theta_vix * vix
    theta = min(max(theta, p.min_theta), p.max_theta)
    t = np.maximum(np.asarray(expiry_t_years, dtype=np.float64), 0.0)
    return np.asarray(theta + (vix - theta) * np.exp(-kappa * t), dtype=np.float64)


def vvix_or_fallback(vvix: float | None, vix: float | None, params: VixOptionParams) -> float:
    """``vvix`` if it is a positive number, else ``exp(c0) VIX^c1``, else 90 (points)."""
    if vvix is not None and math.isfinite(vvix) and vvix > 0.0:
        return float(vvix)
    if vix is not None and math.isfinite(vix) and vix > 0.0:
        c0, c1 = params.vvix_fallback
        return math.exp(c0 + c1 * math.log(vix))
    return 90.0


def _atm_vol_arrays(
    level: FloatArray, t: FloatArray, vix: FloatArray, future: FloatArray, p: VixOptionParams
) -> FloatArray:
    """ATM vol (decimal) from resolved VVIX ``level``; NaN/<=0 ``vix``/``future`` mean factor 1."""
    tt = np.maximum(t, p.min_t)
    vol = p.vvix_ratio * (level / 100.0) ** p.vvix_exponent * (tt / _T30) ** (-p.term_exponent)
    f_ok = np.isfinite(future) & (future > 0.0)
    fs = np.where(f_ok, future, _F_REF)
    vol = vol * (fs / _F_REF) ** p.level_exponent
    v_ok = f_ok & np.isfinite(vix) & (vix > 0.0)
    vol = vol * np.where(v_ok, np.where(v_ok, vix, 1.0) / fs, 1.0) ** p.basis_exponent
    return np.asarray(np.clip(vol, p.min_vol, p.max_vol), dtype=np.float64)


def vix_option_atm_vol(
    vvix: float | None,
    t_years: npt.ArrayLike,
    params: VixOptionParams | None = None,
    *,
    vix: float | None = None,
    future: float | None = None,
) -> FloatArray:
    """ATM implied vol of VIX options (decimal) at ``t_years``; shape of ``t_years``.

    ``vvix``, ``vix`` and ``future`` in index points (e.g. 94.65, 17.1, 18.4);
    None/NaN VVIX uses the fallback on ``vix``; without ``vix`` or ``future``
    the basis and level factors are 1 (``VIX = F = 20``).
    """
    p = params if params is not None else VixOptionParams()
    level = vvix_or_fallback(vvix, vix, p)
    t = np.asarray(t_years, dtype=np.float64)
    nan = math.nan
    v = np.full(t.shape, nan if vix is None else float(vix))
    f = np.full(t.shape, nan if future is None else float(future))
    return _atm_vol_arrays(np.full(t.shape, level), t, v, f, p)


def vix_option_vol_arrays(
    strikes: npt.ArrayLike,
    future_price: npt.ArrayLike,
    t_years: npt.ArrayLike,
    vvix: npt.ArrayLike,
    vix: npt.ArrayLike,
    params: VixOptionParams | None = None,
) -> FloatArray:
    """Implied vol (decimal) of VIX options, every input an array (broadcast together).

    The formula of :func:`vix_option_vol` for many quotes of different days
    and expiries at once (the fitting script and the quotes check use it).

    Args:
        strikes: strikes, VIX points (> 0).
        future_price: the VIX future of each option's expiry, points (> 0).
        t_years: years to expiry (floored at ``params.min_t``).
        vvix: VVIX levels already resolved (:func:`vvix_or_fallback`), points.
        vix: spot VIX, points (NaN: no basis factor).
        params: model parameters.

    Returns:
        Array of the broadcast shape.
    """
    p = params if params is not None else VixOptionParams()
    k, f, t, lv, v = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (strikes, future_price, t_years, vvix, vix))
    )
    tt = np.maximum(t, p.min_t)
    atm = _atm_vol_arrays(lv, tt, v, f, p)
    y = np.log(np.maximum(k, 1e-9) / f) * (tt / _T30) ** (-p.skew_term_exponent)
    a = p.call_slope * (f / _F_REF) ** p.call_slope_level
    yc = y
    if p.call_curvature < 0.0:
        yc = np.minimum(y, -a / (2.0 * p.call_curvature))
    call = 1.0 + yc * (a + p.call_curvature * yc)
    put = 1.0 + y * (p.put_slope + p.put_curvature * y)
    ratio = np.clip(np.where(y >= 0.0, call, put), p.min_ratio, p.max_ratio)
    return np.asarray(np.clip(atm * ratio, p.min_vol, p.max_vol), dtype=np.float64)


def vix_option_vol(
    strikes: npt.ArrayLike,
    future_price: float,
    t_years: float,
    vvix: float | None,
    params: VixOptionParams | None = None,
    *,
    vix: float | None = None,
) -> FloatArray:
    """Implied vol (decimal) of VIX options at ``strikes`` for one expiry.

    Args:
        strikes: strikes, VIX points, scalar or array (> 0).
        future_price: the VIX future of the same expiry, points (> 0).
        t_years: years to expiry (floored at ``params.min_t``).
        vvix: VVIX level or None.
        params: model parameters.
        vix: spot VIX (points) for the basis factor and the VVIX fallback.

    Returns:
        Array of the shape of ``strikes``.
    """
    p = params if params is not None else VixOptionParams()
    level = vvix_or_fallback(vvix, vix, p)
    v = math.nan if vix is None else float(vix)
    k = np.asarray(strikes, dtype=np.float64)
    return vix_option_vol_arrays(k, future_price, t_years, level, v, p).reshape(k.shape)
