"""Quotes of many options of mixed classes, expiries and market states in one vectorised pass.

The simulated broker quotes a few held legs at a time (an iron condor's four,
a hedge's one or two), in several market states of a session (its open, the
extremes of its range, its close) and of two classes (SPXW, VIX). Pricing
each class and state apart costs one set of numpy calls on arrays of one to
four elements each time, and those calls, not the arithmetic, were the cost
(issue 11's profile). :class:`LegBatch` gathers every option of a pricing
round, with the per-expiry numbers of its model (the SPX smile's
:class:`~strategies.pricing.spx_surface.Smile` and forward; the VIX future,
VVIX and VIX level), and prices them together: one SPX vol pass, one VIX vol
pass, one Black-76 pass (:func:`~strategies.pricing.black.black_greeks`,
carry per option), one spread pass (:func:`quote_per_option`).

Bit for bit: every formula after the per-expiry scalars is elementwise, and
each option goes through the operations its own
:func:`~strategies.pricing.chain_builder.spx_chain_slice` /
:func:`~strategies.pricing.chain_builder.vix_chain_slice` applies, in the
same order (scalars that were broadcast are now arrays of the same values),
so its numbers are those of its slice (tested, and the replay's fingerprint
is unchanged).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from strategies.domain import FloatArray
from strategies.pricing.black import black_greeks
from strategies.pricing.chain_builder import LegArrays, SpreadParams
from strategies.pricing.spx_surface import Smile, SpxSurfaceParams, smile_vols
from strategies.pricing.vix_model import VixOptionParams, vix_option_vol_arrays

__all__ = ["LegBatch", "SpxExpiry", "quote_per_option"]


@dataclass(frozen=True, slots=True)
class SpxExpiry:
    """One SPX/SPXW expiry in one market state: what its quotes need besides strike and right.

    Attributes:
        t: calendar years to settlement (:func:`~strategies.pricing.chain_builder.t_years`).
        forward: the SPX forward, index points.
        smile: the surface's numbers for the expiry (:meth:`SpxSurface.smile`).
    """

    t: float
    forward: float
    smile: Smile


def quote_per_option(
    mid: FloatArray,
    half_base: FloatArray | float,
    half_pct: FloatArray | float,
    half_sqrt: FloatArray | float,
    factor: FloatArray | float,
    min_half: FloatArray | float,
    tick_below: FloatArray | float,
    tick_above: FloatArray | float,
    tick_break: FloatArray | float,
) -> tuple[FloatArray, FloatArray]:
    """:func:`~strategies.pricing.chain_builder.quote_from_mid` with the spread model per option.

    Every argument is an array parallel to ``mid`` or a number for all (index points): each
    option's spread parameters, its level factor
    (:meth:`SpreadParams.level_factor`) and the ticks of its session
    (:meth:`SpreadParams.ticks`); every spread rounds to its ticks. The same
    elementwise operations in the same order: a zero ``half_sqrt`` adds
    ``+0.0`` and a factor of 1 multiplies exactly, where the one-model
    version skips them, so each bid and ask has its bits.
    """
    m = np.maximum(mid, 0.0)
    half = half_base + half_pct * m
    half = half + half_sqrt * np.sqrt(m)
    half = half * factor
    h = np.maximum(min_half, half)
    bid = np.maximum(m - h, 0.0)
    ask = m + h
    tb = np.where(bid < tick_break, tick_below, tick_above)
    bid = np.floor(bid / tb + 1e-9) * tb
    ta = np.where(ask <= tick_break, tick_below, tick_above)
    ask = np.ceil(ask / ta - 1e-9) * ta
    bid = np.minimum(np.round(bid, 4), m)
    ask = np.maximum(np.round(ask, 4), m)
    return bid, ask


def _spread_row(spread: SpreadParams, session: date, level: float | None) -> tuple[float, ...]:
    """The per-option spread numbers of one model, session and level (:func:`quote_per_option`)."""
    below, above = spread.ticks(session)
    return (
        spread.half_base,
        spread.half_pct,
        spread.half_sqrt,
        spread.level_factor(level),
        spread.min_half,
        below,
        above,
        spread.tick_break,
    )


@dataclass(slots=True)
class LegBatch:
    """Options gathered for one pricing pass, in the order they were added.

    Add options with :meth:`add_spx` and :meth:`add_vix` (a group of options
    of one expiry and market state at a time), then :meth:`price`. All share
    ``rate`` (continuous, annual); SPX options carry it (forward off spot, no
    dividend yield, as the market model prices), VIX options carry 0
    (options on the future).
    """

    rate: float
    spx_params: SpxSurfaceParams
    vix_params: VixOptionParams
    strikes: list[float] = field(default_factory=list)
    calls: list[bool] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    forward: list[float] = field(default_factory=list)
    carry: list[float] = field(default_factory=list)
    #: each option's spread row, an index into ``rows`` (see :meth:`spread_row`)
    row_of: list[int] = field(default_factory=list)
    rows: list[tuple[float, ...]] = field(default_factory=list)
    row_keys: dict[tuple[SpreadParams, date, float | None], int] = field(default_factory=dict)
    # SPX options whose smile is not flat: positions in the batch, smile numbers
    spx_at: list[int] = field(default_factory=list)
    root_w: list[float] = field(default_factory=list)
    atm: list[float] = field(default_factory=list)
    a_put: list[float] = field(default_factory=list)
    b_put: list[float] = field(default_factory=list)
    a_call: list[float] = field(default_factory=list)
    # SPX options at expiry (flat smile): positions and vols
    flat_at: list[int] = field(default_factory=list)
    flat_vol: list[float] = field(default_factory=list)
    # VIX options: positions, VVIX level (resolved), spot VIX (NaN: none)
    vix_at: list[int] = field(default_factory=list)
    vvix: list[float] = field(default_factory=list)
    vix: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.strikes)

    def spread_row(self, spread: SpreadParams, session: date, level: float | None) -> int:
        """The spread row of options quoted on ``session`` by ``spread`` at ``level``.

        ``level`` is the spread's level (:meth:`SpreadParams.level_factor`; VIX
        for VIX options, None for SPX).
        """
        key = (spread, session, level)
        row = self.row_keys.get(key)
        if row is None:
            row = self.row_keys[key] = len(self.rows)
            self.rows.append(_spread_row(spread, session, level))
        return row

    def _add(
        self,
        strikes: list[float],
        calls: list[bool],
        t: float,
        forward: float,
        carry: float,
        row: int,
    ) -> range:
        at = len(self.strikes)
        n = len(strikes)
        self.strikes += strikes
        self.calls += calls
        self.t += [t] * n
        self.forward += [forward] * n
        self.carry += [carry] * n
        self.row_of += [row] * n
        return range(at, at + n)

    def add_spx(
        self, expiry: SpxExpiry, strikes: list[float], calls: list[bool], spread_row: int
    ) -> None:
        """SPX/SPXW options of ``expiry`` (strikes and rights), quoted with ``spread_row``."""
        at = self._add(strikes, calls, expiry.t, expiry.forward, self.rate - 0.0, spread_row)
        s = expiry.smile
        n = len(at)
        if s.flat is None:
            self.spx_at += at
            self.root_w += [s.root_w] * n
            self.atm += [s.atm] * n
            self.a_put += [s.a_put] * n
            self.b_put += [s.b_put] * n
            self.a_call += [s.a_call] * n
        else:
            self.flat_at += at
            self.flat_vol += [s.flat] * n

    def add_vix(
        self,
        t: float,
        future: float,
        level: float,
        vix: float | None,
        strikes: list[float],
        calls: list[bool],
        spread_row: int,
    ) -> None:
        """VIX options of one expiry: ``t`` years, its future, VVIX ``level``, spot ``vix``.

        ``level`` resolved (:func:`vvix_or_fallback`); ``vix`` (points, None:
        unknown) sets the basis factor of the vol; the
        spread row (:meth:`spread_row`) should be the one of that level.
        """
        at = self._add(strikes, calls, t, future, 0.0, spread_row)
        n = len(at)
        self.vix_at += at
        self.vvix += [level] * n
        self.vix += [math.nan if vix is None else float(vix)] * n

    def price(self) -> LegArrays:
        """Quotes of every option added, in order (empty arrays for an empty batch)."""
        n = len(self.strikes)
        k = np.array(self.strikes, dtype=np.float64)
        if n == 0:
            return LegArrays(k, k.copy(), k.copy(), k.copy(), k.copy(), k.copy(), k.copy())
        t = np.array(self.t, dtype=np.float64)
        f = np.array(self.forward, dtype=np.float64)
        iv = np.empty(n, dtype=np.float64)
        if self.spx_at:
            ix = self.spx_at
            whole = len(ix) == n
            vols = smile_vols(
                k if whole else k[ix],
                f if whole else f[ix],
                _array(self.root_w),
                _array(self.atm),
                _array(self.a_put),
                _array(self.b_put),
                _array(self.a_call),
                self.spx_params,
            )
            iv = _placed(iv, ix, vols, whole)
        if self.flat_at:
            iv[self.flat_at] = self.flat_vol
        if self.vix_at:
            ix = self.vix_at
            whole = len(ix) == n
            vols = vix_option_vol_arrays(
                k if whole else k[ix],
                f if whole else f[ix],
                t if whole else t[ix],
                _array(self.vvix),
                _array(self.vix),
                self.vix_params,
            )
            iv = _placed(iv, ix, vols, whole)
        # one carry for all (one class, or a zero rate) is passed as a number: the same bits
        first = self.carry[0]
        carry: float | FloatArray = first if self.carry.count(first) == n else _array(self.carry)
        g = black_greeks(f, k, t, iv, np.array(self.calls, dtype=bool), self.rate, carry)
        if len(self.rows) == 1:  # one spread: its numbers broadcast (the same bits)
            bid, ask = quote_per_option(g.price, *self.rows[0])
        else:
            per = np.array(self.rows, dtype=np.float64)[self.row_of].T.copy()
            bid, ask = quote_per_option(g.price, *per)
        return LegArrays(bid, ask, iv, g.delta, g.gamma, g.vega, g.theta)


def _array(values: list[float]) -> FloatArray:
    return np.array(values, dtype=np.float64)


def split(arrays: LegArrays, sizes: list[int]) -> list[LegArrays]:
    """``arrays`` cut into consecutive parts of ``sizes`` options."""
    bounds = list(itertools.accumulate(sizes, initial=0))
    return [
        LegArrays(
            arrays.bid[a:b],
            arrays.ask[a:b],
            arrays.iv[a:b],
            arrays.delta[a:b],
            arrays.gamma[a:b],
            arrays.vega[a:b],
            arrays.theta[a:b],
        )
        for a, b in itertools.pairwise(bounds)
    ]


def _placed(iv: FloatArray, at: list[int], vols: FloatArray, whole: bool) -> FloatArray:
    """``vols`` written at rows ``at`` of ``iv``; ``vols`` itself when it covers every row."""
    if whole:
        return vols
    iv[at] = vols
    return iv
