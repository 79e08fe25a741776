"""Black-76 prices and greeks on a forward, vectorised over numpy arrays.

Source: F. Black, "The pricing of commodity contracts", Journal of Financial
Economics 3 (1976); greeks as in J. Hull, *Options, Futures, and Other
Derivatives* (10th ed.), ch. 18-19. Black-Scholes(-Merton) with a continuous
dividend yield ``q`` is the special case ``forward = spot * exp((r - q) * t)``
(Hull ch. 17); pass ``carry = r - q`` to get spot-based delta, gamma and a
theta at fixed spot, which then equal the Black-Scholes-Merton greeks.

Conventions (see :mod:`strategies.domain`): prices in index points per share;
``t`` in years (>= 0); ``sigma`` decimal annual volatility (>= 0); ``rate`` and
``carry`` continuously compounded decimals per year; vega per 1.00 of vol;
theta per *calendar day* (the year derivative divided by 365). Every argument
may be a scalar or an array; arrays broadcast with numpy rules and the result
has the broadcast shape (0-d arrays for all-scalar input).

Degenerate cases: where the total standard deviation ``sigma * sqrt(t)`` is 0
(``t == 0`` or ``sigma == 0``) the price is the discounted intrinsic value
``D * max(+-(F - K), 0)``, delta is the step ``D * 1{F > K}`` (one half at
``F == K``), gamma is 0, vega is its ``sigma -> 0`` limit (0, except exactly at
the money with ``t > 0`` where it is ``D F sqrt(t) / sqrt(2 pi)``), and theta
is only the discounting/carry drift of that intrinsic value (0 at ``t == 0``:
nothing is left to decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri

from strategies.domain import FloatArray, Right

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DAYS_PER_YEAR",
    "BlackGreeks",
    "black_greeks",
    "black_price",
    "forward_delta",
    "forward_from_spot",
    "is_call_flag",
    "nearest_strike",
    "options_priced",
    "strike_from_delta",
]

#: Calendar days per year used to express theta per day.
DAYS_PER_YEAR = 365.0

_INV_SQRT_2PI = 0.3989422804014327

ArrayLike = npt.ArrayLike

# How many option prices black_price and black_greeks computed in this process
# (one per element of their broadcast result). The replay benchmark reads it to
# set the replay against the cost of the pricing it needs; a plain tally, it
# changes nothing that is priced.
_priced = [0]


def options_priced() -> int:
    """Option prices computed so far in this process by :func:`black_price` and
    :func:`black_greeks` (elements of their results, implied-vol iterations included)."""
    return _priced[0]


def is_call_flag(right: Right | str | bool | ArrayLike) -> npt.NDArray[np.bool_]:
    """Convert a :class:`Right`, ``"C"``/``"P"`` or bool (array) to a bool array (True = call)."""
    if isinstance(right, Right | str):
        return np.asarray(Right(right) is Right.CALL)
    return np.asarray(right, dtype=bool)


def forward_from_spot(
    spot: ArrayLike, t: ArrayLike, rate: ArrayLike = 0.0, dividend_yield: ArrayLike = 0.0
) -> FloatArray:
    """Forward price ``F = S * exp((r - q) * t)`` (Hull ch. 5), same units as ``spot``."""
    s = np.asarray(spot, dtype=np.float64)
    return s * np.exp(
        (np.asarray(rate) - np.asarray(dividend_yield)) * np.asarray(t, dtype=np.float64)
    )


def _d1(f: FloatArray, k: FloatArray, std: FloatArray, positive: bool | None = None) -> FloatArray:
    """d1 of Black-76 with the std == 0 limit (+inf, -inf, or 0 at the money).

    ``positive``: whether every ``std`` is > 0, if the caller knows (None: looked up).
    """
    if positive is None:
        positive = bool((std > 0.0).all())
    with np.errstate(divide="ignore", invalid="ignore"):
        lfk = np.log(f / k)
        d1 = lfk / std + 0.5 * std
        if positive:  # the usual case: no limit to take (same numbers)
            return np.asarray(d1, dtype=np.float64)
        limit = np.where(lfk == 0.0, 0.0, np.sign(lfk) * np.inf)
    return np.where(std > 0.0, d1, limit)


def black_price(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
) -> FloatArray:
    """Black-76 option price ``D * (w F N(w d1) - w K N(w d2))``, ``w = +1`` call / ``-1`` put.

    Args:
        forward: forward (or futures) price, > 0.
        strike: strike, > 0, same units as ``forward``.
        t: time to expiry in years, >= 0.
        sigma: annual volatility, decimal, >= 0.
        is_call: True for calls, False for puts (bool or bool array; see
            :func:`is_call_flag` to convert a :class:`Right`).
        rate: continuously compounded discount rate; ``D = exp(-rate * t)``.

    Returns:
        Price in the units of ``forward``, broadcast shape of the inputs.

    Source: Black (1976); Hull, *Options, Futures, and Other Derivatives*, §18.8.
    """
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    w = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    std = np.asarray(sigma, dtype=np.float64) * np.sqrt(tt)
    d1 = _d1(f, k, std)
    d2 = d1 - std
    disc = np.exp(-np.asarray(rate, dtype=np.float64) * tt)
    price = disc * w * (f * ndtr(w * d1) - k * ndtr(w * d2))
    _priced[0] += price.size
    return np.maximum(price, 0.0)


@dataclass(frozen=True, slots=True)
class BlackGreeks:
    """Price and greeks of a Black-76 option, arrays of the broadcast input shape.

    Attributes:
        price: option value, index points.
        delta_forward: ``dV/dF`` (discounted: ``D N(d1)`` call, ``-D N(-d1)`` put).
        delta: ``dV/dS`` with ``F = S exp(carry * t)``, i.e. ``delta_forward *
            exp(carry * t)``; equals ``delta_forward`` when ``carry == 0``
            (options on a future).
        gamma: ``d2V/dS2`` (``d2V/dF2 * exp(2 carry t)``), per index point squared.
        vega: ``dV/dsigma`` per 1.00 of vol (divide by 100 for one vol point).
        theta: ``dV/dt`` per calendar day as calendar time passes with ``S``
            (or ``F`` when ``carry == 0``) and ``sigma`` held fixed; includes
            the discounting term ``r V``. Usually negative.
    """

    price: FloatArray
    delta_forward: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def black_greeks(
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    carry: ArrayLike = 0.0,
) -> BlackGreeks:
    """Black-76 price and greeks in one vectorised pass.

    Args:
        forward, strike, t, sigma, is_call, rate: as in :func:`black_price`.
        carry: ``r - q`` linking spot and forward, ``F = S exp(carry t)``. Use 0
            for options on futures (VIX options) and ``r - q`` for index
            options priced off spot (SPX), which makes ``delta``, ``gamma`` and
            ``theta`` the Black-Scholes-Merton spot greeks (Hull §19).

    Returns:
        :class:`BlackGreeks`. Theta formula (per year, then divided by 365):
        ``theta = r V - D F phi(d1) sigma / (2 sqrt t) - delta_forward * carry * F``.
        Degenerate ``sigma * sqrt(t) == 0`` handled as in the module docstring.

    Source: Black (1976); Hull, *Options, Futures, and Other Derivatives*, §§18.8, 19.
    """
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    tt = np.asarray(t, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    r = np.asarray(rate, dtype=np.float64)
    b = np.asarray(carry, dtype=np.float64)
    call = np.asarray(is_call, dtype=bool)
    w = np.where(call, 1.0, -1.0)
    sqrt_t = np.sqrt(tt)
    std = sig * sqrt_t
    positive = std > 0.0
    all_positive = bool(positive.all())
    d1 = _d1(f, k, std, all_positive)
    d2 = d1 - std
    # a zero rate or carry (a scalar) makes its factor exp(0 * t) == 1 exactly: it is left
    # out, as multiplying by 1 changes no bit; the products keep their order
    zero_rate = r.ndim == 0 and r == 0.0
    disc = None if zero_rate else np.exp(-r * tt)
    disc_w = w if disc is None else disc * w
    nd1 = ndtr(w * d1)
    price = np.maximum(disc_w * (f * nd1 - k * ndtr(w * d2)), 0.0)
    _priced[0] += price.size
    pdf = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI  # 0 where d1 is infinite
    delta_f = disc_w * nd1
    disc_pdf = pdf if disc is None else disc * pdf
    disc_f_pdf = f * pdf if disc is None else disc * f * pdf
    if all_positive:  # the usual case (then t > 0 too): no zeros to put in
        gamma_f = disc_pdf / (f * std)
        decay = disc_f_pdf * sig / (2.0 * sqrt_t)
        vega = disc_f_pdf * sqrt_t
        theta = (r * price - decay - delta_f * b * f) / DAYS_PER_YEAR
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma_f = np.where(positive, disc_pdf / (f * std), 0.0)
            decay = np.where(positive, disc_f_pdf * sig / (2.0 * sqrt_t), 0.0)
        vega = disc_f_pdf * sqrt_t
        theta_year = r * price - decay - delta_f * b * f
        theta = np.where(tt > 0.0, theta_year / DAYS_PER_YEAR, 0.0)
    if b.ndim == 0 and b == 0.0:
        delta, gamma = delta_f, gamma_f
    else:
        growth = np.exp(b * tt)
        delta, gamma = delta_f * growth, gamma_f * growth * growth
    return BlackGreeks(
        price=price, delta_forward=delta_f, delta=delta, gamma=gamma, vega=vega, theta=theta
    )


def forward_delta(
    forward: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike, is_call: ArrayLike
) -> FloatArray:
    """Undiscounted forward delta: ``N(d1)`` for calls, ``N(d1) - 1`` for puts (Hull §19.1)."""
    f = np.asarray(forward, dtype=np.float64)
    std = np.asarray(sigma, dtype=np.float64) * np.sqrt(np.asarray(t, dtype=np.float64))
    nd1 = ndtr(_d1(f, np.asarray(strike, dtype=np.float64), std))
    return np.where(np.asarray(is_call, dtype=bool), nd1, nd1 - 1.0)


def strike_from_delta(
    forward: float,
    t: float,
    sigma: float | ArrayLike | Callable[[FloatArray], FloatArray],
    target_delta: ArrayLike,
    is_call: bool | Right,
    *,
    max_iter: int = 30,
    tol: float = 1e-10,
) -> FloatArray:
    """Strike whose undiscounted forward delta equals ``target_delta``.

    With a constant ``sigma`` the inversion is closed form:
    ``K = F exp(-d1 sigma sqrt(t) + sigma^2 t / 2)`` with ``d1 = N^-1(delta)``
    for calls and ``d1 = N^-1(1 - |delta|)`` for puts. When
    ``sigma`` is a callable ``sigma(K) -> vol`` (a smile), the equation
    ``x = g(x)`` in ``x = ln K`` is solved by Newton's method on
    ``x - g(x)`` with a finite-difference ``g'`` (a safeguarded fixed-point
    iteration; converges in a handful of steps for realistic skews).

    Args:
        forward: forward price, > 0.
        t: years to expiry, > 0.
        sigma: a vol (scalar/array) or a vectorised callable strike -> vol.
        target_delta: in (0, 1) in absolute value; the sign is taken from
            ``is_call`` (a put's 0.16 and -0.16 both mean a -16 delta put).
        is_call: True/``Right.CALL`` for calls, False/``Right.PUT`` for puts.
        max_iter, tol: iteration cap and tolerance on ``ln K`` for the smile case.

    Returns:
        Strike(s), array of the shape of ``target_delta``.

    Raises:
        ValueError: if ``t <= 0`` or a ``|target_delta|`` is not in (0, 1).

    Source: inversion of Black (1976) ``N(d1)``; see e.g. Clark, *Foreign
    Exchange Option Pricing* (2011), §3.4 for strike-from-delta.
    """
    if t <= 0.0:
        raise ValueError("strike_from_delta needs t > 0")
    call = bool(is_call_flag(is_call))
    a = np.abs(np.asarray(target_delta, dtype=np.float64))
    if np.any((a <= 0.0) | (a >= 1.0)):
        raise ValueError("|target_delta| must be in (0, 1)")
    # N(d1) target: delta for calls, 1 - |delta| for puts.
    d1 = ndtri(a if call else 1.0 - a)
    sqrt_t = float(np.sqrt(t))
    ln_f = float(np.log(forward))

    if not callable(sigma):
        vol = np.asarray(sigma, dtype=np.float64)
        return np.asarray(np.exp(ln_f - d1 * vol * sqrt_t + 0.5 * vol * vol * t), dtype=np.float64)
    sigma_fn = sigma

    def g(x: FloatArray) -> FloatArray:
        vol = np.asarray(sigma_fn(np.exp(x)), dtype=np.float64)
        return ln_f - d1 * vol * sqrt_t + 0.5 * vol * vol * t

    x = np.full_like(d1, ln_f)
    x = g(x)  # first fixed-point step from the ATM strike
    h = 1e-5
    for _ in range(max_iter):
        gx = g(x)
        slope = (g(x + h) - gx) / h
        denom = 1.0 - slope
        # Newton on x - g(x); fall back to the plain fixed-point step when the
        # smile slope makes the Newton denominator tiny or negative.
        step = np.where(denom > 0.05, (x - gx) / np.where(denom > 0.05, denom, 1.0), x - gx)
        x = x - step
        if float(np.max(np.abs(step))) < tol:
            break
    return np.asarray(np.exp(x), dtype=np.float64)


def nearest_strike(grid: ArrayLike, target: ArrayLike) -> FloatArray:
    """The listed strike(s) of ``grid`` closest to ``target`` (ties go to the lower strike).

    Args:
        grid: 1-D array of listed strikes (any order, non-empty).
        target: strike(s) to snap.

    Returns:
        Array of the shape of ``target`` holding values taken from ``grid``.

    Raises:
        ValueError: if ``grid`` is empty.
    """
    g = np.sort(np.asarray(grid, dtype=np.float64).ravel())
    if g.size == 0:
        raise ValueError("empty strike grid")
    x = np.asarray(target, dtype=np.float64)
    hi = np.clip(np.searchsorted(g, x, side="left"), 0, g.size - 1)
    lo = np.clip(hi - 1, 0, g.size - 1)
    pick_lo = np.abs(x - g[lo]) <= np.abs(g[hi] - x)
    return np.where(pick_lo, g[lo], g[hi])
