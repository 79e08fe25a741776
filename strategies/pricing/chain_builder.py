"""Build :class:`strategies.domain.ChainSlice` quotes from the pricing models.

Time to expiry (:func:`t_years`): calendar days / 365 from a quote at the
16:00 ET close. PM-settled SPXW options settle at 16:00 ET on the expiry
date, so ``t = dte / 365`` (0 on expiry day: intrinsic value). AM-settled
options (monthly ``SPX``, and VIX, whose special opening quotation is taken
at the 09:30 ET open of the expiry Wednesday) lose the 6.5 hours between the
open and the close: ``t = (dte - 6.5/24) / 365``, floored at 0.

Spread model (:class:`SpreadParams`, :func:`quote_from_mid`): half-spread
``h = max(min_half, (half_base + half_pct * mid + half_sqrt * sqrt(mid)) * L)``
with the level factor ``L = (level / level_ref) ** half_level_exponent`` (1
without a level or with a zero exponent; VIX options pass the VIX close);
``bid = mid - h`` rounded *down* and ``ask = mid + h`` rounded *up* to the
minimum tick for that price level and session, and ``bid >= 0``, so
``bid <= mid <= ask`` always holds. Minimum ticks (Cboe SPX/SPXW and VIX
contract specifications): SPX/SPXW 0.05 below 3.00 and 0.10 at or above; VIX
0.01 below 3.00 and 0.05 at or above from 2022-10-03
(:data:`VIX_PENNY_TICKS_FROM`), 0.05 and 0.10 before (Cboe, "Why VIX Index
Options and Mini VIX Futures Got a Tick Update", Nov 2022, and its notice of
2022-11-29: single-leg VIX option quotes went from nickels to pennies below
3.00 and from dimes to nickels above, effective 2022-10-03; VIXW weeklies
were already in pennies). :func:`min_tick` gives the tick in force.

SPX/SPXW (:data:`SPX_SPREAD`): ``h = max(0.025, 0.05 * sqrt(mid))``, fitted on
the 17 Cboe end-of-day SPXW chains of 2022-2024 in ``../shared/data/chains``
(50,000 quotes, 5-90 DTE, 2-60 delta; ``docs/cash-and-fills.md`` has the
table). Real spreads grow much more slowly than the premium: median full
spread 0.15 at a 1-3 mid, 0.30 at 3-10, 0.40 at 10-20, 0.60 at 20-40, 0.70 at
40-80, 0.90 above. The model matches the median in every bucket up to a 40
mid and is at most a tick wider above; summed over all quotes it is 15% wider
than the real spreads (the earlier linear ``0.05 + 0.01 * mid`` was 66% wider,
up to 2.7 times at deep in-the-money strikes).

VIX (:data:`VIX_SPREAD`): ``h = (a + b * sqrt(mid)) * (VIX / 20) ** g`` on the
tick grid of the session, ``a``, ``b``, ``g`` in
:data:`strategies.pricing.calibrated.VIX_SPREAD`, fitted by
``scripts/fit_vix_spread.py`` on every real two-sided standard (monthly) VIX
option quote at hand: Cboe's VXTH daily quotes 2011-2013 (nickel/dime ticks)
and the 2023 Cboe VIX chain snapshots (penny/nickel ticks; the VIXW weeklies,
quoted two to five times wider, are left out: the replay trades the monthly
class), validated leave-one-year-out (``docs/cash-and-fills.md`` has the
tables). The tick grid carries most of the change between eras: the same
half-spread gives a median 0.10 at a 0.5-2.0 mid in 2011-2012 (real 0.10) and
0.04-0.06 in 2023 (real 0.05-0.06); the VIX factor widens quotes about 1.3
times at a VIX of 40 and 1.8 times at 80 (the 2011 quotes above a VIX of 40
were 0.20 wide at a mid near 5; no two-sided quotes of 2008 or 2020 are at
hand, so those levels are an extrapolation). The earlier
``max(0.005, 0.02 + 0.01 * mid)`` on penny ticks (medians of the 2023-05-15
chain) was half the real 2011-2012 width at a 0.5-2.0 mid and up to three
times too wide for in-the-money calls (mid above 30).

Strike grids (:func:`strike_grid`): multiples of ``step`` within
``forward * exp(+-n_moves * sigma * sqrt(t))``, the pricing window. Which
strikes were *listed* is :mod:`strategies.pricing.strike_listing`'s job
(:class:`strategies.pricing.market_model.MarketModel` intersects the two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from strategies.domain import ChainSlice, FloatArray, MarketContext, Right
from strategies.pricing import calibrated as _cal
from strategies.pricing.black import black_greeks, forward_from_spot
from strategies.pricing.spx_surface import SpxSurface, SpxSurfaceParams, spx_surface_from_context
from strategies.pricing.vix_model import (
    VixCurveParams,
    VixOptionParams,
    vix_futures_curve,
    vix_option_vol,
)

__all__ = [
    "AM_SETTLEMENT_HOURS",
    "SPX_SPREAD",
    "VIX_PENNY_TICKS_FROM",
    "VIX_SPREAD",
    "LegArrays",
    "SpreadParams",
    "min_tick",
    "quote_from_mid",
    "quote_with_half",
    "spx_chain_slice",
    "strike_grid",
    "t_years",
    "vix_chain_slice",
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
        tick_below: minimum tick for prices below ``tick_break`` (from
            ``ticks_from`` on, when that is set).
        tick_above: minimum tick at or above ``tick_break`` (idem).
        tick_break: price level where the tick changes.
        half_base: fixed part of the half-spread.
        half_pct: part of the half-spread proportional to mid.
        min_half: floor of the half-spread.
        round_to_tick: round bid down / ask up to the tick grid.
        half_sqrt: part of the half-spread proportional to the square root of mid.
        half_level_exponent: the half-spread scales with ``(level /
            level_ref) ** half_level_exponent`` (0: no level term).
        level_ref: level (VIX points for VIX options) where that factor is 1.
        ticks_from: first session of ``tick_below``/``tick_above``; sessions
            before it use ``old_tick_below``/``old_tick_above`` (None: one grid).
        old_tick_below, old_tick_above: the ticks before ``ticks_from``.
    """

    tick_below: float
    tick_above: float
    tick_break: float
    half_base: float
    half_pct: float
    min_half: float
    round_to_tick: bool = True
    half_sqrt: float = 0.0
    half_level_exponent: float = 0.0
    level_ref: float = 20.0
    ticks_from: date | None = None
    old_tick_below: float = 0.05
    old_tick_above: float = 0.10

    def ticks(self, session: date | None = None) -> tuple[float, float]:
        """``(tick below the break, tick at or above it)`` in force on ``session``.

        ``session=None`` means today's grid (``tick_below``, ``tick_above``).
        """
        if self.ticks_from is None or session is None or session >= self.ticks_from:
            return self.tick_below, self.tick_above
        return self.old_tick_below, self.old_tick_above

    def level_factor(self, level: float | None) -> float:
        """The half-spread's level factor; 1 without a usable level or exponent."""
        if not self.half_level_exponent or level is None or not level > 0.0:
            return 1.0
        return float((level / self.level_ref) ** self.half_level_exponent)


