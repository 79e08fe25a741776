"""Scenario grid of the combined book: spot moves x implied-vol shifts, repriced.

Grid (issue 9): spot moved by ``k`` expected moves, ``k`` in
:data:`SPOT_MOVES` (-3..+3), times SPX implied vol shifted by ``dv`` vol points,
``dv`` in :data:`VOL_SHIFTS` (+0, +5, +10, +20). Each cell is the book's
instantaneous P&L in dollars (time does not pass) if the market jumped there.

Expected move (EM), index points:
``EM = SPX x VIX / 100 x sqrt(DTE / 365)``, VIX read as the market's annual
1-sigma move of SPX in percent, over ``DTE`` calendar days (the entry's
expiry; see :func:`em_days`). A 14-DTE entry at SPX 5,000 and VIX 15 has
EM = 5,000 x 0.15 x sqrt(14/365) = 146.9 points.

Repricing (Black-76, :func:`strategies.pricing.black.black_price`, rate 0:
the grid is a difference of two model values, so carry cancels):

* **SPX options**: forward moved with spot, ``F = SPX + k x EM``; vol
  ``sigma = IV + dv / 100`` (the leg's quoted IV, floored at 1%). Time to
  expiry as quoted (PM settlement for SPXW, AM for SPX monthlies).
* **VIX options** are priced on the VIX future of their expiry. A ``dv``-point
  rise of SPX implied vol is read as a ``dv``-point rise of spot VIX (VIX *is*
  SPX 30-day implied vol), and the future of tenor ``T`` moves
  ``beta(T) x dv`` with ``beta(T) = exp(-kappa T)``
  (:func:`strategies.pricing.vix_model.future_spot_beta`, kappa 6/yr: 0.43 at
  44 days, 0.33 at 72). Their own vol (vol of vol) is left at the quoted IV,
  and the spot axis does not move them (its vol response is the grid's other
  axis), so a cell never credits the hedge with more than the vol move.

Legs without a usable IV (or VIX legs without a future) are left out of the
grid and named in :attr:`ScenarioGrid.unpriced`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
)
from strategies.pricing.black import black_price
from strategies.pricing.chain_builder import t_years
from strategies.pricing.vix_model import future_spot_beta, vix_futures_curve

__all__ = [
    "SPOT_MOVES",
    "VOL_SHIFTS",
    "BookAfter",
    "ScenarioGrid",
    "em_days",
    "expected_move",
    "scenario_grid",
    "scenario_pnl",
]

#: Spot moves of the grid, expected moves.
SPOT_MOVES: tuple[float, ...] = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
#: SPX implied-vol shifts of the grid, vol points.
VOL_SHIFTS: tuple[float, ...] = (0.0, 5.0, 10.0, 20.0)
#: Lowest vol a shocked SPX leg is priced at (decimal).
_MIN_SIGMA = 0.01
#: DTE of the EM when the book has no SPX expiry to measure it by, calendar days.
DEFAULT_EM_DAYS = 30


def expected_move(spx: float, vix: float, dte: int) -> float:
    """``SPX x VIX/100 x sqrt(DTE/365)``, index points (see the module docstring)."""
    return spx * vix / 100.0 * math.sqrt(max(dte, 1) / 365.0)


def em_days(contracts: Sequence[OptionContract], ctx: MarketContext) -> int:
    """DTE of the expected move: the nearest unexpired SPX expiry among ``contracts``
    (the entry's expiry when it is the only one), else :data:`DEFAULT_EM_DAYS`."""
    days = [
        (c.expiry - ctx.session).days
        for c in contracts
        if c.symbol == "SPX" and c.expiry >= ctx.session
    ]
    return min(days) if days else DEFAULT_EM_DAYS


def _am_settled(contract: OptionContract) -> bool:
    return contract.symbol == "VIX" or contract.trading_class == "SPX"


def _vix_future(ctx: MarketContext, contract: OptionContract, t: float) -> float | None:
    price = ctx.vix_futures.get(contract.expiry)
    if price is None:
        near = [d for d in ctx.vix_futures if abs((d - contract.expiry).days) <= 3]
        if near:
            price = ctx.vix_futures[near[0]]
    if price is None and ctx.vix > 0:
        price = float(vix_futures_curve(ctx.vix, ctx.vix3m, t))
    return price


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """The book's P&L per grid cell, dollars.

    Attributes:
        em_points: one expected move, index points.
        em_dte: the DTE the EM was measured over, calendar days.
        cells: ``(spot moves in EM, vol shift in points) -> P&L dollars``.
        unpriced: local symbols left out (no IV or no future).
    """

    em_points: float
    em_dte: int
    cells: Mapping[tuple[float, float], float]
    unpriced: tuple[str, ...] = ()

    @property
    def worst(self) -> tuple[tuple[float, float], float]:
        """The cell with the lowest P&L and that P&L (dollars)."""
        key = min(self.cells, key=lambda k: (self.cells[k], k))
        return key, self.cells[key]

    def compact(self) -> str:
        """JSON ``{"em": .., "dte": .., "rows": {"+0": [pnl per spot move], ...}}``,
        whole dollars, spot moves in :data:`SPOT_MOVES` order."""
        spots = sorted({k for k, _ in self.cells})
        vols = sorted({v for _, v in self.cells})
        rows = {f"{v:+g}": [round(self.cells[(k, v)]) for k in spots] for v in vols}
        return json.dumps(
            {"em": round(self.em_points, 1), "dte": self.em_dte, "spot_em": spots, "vol": rows},
            separators=(",", ":"),
        )


def scenario_pnl(
    holdings: Mapping[OptionContract, int],
    quotes: Mapping[OptionContract, LegQuote],
    ctx: MarketContext,
    spot_moves: Sequence[float],
    vol_shifts: Sequence[float],
    em_points: float,
) -> tuple[dict[tuple[float, float], float], tuple[str, ...]]:
    """P&L dollars of ``holdings`` (signed contracts) in each (spot EM, vol points) cell."""
    ks = np.array([k for k in spot_moves for _ in vol_shifts], dtype=np.float64)
    dvs = np.array([v for _ in spot_moves for v in vol_shifts], dtype=np.float64)
    total = np.zeros_like(ks)
    unpriced: list[str] = []
    # Every leg's base and shocked prices in one vectorised pass (the formula is
    # elementwise: each price is what pricing its leg alone gives); the legs'
    # P&L is then summed in the legs' order, as leg by leg. The shocked inputs
    # are built as matrices (one row per leg) by the same elementwise operations
    # a leg's row alone would take: the SPX forward row is the same for every
    # SPX leg, so it is computed once.
    spx_forward = np.maximum(ctx.spx + ks * em_points, 0.01)
    vol_up = dvs / 100.0
    weights: list[float] = []
    base_in: list[tuple[float, float, float, float, bool]] = []
    vix_rows: list[int] = []
    vix_f0: list[float] = []
    vix_beta: list[float] = []
    for contract, qty in sorted(holdings.items(), key=lambda kv: kv[0].local_symbol):
        if not qty or contract.expiry < ctx.session:
            continue
        quote = quotes.get(contract)
        iv = quote.iv if quote is not None else math.nan
        if not (math.isfinite(iv) and iv > 0):
            unpriced.append(contract.local_symbol)
            continue
        t = t_years((contract.expiry - ctx.session).days, am_settled=_am_settled(contract))
        is_call = contract.right is Right.CALL
        if contract.symbol == "VIX":
            f0 = _vix_future(ctx, contract, t)
            if f0 is None or not f0 > 0:
                unpriced.append(contract.local_symbol)
                continue
            vix_rows.append(len(weights))
            vix_f0.append(f0)
            vix_beta.append(float(future_spot_beta(t)))
        else:
            f0 = ctx.spx
        multiplier = contract.multiplier or CONTRACT_MULTIPLIER
        weights.append(qty * multiplier)
        base_in.append((f0, contract.strike, t, iv, is_call))
    if weights:
        n = len(ks)
        legs = len(weights)
        f0s, strikes, ts, ivs, calls = (np.array(column) for column in zip(*base_in, strict=True))
        # SPX rows: forward moved with spot, vol shifted (floored); VIX rows:
        # the future moved by beta x the vol shift, their own vol as quoted
        shocked_f = np.empty((legs, n))
        shocked_f[:] = spx_forward
        shocked_sigma = np.maximum(ivs[:, None] + vol_up[None, :], _MIN_SIGMA)
        if vix_rows:
            beta = np.array(vix_beta)[:, None]
            shocked_f[vix_rows] = np.maximum(np.array(vix_f0)[:, None] + beta * dvs[None, :], 0.01)
            shocked_sigma[vix_rows] = ivs[vix_rows][:, None]
        prices = black_price(
            np.concatenate([f0s, shocked_f.ravel()]),
            np.concatenate([strikes, np.repeat(strikes, n)]),
            np.concatenate([ts, np.repeat(ts, n)]),
            np.concatenate([ivs, shocked_sigma.ravel()]),
            np.concatenate([calls, np.repeat(calls, n)]),
        )
        base = prices[:legs, None]
        pnl = np.array(weights, dtype=np.float64)[:, None] * (prices[legs:].reshape(legs, n) - base)
        for row in pnl:  # legs in order, as leg by leg
            total += row
    cells = {(float(k), float(v)): float(p) for k, v, p in zip(ks, dvs, total, strict=True)}
    return cells, tuple(unpriced)


def scenario_grid(
    holdings: Mapping[OptionContract, int],
    quotes: Mapping[OptionContract, LegQuote],
    ctx: MarketContext,
    em_dte: int,
) -> ScenarioGrid:
    """The full grid (:data:`SPOT_MOVES` x :data:`VOL_SHIFTS`) of ``holdings``."""
    em = expected_move(ctx.spx, ctx.vix, em_dte)
    cells, unpriced = scenario_pnl(holdings, quotes, ctx, SPOT_MOVES, VOL_SHIFTS, em)
    return ScenarioGrid(em, em_dte, cells, unpriced)


@dataclass(frozen=True, slots=True)
class BookAfter:
    """A book with an order, as the risk gates 4 and 5 price it
    (:func:`strategies.gates.book_after`).

    Attributes:
        before: signed contracts held now.
        after: signed contracts held with ``quantity`` units of the order.
        grid: the scenario grid of ``after`` (:func:`scenario_grid`) over the
            DTE of :func:`em_days`.
    """

    before: dict[OptionContract, int]
    after: dict[OptionContract, int]
    grid: ScenarioGrid

    def cell(
        self,
        quotes: Mapping[OptionContract, LegQuote],
        ctx: MarketContext,
        spot_em: float,
        vol_points: float,
    ) -> float:
        """P&L dollars of ``after`` in one cell (spot in EM, vol points), at the grid's EM,
        priced on ``quotes`` (IVs) and ``ctx`` as the grid was.

        A cell on the grid is read from it: the same double as pricing the
        cell alone (the pricing is elementwise, each price is what its leg and
        cell alone give, and the legs are summed in the same order); a cell
        off the grid is priced alone.
        """
        found = self.grid.cells.get((spot_em, vol_points))
        if found is not None:
            return found
        cells, _ = scenario_pnl(
            self.after, quotes, ctx, (spot_em,), (vol_points,), self.grid.em_points
        )
        return next(iter(cells.values()))
