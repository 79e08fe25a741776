"""The SPX smile: vol / ATM vol as a function of normalised moneyness.

In normalised moneyness ``k = ln(K/F) / sqrt(w_atm)``:
``sigma(K) = sigma_atm * clip(1 + a k + b k^2, min_ratio, max_ratio)``
with, for ``k < 0``,
``a = -(put_slope + put_slope_skew x_s + put_slope_vix x_v) s``,
``b = put_curvature + put_curvature_skew x_s`` and, for ``k >= 0``,
``a = -(call_slope + call_slope_vix x_v) s``, ``b = call_curvature``
(the call wing held flat past the quadratic's minimum, which keeps far
call deltas monotone); ``s = (tau / 30d)^slope_term_exponent``. The SKEW
index is ``100 - 10 * risk-neutral skewness`` of 30-day returns (Cboe
SKEW White Paper, 2010), so ``x_s = (SKEW - skew_ref) / 10`` measures the
left tail; ``x_v = ln(VIX / vix_ref)``.

:class:`Smile` holds the per-expiry numbers :meth:`SpxSurface.vol
<strategies.pricing.spx_surface.SpxSurface.vol>` computes once;
:func:`smile_vols` prices many options of many expiries with them in one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from strategies.domain import FloatArray
from strategies.pricing.spx_params import T_VIX, SpxSurfaceParams

__all__ = ["Smile", "smile_ratio", "smile_vols"]


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