#: First session on which single-leg VIX options quote 0.01 below 3.00 and 0.05
#: at or above (before: 0.05 and 0.10). Cboe, effective 2022-10-03 (module docstring).
VIX_PENNY_TICKS_FROM = date(2022, 10, 3)

#: SPX/SPXW: ticks 0.05 / 0.10 around 3.00; half-spread 0.05 x sqrt(mid), at least 0.025.
SPX_SPREAD = SpreadParams(
    0.05, 0.10, 3.0, half_base=0.0, half_pct=0.0, min_half=0.025, half_sqrt=0.05
)
#: VIX: ticks 0.01 / 0.05 around 3.00 from 2022-10-03, 0.05 / 0.10 before; half-spread
#: ``(a + b sqrt(mid)) (VIX / 20) ** g`` fitted by ``scripts/fit_vix_spread.py``.
VIX_SPREAD = SpreadParams(
    0.01,
    0.05,
    3.0,
    half_base=_cal.VIX_SPREAD["half_base"],
    half_pct=0.0,
    min_half=0.005,
    half_sqrt=_cal.VIX_SPREAD["half_sqrt"],
    half_level_exponent=_cal.VIX_SPREAD["half_level_exponent"],
    level_ref=20.0,
    ticks_from=VIX_PENNY_TICKS_FROM,
    old_tick_below=0.05,
    old_tick_above=0.10,
)


def min_tick(spread: SpreadParams, price: float, session: date | None = None) -> float:
    """Minimum tick of a single-leg quote at ``price`` (index points) on ``session``."""
    below, above = spread.ticks(session)
    return below if price < spread.tick_break else above


