"""One entry point to the option models for a simulated market.

:class:`MarketModel` turns a :class:`~strategies.domain.MarketContext` into
quoted :class:`~strategies.domain.ChainSlice` objects for SPX/SPXW and VIX
options: the SPX surface of :mod:`strategies.pricing.spx_surface`, the VIX
model of :mod:`strategies.pricing.vix_model`, the spread model and listing
grids of :mod:`strategies.pricing.chain_builder`.

Listed strike grids (Cboe listings as seen in the chain snapshots):

* SPXW: every 5 points within ``STRIKE_WINDOW_MOVES`` expected moves of the
  forward.
* VIX: 1-point strikes up to 40, 2.5 to 50, 5 to 100, 10 beyond, from half
  the future to three times it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from strategies.domain import ChainSlice, FloatArray, MarketContext, Right
from strategies.pricing.chain_builder import (
    SPX_SPREAD,
    VIX_SPREAD,
    SpreadParams,
    spx_chain_slice,
    strike_grid,
    t_years,
    vix_chain_slice,
)
from strategies.pricing.spx_surface import SpxSurfaceParams, spx_surface_from_context
from strategies.pricing.vix_model import VixCurveParams, VixOptionParams, vix_futures_curve

#: Half-width of the SPXW strike window, in expected moves (sigma * sqrt(t)).
STRIKE_WINDOW_MOVES = 4.0

#: (upper bound, step) pairs of the VIX strike ladder.
VIX_STRIKE_LADDER: tuple[tuple[float, float], ...] = (
    (40.0, 1.0),
    (50.0, 2.5),
    (100.0, 5.0),
    (1_000.0, 10.0),
)


def vix_strike_grid(future: float) -> FloatArray:
    """VIX strikes listed around ``future`` (VIX points): from F/2 to 3F on the Cboe ladder."""
    lo, hi = max(future * 0.5, 1.0), future * 3.0
    strikes: list[float] = []
    start = 0.0
    for bound, step in VIX_STRIKE_LADDER:
        k = np.arange(start + step, bound + 1e-9, step)
        strikes.extend(float(x) for x in k if lo <= x <= hi)
        start = bound
    return np.asarray(strikes, dtype=np.float64)


class UnknownProductError(ValueError):
    """The model prices SPX/SPXW and VIX options only."""


@dataclass(frozen=True, slots=True)
class MarketModel:
    """Models that quote SPX and VIX options from daily market levels.

    Attributes:
        spx: SPX surface parameters.
        vix_options: VIX option vol parameters.
        vix_curve: modelled VIX futures curve (used where no settlement exists).
        spx_spread, vix_spread: bid/ask models.
        rate: continuous annual rate (decimal) for forwards and discounting.
    """

    spx: SpxSurfaceParams = field(default_factory=SpxSurfaceParams)
    vix_options: VixOptionParams = field(default_factory=VixOptionParams)
    vix_curve: VixCurveParams = field(default_factory=VixCurveParams)
    spx_spread: SpreadParams = SPX_SPREAD
    vix_spread: SpreadParams = VIX_SPREAD
    rate: float = 0.0

    @classmethod
    def from_config(cls, rate: float = 0.0) -> MarketModel:
        """The shipped model with the configured rate."""
        return cls(rate=rate)

    def vix_future(self, ctx: MarketContext, expiry: date) -> float:
        """The VIX future for ``expiry``: its settlement if known, else the modelled curve."""
        price = ctx.vix_futures.get(expiry)
        if price is not None:
            return price
        t = t_years((expiry - ctx.session).days, am_settled=True)
        return float(vix_futures_curve(ctx.vix, ctx.vix3m, t, self.vix_curve))

    def slice(
        self,
        ctx: MarketContext,
        symbol: str,
        trading_class: str,
        expiry: date,
        right: Right,
        strikes: npt.ArrayLike | None = None,
    ) -> ChainSlice:
        """Quotes for one expiry and right; ``strikes=None`` means the listed grid.

        Raises:
            UnknownProductError: a product other than SPX/SPXW/VIX options.
            ValueError: ``expiry`` before ``ctx.session``.
        """
        dte = (expiry - ctx.session).days
        if dte < 0:
            raise ValueError(f"{trading_class} {expiry} expired before {ctx.session}")
        if symbol == "SPX" and trading_class in ("SPXW", "SPX"):
            if strikes is None:
                t = t_years(dte, am_settled=trading_class == "SPX")
                atm = float(spx_surface_from_context(ctx, self.spx).atm_vol(max(t, 1e-6)))
                strikes = strike_grid(ctx.spx, t, atm, n_moves=STRIKE_WINDOW_MOVES, step=5.0)
            return spx_chain_slice(
                ctx,
                expiry,
                dte,
                right,
                strikes,
                self.spx,
                self.spx_spread,
                rate=self.rate,
                trading_class=trading_class,
            )
        if symbol == "VIX" and trading_class == "VIX":
            future = self.vix_future(ctx, expiry)
            if strikes is None:
                strikes = vix_strike_grid(future)
            return vix_chain_slice(
                ctx,
                expiry,
                dte,
                right,
                strikes,
                future,
                self.vix_options,
                self.vix_spread,
                rate=self.rate,
                curve=self.vix_curve,
            )
        raise UnknownProductError(f"no model for {symbol} options of class {trading_class}")
