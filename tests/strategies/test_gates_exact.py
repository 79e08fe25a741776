"""The risk gates' shortcuts give the doubles of the computations they replace.

Issue 11 (replay speed) keeps every result bit for bit: gates 4 and 5 read
their budget and stress cells from the scenario grid instead of pricing each
cell again, parity's medians are taken without numpy, and the margin model
writes the intrinsic value out. Each is checked here against the computation
it replaced, on random books, to the last bit (``repr`` equality).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from strategies.domain import LegQuote, MarketContext, OptionContract, Right
from strategies.gates import BookAfter, _median
from strategies.margin import _group_requirement
from strategies.scenarios import SPOT_MOVES, VOL_SHIFTS, expected_move, scenario_grid, scenario_pnl

SESSION = date(2024, 3, 1)


def _book(
    rng: np.random.Generator,
) -> tuple[dict[OptionContract, int], dict[OptionContract, LegQuote], MarketContext]:
    """Random SPX and VIX holdings with quotes (some unpriced) and a market context."""
    spx, vix = float(rng.uniform(1000, 6000)), float(rng.uniform(9, 80))
    futures = {SESSION + timedelta(days=d): vix * float(rng.uniform(0.8, 1.3)) for d in (19, 47)}
    holdings: dict[OptionContract, int] = {}
    quotes: dict[OptionContract, LegQuote] = {}
    for _ in range(int(rng.integers(1, 9))):
        if rng.random() < 0.7:
            expiry = SESSION + timedelta(days=int(rng.integers(0, 60)))
            klass = "SPX" if rng.random() < 0.2 else "SPXW"
            strike = round(spx * float(rng.uniform(0.8, 1.2)) / 5) * 5.0
            contract = OptionContract("SPX", klass, expiry, strike, Right(rng.choice(["C", "P"])))
        else:
            expiry = SESSION + timedelta(days=int(rng.choice([19, 47, 50, 80])))
            strike = float(rng.integers(10, 60))
            contract = OptionContract("VIX", "VIX", expiry, strike, Right.CALL)
        holdings[contract] = holdings.get(contract, 0) + int(rng.integers(-20, 21))
        iv = float(rng.uniform(0.05, 1.5)) if rng.random() < 0.9 else math.nan
        quotes[contract] = LegQuote(contract, 1.0, 1.2, iv, 0.1, 0.001, 1.0, -1.0)
    return holdings, quotes, MarketContext(SESSION, spx, vix, vix_futures=futures)


@pytest.mark.parametrize("seed", range(3))
def test_grid_cells_are_the_cells_priced_alone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        holdings, quotes, ctx = _book(rng)
        em_dte = int(rng.integers(0, 60))
        grid = scenario_grid(holdings, quotes, ctx, em_dte)
        assert grid.em_points == expected_move(ctx.spx, ctx.vix, em_dte)
        book = BookAfter({}, holdings, grid)
        snap: Any = _Snap(quotes, ctx)
        for spot in SPOT_MOVES:
            for vol in VOL_SHIFTS:
                alone, _ = scenario_pnl(holdings, quotes, ctx, (spot,), (vol,), grid.em_points)
                assert repr(book.cell(snap, spot, vol)) == repr(alone[(spot, vol)])
        # a cell off the grid is priced alone
        off, _ = scenario_pnl(holdings, quotes, ctx, (-1.5,), (7.0,), grid.em_points)
        assert repr(book.cell(snap, -1.5, 7.0)) == repr(off[(-1.5, 7.0)])


class _Snap:
    """The two fields :meth:`BookAfter.cell` reads of a snapshot."""

    def __init__(self, quotes: dict[OptionContract, LegQuote], ctx: MarketContext) -> None:
        self.quotes, self.ctx = quotes, ctx


def test_median_is_numpys() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5000):
        n = int(rng.integers(1, 12))
        values = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3)).tolist()
        if rng.random() < 0.2:
            values += values[: int(rng.integers(1, n + 1))]  # ties
        if rng.random() < 0.05:
            values[int(rng.integers(0, len(values)))] = math.nan
        ours, theirs = _median(values), float(np.median(values))
        assert repr(ours) == repr(theirs), values
        assert repr(min(max(-ours, 0.9), 1.0)) == repr(float(np.clip(-theirs, 0.9, 1.0)))
    assert math.isnan(_median([]))


def _reference_requirement(items: list[tuple[OptionContract, int]]) -> float:
    items = [(c, q) for c, q in items if q]
    if not items:
        return 0.0
    if sum(q * c.multiplier for c, q in items if c.right is Right.CALL) < 0:
        return math.inf
    points = {0.0, *(c.strike for c, _ in items)}
    worst = min(sum(q * c.intrinsic(s) * c.multiplier for c, q in items) for s in points)
    return max(0.0, -worst)


def test_group_requirement_is_the_intrinsic_formula() -> None:
    rng = np.random.default_rng(4)
    expiry = SESSION + timedelta(days=14)
    for _ in range(3000):
        items = [
            (
                OptionContract(
                    "SPX", "SPXW", expiry, float(rng.integers(3000, 5000)) + float(rng.random()),
                    Right(rng.choice(["C", "P"])), int(rng.choice([100, 10])),
                ),
                int(rng.integers(-5, 6)),
            )
            for _ in range(int(rng.integers(0, 7)))
        ]  # fmt: skip
        assert repr(_group_requirement(items)) == repr(_reference_requirement(items))
