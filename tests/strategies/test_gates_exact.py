"""The risk gates' shortcuts give the doubles of the computations they replace.

Issue 11 (replay speed) keeps every result bit for bit: gates 4 and 5 read
their budget and stress cells from the scenario grid instead of pricing each
cell again, parity's medians are taken without numpy, and the margin model
writes the intrinsic value out. Each is checked here against the computation
it replaced, on random books, to the last bit (``repr`` equality).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta

import numpy as np
import pytest

from strategies.domain import (
    CONTRACT_MULTIPLIER,
    FloatArray,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
)
from strategies.gates import _median
from strategies.margin import _group_requirement
from strategies.pricing.black import black_price
from strategies.pricing.chain_builder import t_years
from strategies.pricing.vix_model import future_spot_beta
from strategies.scenarios import (
    _MIN_SIGMA,
    SPOT_MOVES,
    VOL_SHIFTS,
    BookAfter,
    _am_settled,
    _vix_future,
    expected_move,
    scenario_grid,
    scenario_pnl,
)

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
        for spot in SPOT_MOVES:
            for vol in VOL_SHIFTS:
                alone, _ = scenario_pnl(holdings, quotes, ctx, (spot,), (vol,), grid.em_points)
                assert repr(book.cell(quotes, ctx, spot, vol)) == repr(alone[(spot, vol)])
        # a cell off the grid is priced alone
        off, _ = scenario_pnl(holdings, quotes, ctx, (-1.5,), (7.0,), grid.em_points)
        assert repr(book.cell(quotes, ctx, -1.5, 7.0)) == repr(off[(-1.5, 7.0)])


def _reference_scenario_pnl(
    holdings: Mapping[OptionContract, int],
    quotes: Mapping[OptionContract, LegQuote],
    ctx: MarketContext,
    spot_moves: Sequence[float],
    vol_shifts: Sequence[float],
    em_points: float,
) -> tuple[dict[tuple[float, float], float], tuple[str, ...]]:
    """scenario_pnl as it was, leg by leg (the reference)."""
    ks = np.array([k for k in spot_moves for _ in vol_shifts], dtype=np.float64)
    dvs = np.array([v for _ in spot_moves for v in vol_shifts], dtype=np.float64)
    total = np.zeros_like(ks)
    unpriced: list[str] = []
    # Every leg's base and shocked prices in one vectorised pass (the formula is
    # elementwise: each price is what pricing its leg alone gives); the legs'
    # P&L is then summed in the legs' order, as leg by leg.
    weights: list[float] = []
    base_in: list[tuple[float, float, float, float, bool]] = []
    shocked_f: list[FloatArray] = []
    shocked_sigma: list[FloatArray] = []
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
            beta = float(future_spot_beta(t))
            f = np.maximum(f0 + beta * dvs, 0.01)
            sigma = np.full_like(ks, iv)
        else:
            f0 = ctx.spx
            f = np.maximum(f0 + ks * em_points, 0.01)
            sigma = np.maximum(iv + dvs / 100.0, _MIN_SIGMA)
        multiplier = contract.multiplier or CONTRACT_MULTIPLIER
        weights.append(qty * multiplier)
        base_in.append((f0, contract.strike, t, iv, is_call))
        shocked_f.append(f)
        shocked_sigma.append(sigma)
    if weights:
        n = len(ks)
        f0s, strikes, ts, ivs, calls = (np.array(column) for column in zip(*base_in, strict=True))
        prices = black_price(
            np.concatenate([f0s, *shocked_f]),
            np.concatenate([strikes, np.repeat(strikes, n)]),
            np.concatenate([ts, np.repeat(ts, n)]),
            np.concatenate([ivs, *shocked_sigma]),
            np.concatenate([calls, np.repeat(calls, n)]),
        )
        legs = len(weights)
        base = prices[:legs].tolist()
        for i, weight in enumerate(weights):
            shocked = prices[legs + i * n : legs + (i + 1) * n]
            total += weight * (shocked - base[i])
    cells = {(float(k), float(v)): float(p) for k, v, p in zip(ks, dvs, total, strict=True)}
    return cells, tuple(unpriced)


@pytest.mark.parametrize("seed", range(3))
def test_scenario_pnl_is_the_leg_by_leg_computation(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    for _ in range(300):
        holdings, quotes, ctx = _book(rng)
        em = float(rng.uniform(0, 400))
        ours = scenario_pnl(holdings, quotes, ctx, SPOT_MOVES, VOL_SHIFTS, em)
        ref = _reference_scenario_pnl(holdings, quotes, ctx, SPOT_MOVES, VOL_SHIFTS, em)
        assert repr(ours) == repr(ref)
        one = scenario_pnl(holdings, quotes, ctx, (-2.0,), (10.0,), em)
        assert repr(one) == repr(
            _reference_scenario_pnl(holdings, quotes, ctx, (-2.0,), (10.0,), em)
        )


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
