"""OrderPolicy: opening orders keep the band, risk-reducing ones may go to the natural.

The replay's fill model at natural fills (share 1 of the half spread) fills a
combo exactly at the natural price of its legs; a close bounded by the band
is cancelled there whenever the spreads exceed the band, and the structure
rides to expiry. These tests pin both sides of the rule and the live walk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from daemon.brokers.base import ComboOrder, OrderStatus
from daemon.brokers.fill_model import SimulationCosts, simulate_fill
from daemon.brokers.ib.orders import walk_prices
from daemon.config import load_config
from daemon.execution import OrderPolicy
from strategies.domain import (
    Action,
    Decision,
    Leg,
    LegQuote,
    OptionContract,
    Right,
    Structure,
    natural_price,
)

EXPIRY = date(2024, 3, 15)
NOW = datetime(2024, 2, 1, 20, 0, tzinfo=UTC)


def _c(strike: float, right: Right) -> OptionContract:
    return OptionContract("SPX", "SPXW", EXPIRY, strike, right)


def _q(contract: OptionContract, bid: float, ask: float) -> LegQuote:
    return LegQuote(contract, bid, ask, 0.2, 0.0, 0.0, 0.0, 0.0)


LP, SP, SC, LC = (
    _c(4800, Right.PUT),
    _c(4850, Right.PUT),
    _c(5150, Right.CALL),
    _c(5200, Right.CALL),
)
#: A threatened condor near a stop: wide quotes (ask - bid 0.60 on each short).
QUOTES = {
    LP: _q(LP, 1.00, 1.40),
    SP: _q(SP, 6.70, 7.30),
    SC: _q(SC, 0.40, 0.60),
    LC: _q(LC, 0.05, 0.15),
}
OPENING = (Leg(LP, 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
CLOSING = tuple(Leg(leg.contract, -leg.ratio) for leg in OPENING)
NATURAL_COSTS = SimulationCosts(slippage_pct_of_half_spread=1.0)


def _mid(legs: tuple[Leg, ...]) -> float:
    return round(sum(leg.ratio * QUOTES[leg.contract].mid for leg in legs), 2)


#: The band's bound for the close at its mid (6.20 + 10%).
BAND_CLOSE = OrderPolicy().worst_price(_mid(CLOSING))


def _decision(action: Action, legs: tuple[Leg, ...], **kw: object) -> Decision:
    return Decision(
        "test",
        action,
        Structure.CONDOR,
        "test",
        {},
        legs=legs,
        quantity=1,
        limit_price=_mid(legs),
        position_id=None if action is Action.OPEN else "p1",
        natural_price=natural_price(legs, QUOTES),
        **kw,  # type: ignore[arg-type]
    )


def _fill(order_worst: float, legs: tuple[Leg, ...]) -> OrderStatus:
    order = ComboOrder("ref", legs, 1, _mid(legs), order_worst)
    quotes = [QUOTES[leg.contract] for leg in legs]
    return simulate_fill(order, quotes, NATURAL_COSTS, lambda: "x", NOW).status


def test_natural_price_buys_at_the_ask_and_sells_at_the_bid() -> None:
    # close: buy SP 7.30, SC 0.60; sell LP 1.00, LC 0.05
    assert natural_price(CLOSING, QUOTES) == pytest.approx(7.30 + 0.60 - 1.00 - 0.05)
    # a sold leg without a bid counts 0; a bought leg without an ask has no natural
    no_bid = {**QUOTES, LC: _q(LC, -1.0, 0.05)}
    assert natural_price(CLOSING, no_bid) == pytest.approx(7.30 + 0.60 - 1.00)
    no_ask = {**QUOTES, SP: _q(SP, 6.70, float("nan"))}
    assert natural_price(CLOSING, no_ask) is None
    assert natural_price(CLOSING, {LP: QUOTES[LP]}) is None


def test_close_at_natural_fill_share_fills_instead_of_being_cancelled() -> None:
    close = _decision(Action.CLOSE, CLOSING)
    band = OrderPolicy(close_concession="band")
    # natural 6.85 is 0.65 above the 6.20 mid: beyond the band (0.62)
    assert _fill(band.worst_for(close), CLOSING) is OrderStatus.CANCELLED
    policy = OrderPolicy()
    worst = policy.worst_for(close)
    assert worst == pytest.approx(natural_price(CLOSING, QUOTES) + policy.natural_margin)
    assert _fill(worst, CLOSING) is OrderStatus.FILLED


def test_an_opening_order_keeps_the_band() -> None:
    policy = OrderPolicy()
    for action in (Action.OPEN, Action.ROLL):
        opening = _decision(action, OPENING)
        assert opening.limit_price is not None
        assert policy.worst_for(opening) == pytest.approx(policy.worst_price(opening.limit_price))
        # at natural fills the credit is too thin for the band: not filled
        assert _fill(policy.worst_for(opening), OPENING) is OrderStatus.CANCELLED


def test_adjust_follows_its_own_key_and_resting_or_unpriced_closes_keep_the_band() -> None:
    adjust = _decision(Action.ADJUST, CLOSING)
    natural = natural_price(CLOSING, QUOTES)
    assert natural is not None
    band = OrderPolicy()  # the default: a wing shift keeps the band
    assert band.worst_for(adjust) == pytest.approx(band.worst_price(_mid(CLOSING)))
    assert OrderPolicy(adjust_concession="natural").worst_for(adjust) == pytest.approx(
        natural + 0.10
    )
    resting = _decision(Action.CLOSE, CLOSING, resting=True)
    assert OrderPolicy().worst_for(resting) == pytest.approx(BAND_CLOSE)
    unpriced = Decision(
        "test", Action.CLOSE, Structure.CONDOR, "t", {}, legs=CLOSING, quantity=1,
        limit_price=_mid(CLOSING), position_id="p1",
    )  # fmt: skip
    assert OrderPolicy().worst_for(unpriced) == pytest.approx(BAND_CLOSE)


def test_natural_never_tightens_the_band() -> None:
    # tight quotes: natural + margin is better than the band; the band stays the bound
    tight = {c: _q(c, q.mid - 0.01, q.mid + 0.01) for c, q in QUOTES.items()}
    close = Decision(
        "test", Action.CLOSE, Structure.CONDOR, "t", {}, legs=CLOSING, quantity=1,
        limit_price=_mid(CLOSING), position_id="p1", natural_price=natural_price(CLOSING, tight),
    )  # fmt: skip
    assert OrderPolicy().worst_for(close) == pytest.approx(BAND_CLOSE)


def test_live_walk_stops_at_the_natural_bound() -> None:
    close = _decision(Action.CLOSE, CLOSING)
    assert close.limit_price is not None
    worst = OrderPolicy().worst_for(close)
    walk = walk_prices(close.limit_price, worst, 0.05)
    assert walk[0] == close.limit_price and walk[-1] == pytest.approx(worst)
    assert all(p <= worst + 1e-9 for p in walk)


def test_config_keys_build_the_policy(tmp_path: object) -> None:
    assert load_config(None).broker.order_policy() == OrderPolicy()
