"""Build :class:`strategies.domain.ChainSlice` quotes from the pricing models.

Time to expiry (:func:`t_years`): calendar days / 365 from a quote at the
16:00 ET close. PM-settled SPXW options settle at 16:00 ET on the expiry
date, so ``t = dte / 365`` (0 on expiry day: intrinsic value). AM-settled
options (monthly ``SPX``, and VIX, whose special opening quotation is taken
at the 09:30 ET open of the expiry Wednesday) lose the 6.5 hours between the
open and the close: ``t = (dte - 6.5/24) / 365``, floored at 0.

Spread model (:class:`SpreadParams`, :func:`quote_from_mid`): half-spread
``h = max(min_half, half_base + half_pct * mid + half_sqrt * sqrt(mid))``;
``bid = mid - h`` rounded *down* and ``ask = mid + h`` rounded *up* to the
minimum tick for that price level, and ``bid >= 0``, so ``bid <= mid <= ask``
always holds. Minimum ticks (Cboe SPX/SPXW and VIX contract specifications):
SPX/SPXW 0.05 below 3.00 and 0.10 at or above; VIX (penny-interval class)
0.01 below 3.00 and 0.05 at or above.

SPX/SPXW (:data:`SPX_SPREAD`): ``h = max(0.025, 0.05 * sqrt(mid))``, fitted on
the 17 Cboe end-of-day SPXW chains of 2022-2024 in ``../shared/data/chains``
(50,000 quotes, 5-90 DTE, 2-60 delta; ``docs/cash-and-fills.md`` has the
table). Real spreads grow much more slowly than the premium: median full
spread 0.15 at a 1-3 mid, 0.30 at 3-10, 0.40 at 10-20, 0.60 at 20-40, 0.70 at
40-80, 0.90 above. The model matches the median in every bucket up to a 40
mid and is at most a tick wider above; summed over all quotes it is 15% wider
than the real spreads (the earlier linear ``0.05 + 0.01 * mid`` was 66% wider,
up to 2.7 times at deep in-the-money strikes). VIX (:data:`VIX_SPREAD`):
``h = max(0.005, 0.02 + 0.01 * mid)``, medians of the 2023-05-15 VIX chain
(0.04 below a 0.50 mid, about 0.06 at 1-3, 0.4 at 10-30); Cboe's VXTH quotes
of 2011-2012 were wider (median 0.10 at a 0.5-2.0 mid, the model 0.06-0.08),
2013's the same as the model.

Strike grids (:func:`strike_grid`): multiples of ``step`` within
``forward * exp(+-n_moves * sigma * sqrt(t))``, the pricing window. Which
strikes were *listed* is :mod:`strategies.pricing.strike_listing`'s job
(:class:`strategies.pricing.market_model.MarketModel` intersects the two).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from strategies.domain import ChainSlice, FloatArray, MarketContext, Right
from strategies.pricing.black import black_greeks, forward_from_spot
from strategies.pricing.spx_surface import SpxSurface, SpxSurfaceParams, spx_surface_from_context
from strategies.pricing.vix_model import (
    VixCurveParams,
    VixOptionParams,
    vix_futures_curve,
    vix_option_vol,
    vix_option_vol_arrays,
    vvix_or_fallback,
)

__all__ = [
    "AM_SETTLEMENT_HOURS",
    "SPX_SPREAD",
    "VIX_SPREAD",
    "LegArrays",
    "SpreadParams",
    "quote_from_mid",
    "spx_chain_slice",
    "spx_leg_quotes",
    "strike_grid",
    "t_years",
    "vix_chain_slice",
    "vix_leg_quotes",
]

#: Hours between the 09:30 ET open (AM settlement) and the 16:00 ET close.
AM_SETTLEMENT_HOURS = 6.5


def t_years(dte: int, *, am_settled: bool = False, days_per_year: float = 365.0) -> float:
    """Year fraction from a 16:00 ET quote to settlement ``dte`` calendar days later.

    Args:
        dte: calendar days from the quote session to the expiry date (>= 0).
        am_settled: True for AM-settled options (SPX monthlies, VIX).
        days_per_year: day-count denominator.

    Returns:
        ``max(dte - (6.5/24 if am_settled else 0), 0) / days_per_year``.
    """
    days = dte - (AM_SETTLEMENT_HOURS / 24.0 if am_settled else 0.0)
    return max(days, 0.0) / days_per_year


@dataclass(frozen=True, slots=True)
class SpreadParams:
    """Bid/ask model around a model mid (see module docstring), index points.

    Attributes:
        tick_below: minimum tick for prices below ``tick_break``.
        tick_above: minimum tick at or above ``tick_break``.
        tick_break: price level where the tick changes.
        half_base: fixed part of the half-spread.
        half_pct: part of the half-spread proportional to mid.
        min_half: floor of the half-spread.
        round_to_tick: round bid down / ask up to the tick grid.
        half_sqrt: part of the half-spread proportional to the square root of mid.
    """

    tick_below: float
    tick_above: float
    tick_break: float
    half_base: float
    half_pct: float
    min_half: float
    round_to_tick: bool = True
    half_sqrt: float = 0.0


#: SPX/SPXW: ticks 0.05 / 0.10 around 3.00; half-spread 0.05 x sqrt(mid), at least 0.025.
SPX_SPREAD = SpreadParams(
    0.05, 0.10, 3.0, half_base=0.0, half_pct=0.0, min_half=0.025, half_sqrt=0.05
)
#: VIX: ticks 0.01 / 0.05 around 3.00.
VIX_SPREAD = SpreadParams(0.01, 0.05, 3.0, half_base=0.02, half_pct=0.01, min_half=0.005)


def quote_from_mid(mid: npt.ArrayLike, spread: SpreadParams) -> tuple[FloatArray, FloatArray]:
    """Bid and ask arrays around model mids (index points), ``0 <= bid <= mid <= ask``."""
    m = np.maximum(np.asarray(mid, dtype=np.float64), 0.0)
    half = spread.half_base + spread.half_pct * m
    if spread.half_sqrt:
        half = half + spread.half_sqrt * np.sqrt(m)
    half = np.maximum(spread.min_half, half)
    bid = np.maximum(m - half, 0.0)
    ask = m + half
    if spread.round_to_tick:
        tb = np.where(bid < spread.tick_break, spread.tick_below, spread.tick_above)
        bid = np.floor(bid / tb + 1e-9) * tb
        ta = np.where(ask <= spread.tick_break, spread.tick_below, spread.tick_above)
        ask = np.ceil(ask / ta - 1e-9) * ta
        bid = np.minimum(np.round(bid, 4), m)
        ask = np.maximum(np.round(ask, 4), m)
    return bid, ask


def strike_grid(
    forward: float,
    t: float,
    sigma: float,
    *,
    n_moves: float = 4.0,
    step: float = 5.0,
) -> FloatArray:
    """Listed-style strike grid: multiples of ``step`` around ``forward``.

    Args:
        forward: forward price, index points (> 0).
        t: years to expiry (>= 0).
        sigma: ATM vol, decimal, used for the expected move ``sigma sqrt(t)``.
        n_moves: half-width of the window in expected moves (log space).
        step: strike spacing (SPXW 5.0, VIX 1.0).

    Returns:
        Ascending array of strikes (at least the strike nearest ``forward``);
        all strikes > 0.
    """
    move = n_moves * sigma * math.sqrt(max(t, 0.0))
    lo = math.ceil(forward * math.exp(-move) / step - 1e-9)
    hi = math.floor(forward * math.exp(move) / step + 1e-9)
    lo = max(lo, 1)
    if hi < lo:
        lo = hi = max(round(forward / step), 1)
    return np.arange(lo, hi + 1, dtype=np.float64) * step


def _slice(
    symbol: str,
    trading_class: str,
    expiry: date,
    dte: int,
    right: Right,
    t: float,
    forward: float,
    strikes: FloatArray,
    iv: FloatArray,
    rate: float,
    carry: float,
    spread: SpreadParams,
) -> ChainSlice:
    g = black_greeks(forward, strikes, t, iv, right is Right.CALL, rate, carry)
    bid, ask = quote_from_mid(g.price, spread)
    return ChainSlice(
        symbol=symbol,
        trading_class=trading_class,
        expiry=expiry,
        right=right,
        dte=dte,
        t_years=t,
        forward=forward,
        strikes=strikes,
        bid=bid,
        ask=ask,
        iv=iv,
        delta=g.delta,
        gamma=g.gamma,
        vega=g.vega,
        theta=g.theta,
    )


def spx_chain_slice(
    ctx: MarketContext,
    expiry: date,
    dte: int,
    right: Right,
    strikes: npt.ArrayLike,
    params: SpxSurfaceParams | None = None,
    spread: SpreadParams = SPX_SPREAD,
    *,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
    trading_class: str = "SPXW",
    t: float | None = None,
    surface: SpxSurface | None = None,
) -> ChainSlice:
    """Model SPX option quotes for one expiry and right.

    Args:
        ctx: market levels (uses ``spx``, ``vix``, ``vix9d``, ``vix3m``, ``skew``).
        expiry: expiry date; ``dte`` calendar days after ``ctx.session``.
        right: call or put.
        strikes: strikes, index points (sorted ascending in the result).
        params: surface parameters (:class:`SpxSurfaceParams` defaults).
        spread: bid/ask model.
        rate, dividend_yield: continuous rates; forward ``F = S e^{(r-q) t}``.
        trading_class: ``"SPXW"`` (PM-settled) or ``"SPX"`` (AM-settled).
        t: override of the year fraction (default :func:`t_years`).
        surface: the day's surface (default :func:`spx_surface_from_context`
            of ``ctx`` and ``params``, weekend-only variance clock); pass one
            built with the exchange holidays and macro events to use them.

    Returns:
        :class:`ChainSlice` with Black-Scholes-Merton spot greeks (delta
        ``dV/dS``, gamma, vega per 1.00 vol, theta per calendar day at fixed
        spot and vol, including discounting), ``forward`` the SPX forward.
    """
    tt = t if t is not None else t_years(dte, am_settled=trading_class == "SPX")
    k = np.sort(np.asarray(strikes, dtype=np.float64).ravel())
    forward = float(forward_from_spot(ctx.spx, tt, rate, dividend_yield))
    if surface is None:
        surface = spx_surface_from_context(ctx, params)
    iv = surface.vol(k, forward, tt)
    return _slice(
        "SPX", trading_class, expiry, dte, right, tt, forward, k, iv,
        rate, rate - dividend_yield, spread,
    )  # fmt: skip


def vix_chain_slice(
    ctx: MarketContext,
    expiry: date,
    dte: int,
    right: Right,
    strikes: npt.ArrayLike,
    future_price: float | None = None,
    params: VixOptionParams | None = None,
    spread: SpreadParams = VIX_SPREAD,
    *,
    rate: float = 0.0,
    curve: VixCurveParams | None = None,
    t: float | None = None,
) -> ChainSlice:
    """Model VIX option quotes for one expiry and right (Black-76 on the VIX future).

    Args:
        ctx: market levels (uses ``vix``, ``vix3m``, ``vvix``, ``vix_futures``).
        expiry: option expiry (= the future's final settlement date); ``dte``
            calendar days after ``ctx.session``.
        right: call or put.
        strikes: strikes in VIX points (sorted ascending in the result).
        future_price: the VIX future of this expiry; None looks up
            ``ctx.vix_futures[expiry]`` and else uses :func:`vix_futures_curve`.
        params: option vol parameters.
        spread: bid/ask model.
        rate: continuous discount rate.
        curve: futures-curve parameters for the modelled future.
        t: override of the year fraction (default AM-settled :func:`t_years`).

    Returns:
        :class:`ChainSlice`; ``forward`` is the future, delta and gamma are with
        respect to the future (use ``future_spot_beta`` for spot VIX), theta at
        fixed future and vol per calendar day.
    """
    tt = t if t is not None else t_years(dte, am_settled=True)
    if future_price is None:
        future_price = ctx.vix_futures.get(expiry)
    if future_price is None:
        future_price = float(vix_futures_curve(ctx.vix, ctx.vix3m, tt, curve))
    k = np.sort(np.asarray(strikes, dtype=np.float64).ravel())
    iv = vix_option_vol(k, future_price, tt, ctx.vvix, params, vix=ctx.vix)
    return _slice(
        "VIX", "VIX", expiry, dte, right, tt, float(future_price), k, iv, rate, 0.0, spread
    )


@dataclass(frozen=True, slots=True)
class LegArrays:
    """Model quotes of options of one class, expiries and rights mixed, parallel to the input.

    The numbers of :class:`ChainSlice` (same units) for arbitrary
    ``(expiry, strike, right)`` triples in the caller's order: the simulated
    broker prices every held leg of a class in one vectorised pass instead of
    one slice per expiry and right. Every formula is elementwise (the
    per-expiry scalars, time, forward and the SPX surface's vol, are computed
    as the slice computes them), so each option's numbers are bit for bit
    those of its :func:`spx_chain_slice` / :func:`vix_chain_slice`.
    """

    bid: FloatArray
    ask: FloatArray
    iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


def _leg_arrays(
    t: FloatArray,
    forward: FloatArray,
    strikes: FloatArray,
    iv: FloatArray,
    is_call: npt.NDArray[np.bool_],
    rate: float,
    carry: float,
    spread: SpreadParams,
) -> LegArrays:
    g = black_greeks(forward, strikes, t, iv, is_call, rate, carry)
    bid, ask = quote_from_mid(g.price, spread)
    return LegArrays(bid, ask, iv, g.delta, g.gamma, g.vega, g.theta)


@dataclass(frozen=True, slots=True)
class LegInputs:
    """What :func:`black_greeks` and the spread model need for options of one class.

    Arrays parallel to the caller's options: ``t`` calendar years, ``forward``
    index points, ``strikes`` index points, ``iv`` decimal vol, ``is_call``;
    ``rate`` and ``carry`` continuous annual rates; ``spread`` the bid/ask model.
    Inputs of one class in several market states concatenate
    (:func:`price_leg_inputs`): every formula after them is elementwise.
    """

    t: FloatArray
    forward: FloatArray
    strikes: FloatArray
    iv: FloatArray
    is_call: npt.NDArray[np.bool_]
    rate: float
    carry: float
    spread: SpreadParams

    def __len__(self) -> int:
        return len(self.strikes)


def price_leg_inputs(inputs: Sequence[LegInputs]) -> list[LegArrays]:
    """Price several :class:`LegInputs` of one class in one vectorised pass, split back.

    Every formula is elementwise, so each option's numbers are those of
    pricing its own inputs alone; one pass costs one set of array calls
    instead of one per input (the replay prices a session's path states so).

    Raises:
        ValueError: the inputs differ in rate, carry or spread model.
    """
    first = inputs[0]
    if any((i.rate, i.carry, i.spread) != (first.rate, first.carry, first.spread) for i in inputs):
        raise ValueError("leg inputs priced together must share rate, carry and spread")
    if len(inputs) == 1:
        whole = first
    else:
        whole = LegInputs(
            np.concatenate([i.t for i in inputs]),
            np.concatenate([i.forward for i in inputs]),
            np.concatenate([i.strikes for i in inputs]),
            np.concatenate([i.iv for i in inputs]),
            np.concatenate([i.is_call for i in inputs]),
            first.rate,
            first.carry,
            first.spread,
        )
    priced = _leg_arrays(
        whole.t,
        whole.forward,
        whole.strikes,
        whole.iv,
        whole.is_call,
        whole.rate,
        whole.carry,
        whole.spread,
    )
    if len(inputs) == 1:
        return [priced]
    out: list[LegArrays] = []
    start = 0
    for part in inputs:
        end = start + len(part)
        out.append(LegArrays(*(getattr(priced, name)[start:end] for name in _QUOTE_ARRAYS)))
        start = end
    return out


_QUOTE_ARRAYS = ("bid", "ask", "iv", "delta", "gamma", "vega", "theta")


def _by_dte(dtes: Sequence[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, dte in enumerate(dtes):
        groups.setdefault(dte, []).append(i)
    return groups


def spx_leg_quotes(
    ctx: MarketContext,
    dtes: Sequence[int],
    strikes: npt.ArrayLike,
    is_call: npt.ArrayLike,
    surface_for: Callable[[int], SpxSurface],
    spread: SpreadParams = SPX_SPREAD,
    *,
    rate: float = 0.0,
    trading_class: str = "SPXW",
) -> LegArrays:
    """SPX/SPXW quotes for ``(dte, strike, is_call)`` triples (see :func:`spx_chain_slice`).

    Args:
        ctx: market levels (``spx``; the surface carries the vol indexes).
        dtes: calendar days from ``ctx.session`` to each option's expiry.
        strikes: strikes, index points, in any order (the result keeps it).
        is_call: True for a call, False for a put, one per strike.
        surface_for: the day's surface for a DTE (:meth:`MarketModel.spx_surface`).
        spread: bid/ask model.
        rate: continuous rate (no dividend yield, as the market model prices).
        trading_class: ``"SPXW"`` (PM-settled) or ``"SPX"`` (AM-settled).
    """
    i = spx_leg_inputs(
        ctx, dtes, strikes, is_call, surface_for, spread, rate=rate, trading_class=trading_class
    )
    return _leg_arrays(i.t, i.forward, i.strikes, i.iv, i.is_call, i.rate, i.carry, i.spread)


def spx_leg_inputs(
    ctx: MarketContext,
    dtes: Sequence[int],
    strikes: npt.ArrayLike,
    is_call: npt.ArrayLike,
    surface_for: Callable[[int], SpxSurface],
    spread: SpreadParams = SPX_SPREAD,
    *,
    rate: float = 0.0,
    trading_class: str = "SPXW",
) -> LegInputs:
    """The pricing inputs of :func:`spx_leg_quotes` (same arguments), not yet priced."""
    k = np.asarray(strikes, dtype=np.float64).ravel()
    t, forward, iv = np.empty_like(k), np.empty_like(k), np.empty_like(k)
    for dte, members in _by_dte(dtes).items():
        tt = t_years(dte, am_settled=trading_class == "SPX")
        f = float(forward_from_spot(ctx.spx, tt, rate, 0.0))
        ix = np.array(members)
        t[ix], forward[ix] = tt, f
        iv[ix] = surface_for(dte).vol(k[ix], f, tt)
    calls = np.asarray(is_call, dtype=bool).ravel()
    return LegInputs(t, forward, k, iv, calls, rate, rate - 0.0, spread)


def vix_leg_quotes(
    ctx: MarketContext,
    dtes: Sequence[int],
    strikes: npt.ArrayLike,
    is_call: npt.ArrayLike,
    future_prices: npt.ArrayLike,
    params: VixOptionParams | None = None,
    spread: SpreadParams = VIX_SPREAD,
    *,
    rate: float = 0.0,
) -> LegArrays:
    """VIX quotes for ``(dte, strike, is_call)`` triples (see :func:`vix_chain_slice`).

    ``future_prices`` is the VIX future of each option's expiry, points; the
    rest as :func:`spx_leg_quotes`.
    """
    i = vix_leg_inputs(ctx, dtes, strikes, is_call, future_prices, params, spread, rate=rate)
    return _leg_arrays(i.t, i.forward, i.strikes, i.iv, i.is_call, i.rate, i.carry, i.spread)


def vix_leg_inputs(
    ctx: MarketContext,
    dtes: Sequence[int],
    strikes: npt.ArrayLike,
    is_call: npt.ArrayLike,
    future_prices: npt.ArrayLike,
    params: VixOptionParams | None = None,
    spread: SpreadParams = VIX_SPREAD,
    *,
    rate: float = 0.0,
) -> LegInputs:
    """The pricing inputs of :func:`vix_leg_quotes` (same arguments), not yet priced."""
    p = params if params is not None else VixOptionParams()
    k = np.asarray(strikes, dtype=np.float64).ravel()
    t = np.array([t_years(dte, am_settled=True) for dte in dtes], dtype=np.float64)
    future = np.asarray(future_prices, dtype=np.float64).ravel()
    level = vvix_or_fallback(ctx.vvix, ctx.vix, p)
    v = math.nan if ctx.vix is None else float(ctx.vix)
    iv = vix_option_vol_arrays(k, future, t, level, v, p)
    calls = np.asarray(is_call, dtype=bool).ravel()
    return LegInputs(t, future, k, iv, calls, rate, 0.0, spread)
