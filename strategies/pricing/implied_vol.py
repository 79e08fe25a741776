"""Vectorised Black-76 implied volatility.

Method: the price is first reduced to the undiscounted price of the
*out-of-the-money* option (put-call parity, Hull §11.4), whose value ``v(s)``
is increasing in the total standard deviation ``s = sigma sqrt(t)`` from 0 to
``min(F, K)``. The equation ``ln v(s) = ln v*`` is then solved by Newton's
method in ``s`` (the log form converges fast in the far wings, as in P. Jäckel,
"Let's be rational", Wilmott 2015), started at the inflection point
``s = sqrt(2 |ln(F/K)|)`` (Manaster & Koehler, Journal of Finance 37, 1982) and
safeguarded by a bisection bracket ``[lo, hi]`` that every evaluation narrows:
a Newton step that leaves the bracket is replaced by its midpoint.

Prices outside the no-arbitrage bounds give NaN: a call below
``D max(F - K, 0)`` or at/above ``D F``; a put below ``D max(K - F, 0)`` or
at/above ``D K``. A price equal to intrinsic value (within ``1e-14`` relative)
gives 0 vol.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from strategies.domain import FloatArray

__all__ = ["implied_vol"]

_S_MAX = 20.0  # largest total standard deviation searched


def _otm_value(f: FloatArray, k: FloatArray, s: FloatArray, otm_call: FloatArray) -> FloatArray:
    """Undiscounted Black-76 value of the OTM option at total std ``s`` (> 0)."""
    d1 = np.log(f / k) / s + 0.5 * s
    d2 = d1 - s
    w = np.where(otm_call, 1.0, -1.0)
    return w * (f * ndtr(w * d1) - k * ndtr(w * d2))


def implied_vol(
    price: npt.ArrayLike,
    forward: npt.ArrayLike,
    strike: npt.ArrayLike,
    t: npt.ArrayLike,
    is_call: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> FloatArray:
    """Black-76 implied volatility of option prices, vectorised.

    Args:
        price: option price(s), same units as ``forward``.
        forward: forward/futures price, > 0.
        strike: strike, > 0.
        t: years to expiry, > 0 (``t <= 0`` gives NaN).
        is_call: True for calls, False for puts (bool or bool array).
        rate: continuous discount rate, ``D = exp(-rate t)``.
        tol: convergence tolerance on the total standard deviation ``sigma sqrt(t)``.
        max_iter: iteration cap (Newton typically needs fewer than 10).

    Returns:
        Annual implied vol (decimal), array of the broadcast input shape; NaN
        where the price is outside the no-arbitrage bounds or inputs are invalid.

    Source: Black (1976); Newton-bisection as described in the module docstring.
    """
    p, f, k, tt, call, r = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(rate, dtype=np.float64),
    )
    shape = p.shape
    p, f, k, tt, call, r = (a.ravel() for a in (p, f, k, tt, call, r))
    with np.errstate(all="ignore"):
        undisc = p * np.exp(r * tt)
        intrinsic = np.where(call, np.maximum(f - k, 0.0), np.maximum(k - f, 0.0))
        upper = np.where(call, f, k)
        otm_call = k >= f
        # Time value == undiscounted price of the OTM option (put-call parity).
        target = undisc - intrinsic
        valid = (
            (f > 0.0)
            & (k > 0.0)
            & (tt > 0.0)
            & np.isfinite(undisc)
            & (target >= -1e-14 * upper)
            & (undisc < upper)
        )
        zero = valid & (target <= 1e-14 * upper)
        todo = valid & ~zero
        out = np.full(p.shape, np.nan)
        out[zero] = 0.0
        if np.any(todo):
            ff, kk, vv, oc = f[todo], k[todo], target[todo], otm_call[todo]
            ln_target = np.log(vv)
            x = np.abs(np.log(ff / kk))
            lo = np.zeros_like(vv)
            hi = np.full_like(vv, _S_MAX)
            # Start at the inflection point, or the Brenner-Subrahmanyam ATM guess.
            s = np.maximum(np.sqrt(2.0 * x), 2.5066282746310002 * vv / np.sqrt(ff * kk))
            s = np.clip(s, 1e-6, _S_MAX)
            active = np.ones(vv.shape, dtype=bool)
            for _ in range(max_iter):
                v = _otm_value(ff, kk, s, oc)
                above = v > vv
                hi = np.where(above, np.minimum(hi, s), hi)
                lo = np.where(above, lo, np.maximum(lo, s))
                d1 = np.log(ff / kk) / s + 0.5 * s
                vega = ff * np.exp(-0.5 * d1 * d1) * 0.3989422804014327
                step = (np.log(v) - ln_target) * v / vega
                s_new = s - step
                bad = ~np.isfinite(s_new) | (s_new <= lo) | (s_new >= hi)
                s_new = np.where(bad, 0.5 * (lo + hi), s_new)
                moved = np.abs(s_new - s)
                s = np.where(active, s_new, s)
                active &= (moved > tol) & (hi - lo > tol)
                if not np.any(active):
                    break
            out[todo] = s / np.sqrt(tt[todo])
    return out.reshape(shape)