def quote_from_mid(
    mid: npt.ArrayLike,
    spread: SpreadParams,
    *,
    level: float | None = None,
    session: date | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Bid and ask arrays around model mids (index points), ``0 <= bid <= mid <= ask``.

    Args:
        mid: model mids, index points.
        spread: the spread model.
        level: the level of the half-spread's level factor (VIX close for VIX
            options); None: factor 1.
        session: the quote's session, for the tick grid in force (None: today's).
    """
    m = np.maximum(np.asarray(mid, dtype=np.float64), 0.0)
    half = spread.half_base + spread.half_pct * m
    if spread.half_sqrt:
        half = half + spread.half_sqrt * np.sqrt(m)
    factor = spread.level_factor(level)
    if factor != 1.0:
        half = half * factor
    return quote_with_half(m, half, spread, session)


def quote_with_half(
    mid: npt.ArrayLike,
    half: npt.ArrayLike,
    spread: SpreadParams,
    session: date | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Bid and ask around ``mid`` for given half-spreads (index points).

    The half-spread is floored at ``spread.min_half``; rounding as in
    :func:`quote_from_mid` (bid down, ask up, on the ticks of ``session``).
    """
    m = np.maximum(np.asarray(mid, dtype=np.float64), 0.0)
    h = np.maximum(spread.min_half, np.asarray(half, dtype=np.float64))
    bid = np.maximum(m - h, 0.0)
    ask = m + h
    if spread.round_to_tick:
        below, above = spread.ticks(session)
        tb = np.where(bid < spread.tick_break, below, above)
        bid = np.floor(bid / tb + 1e-9) * tb
        ta = np.where(ask <= spread.tick_break, below, above)
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
    session: date,
    level: float | None = None,
) -> ChainSlice:
    g = black_greeks(forward, strikes, t, iv, right is Right.CALL, rate, carry)
    bid, ask = quote_from_mid(g.price, spread, level=level, session=session)
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
        rate, rate - dividend_yield, spread, ctx.session,
    )  # fmt: skip


def spx_chain_slices(
    ctx: MarketContext,
    expiry: date,
    dte: int,
    rights: Sequence[Right],
    strikes: npt.ArrayLike,
    spread: SpreadParams = SPX_SPREAD,
    *,
    rate: float = 0.0,
    trading_class: str = "SPXW",
    surface: SpxSurface,
) -> list[ChainSlice]:
    """:func:`spx_chain_slice` of each of ``rights`` at the same strikes, in one pricing pass.

    The forward and the vols are the expiry's, computed once; the rights
    are priced together (every formula is elementwise): each slice equals
    :func:`spx_chain_slice`'s bit for bit (tested). No dividend yield, as
    the market model prices.
    """
    tt = t_years(dte, am_settled=trading_class == "SPX")
    k = np.sort(np.asarray(strikes, dtype=np.float64).ravel())
    forward = float(forward_from_spot(ctx.spx, tt, rate, 0.0))
    iv = surface.vol(k, forward, tt)
    n, m = k.size, len(rights)
    calls = np.repeat(np.array([r is Right.CALL for r in rights], dtype=bool), n)
    g = black_greeks(forward, np.tile(k, m), tt, np.tile(iv, m), calls, rate, rate - 0.0)
    bid, ask = quote_from_mid(g.price, spread, level=None, session=ctx.session)
    return [
        ChainSlice(
            symbol="SPX",
            trading_class=trading_class,
            expiry=expiry,
            right=right,
            dte=dte,
            t_years=tt,
            forward=forward,
            strikes=k,
            bid=bid[j * n : (j + 1) * n],
            ask=ask[j * n : (j + 1) * n],
            iv=iv,
            delta=g.delta[j * n : (j + 1) * n],
            gamma=g.gamma[j * n : (j + 1) * n],
            vega=g.vega[j * n : (j + 1) * n],
            theta=g.theta[j * n : (j + 1) * n],
        )
        for j, right in enumerate(rights)
    ]


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
        ctx: market levels (uses ``vix``, ``vix3m``, ``vvix``, ``vix_futures``;
            ``session`` and ``vix`` also set the spread's tick grid and level).
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
        "VIX", "VIX", expiry, dte, right, tt, float(future_price), k, iv,
        rate, 0.0, spread, ctx.session, ctx.vix,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LegArrays:
    """Model quotes of options of mixed classes, expiries and rights, parallel to the input.

    The numbers of :class:`ChainSlice` (same units) for arbitrary
    ``(expiry, strike, right)`` triples in the caller's order: the simulated
    broker prices every held leg in one vectorised pass instead of one slice
    per expiry and right (:mod:`strategies.pricing.leg_batch`). Every formula
    is elementwise (the per-expiry scalars, time, forward and the SPX
    surface's vol, are computed as the slice computes them), so each
    option's numbers are bit for bit those of its :func:`spx_chain_slice` /
    :func:`vix_chain_slice`.
    """

    bid: FloatArray
    ask: FloatArray
    iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
