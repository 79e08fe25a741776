"""strategies.planner: exit valuation, expiry, and closes sized from what is held."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from strategies.condor import plan_condor_exit
from strategies.domain import Action, Leg, LegQuote, OptionContract, Right, Structure
from strategies.execution import Fill
from strategies.hedge import round_vix_price
from strategies.plan import Plan
from strategies.planner import (
    FLATTEN_RULE,
    SETTLEMENT_RULE,
    exit_quote,
    plan_exit,
    plan_flatten,
)
from strategies.portfolio import Portfolio, StructurePosition
from strategies.rules import CondorRules, HedgeRules

SESSION = date(2023, 2, 15)
NOW = datetime(2023, 2, 15, 20, 45, tzinfo=UTC)
NAN = math.nan


def _c(strike: float, right: Right, expiry: date) -> OptionContract:
    return OptionContract("SPX", "SPXW", expiry, strike, right)


def _condor_legs(expiry: date) -> tuple[Leg, ...]:
    return (
        Leg(_c(3850, Right.PUT, expiry), 1),
        Leg(_c(3900, Right.PUT, expiry), -1),
        Leg(_c(4100, Right.CALL, expiry), -1),
        Leg(_c(4150, Right.CALL, expiry), 1),
    )


_exec_ids = iter(range(1, 1_000_000))


def _fill(ref: str, contract: OptionContract, qty: int, price: float) -> Fill:
    return Fill(f"e{next(_exec_ids)}", ref, contract, qty, price, 1.31 * abs(qty), NOW)


OPEN_PRICES = (2.0, 3.5, 3.0, 1.6)  # per leg, in leg order: a 2.90 credit


def _held_condor(book: Portfolio, units: int, expiry: date, sid: str = "c1") -> StructurePosition:
    legs = _condor_legs(expiry)
    position = book.register(sid, Structure.CONDOR, legs, SESSION - timedelta(days=12))
    for leg, price in zip(legs, OPEN_PRICES, strict=True):
        book.apply_fill(_fill(sid, leg.contract, leg.ratio * units, price))
    return position


def _q(contract: OptionContract, bid: float, ask: float) -> LegQuote:
    return LegQuote(contract, bid, ask, 0.2, 0.1, 0.001, 0.5, -0.1)


def _exit(position: StructurePosition, quotes: dict[OptionContract, LegQuote]) -> Plan:
    return plan_exit(position, quotes, SESSION, CondorRules(), HedgeRules(), condor_open=True)


# -- exit_quote ------------------------------------------------------------------------------

CONTRACT = _c(4150, Right.CALL, SESSION)


def test_exit_quote_leaves_a_two_sided_quote_alone() -> None:
    quote = _q(CONTRACT, 0.10, 0.20)
    assert exit_quote(quote, 1) is quote
    assert exit_quote(quote, -1) is quote
    zero_bid = _q(CONTRACT, 0.0, 0.05)
    assert exit_quote(zero_bid, 1) is zero_bid


@pytest.mark.parametrize("bid", [NAN, -1.0, math.inf])
@pytest.mark.parametrize("ratio", [1, -1])
def test_no_bid_is_valued_at_a_bid_of_zero(bid: float, ratio: int) -> None:
    valued = exit_quote(_q(CONTRACT, bid, 0.05), ratio)
    assert valued.bid == 0.0
    assert valued.ask == 0.05
    assert valued.mid == pytest.approx(0.025)
    # everything else is kept
    assert valued.contract == CONTRACT and valued.vega == 0.5


def test_long_leg_without_an_ask_is_worth_its_bid() -> None:
    valued = exit_quote(_q(CONTRACT, 0.30, NAN), 1)
    assert (valued.bid, valued.ask, valued.mid) == (0.30, 0.30, 0.30)
    nothing = exit_quote(_q(CONTRACT, NAN, NAN), 1)
    assert (nothing.bid, nothing.ask, nothing.mid) == (0.0, 0.0, 0.0)


def test_short_leg_without_an_ask_cannot_be_priced() -> None:
    valued = exit_quote(_q(CONTRACT, NAN, NAN), -1)
    assert valued.bid == 0.0
    assert math.isnan(valued.ask) and math.isnan(valued.mid)
    assert math.isnan(exit_quote(_q(CONTRACT, 0.3, NAN), -1).mid)


def test_exit_quote_never_leaves_the_ask_below_the_bid() -> None:
    valued = exit_quote(_q(CONTRACT, NAN, -0.5), 1)
    assert valued.bid == 0.0 and valued.ask == 0.0


# -- condor exits ----------------------------------------------------------------------------


def _quotes_no_bid_wings(legs: tuple[Leg, ...], wing_ask: float) -> dict[OptionContract, LegQuote]:
    lp, sp, sc, lc = (leg.contract for leg in legs)
    return {
        lp: _q(lp, NAN, wing_ask),
        sp: _q(sp, 0.10, 0.20),
        sc: _q(sc, 0.10, 0.20),
        lc: _q(lc, NAN, wing_ask),
    }


@pytest.mark.parametrize("wing_ask", [0.05, NAN])
def test_condor_at_the_dte_floor_with_bidless_wings_closes(wing_ask: float) -> None:
    book = Portfolio()
    position = _held_condor(book, 6, SESSION + timedelta(days=2))
    quotes = _quotes_no_bid_wings(position.legs, wing_ask)

    # The old valuation (raw quotes) cannot price the wings and would hold.
    assert plan_condor_exit(position.view(), quotes, SESSION, CondorRules()).action is Action.HOLD

    plan = _exit(position, quotes)
    [decision] = plan.decisions
    assert decision.action is Action.CLOSE
    assert decision.position_id == "c1"
    assert decision.quantity == 6
    assert decision.legs == tuple(Leg(leg.contract, -leg.ratio) for leg in position.legs)
    assert "DTE floor" in decision.reason
    wing_mid = 0.0 if math.isnan(wing_ask) else wing_ask / 2
    debit = 0.15 + 0.15 - 2 * wing_mid
    assert decision.inputs["debit"] == pytest.approx(debit)
    assert decision.limit_price == pytest.approx(round(debit / 0.05) * 0.05)


def test_expired_condor_holds_for_its_settlement() -> None:
    book = Portfolio()
    expiry = SESSION - timedelta(days=1)
    position = _held_condor(book, 6, expiry)
    # No quotes at all: an expired option is not quoted; still no exception.
    plan = _exit(position, {})
    [decision] = plan.decisions
    assert decision.action is Action.HOLD
    assert decision.rule == SETTLEMENT_RULE
    assert decision.position_id == "c1"
    assert "waiting for its settlement" in decision.reason
    assert decision.inputs["expiry"] == expiry.isoformat()
    assert not plan.trades


def test_condor_expiring_today_is_still_closed_not_held() -> None:
    book = Portfolio()
    position = _held_condor(book, 2, SESSION)
    plan = _exit(position, _quotes_no_bid_wings(position.legs, 0.05))
    [decision] = plan.decisions
    assert decision.action is Action.CLOSE and decision.quantity == 2


def test_partial_holding_is_closed_for_exactly_what_is_held() -> None:
    book = Portfolio()
    position = _held_condor(book, 6, SESSION + timedelta(days=2))
    book.route("close-1", "c1")
    for leg in position.legs:  # the first close filled 2 of 6
        book.apply_fill(_fill("close-1", leg.contract, -leg.ratio * 2, 0.5))
    assert position.held_units == 4 and position.open_units == 6

    plan = _exit(position, _quotes_no_bid_wings(position.legs, 0.05))
    [decision] = plan.decisions
    assert decision.action is Action.CLOSE
    assert decision.quantity == 4
    assert decision.inputs["quantity"] == 4
    # sized from held, priced from the opening fills
    assert decision.inputs["credit"] == pytest.approx(2.90)


def test_uneven_legs_are_flattened_one_single_leg_order_per_contract() -> None:
    book = Portfolio()
    position = _held_condor(book, 3, SESSION + timedelta(days=5))
    lp, sp, sc, lc = (leg.contract for leg in position.legs)
    book.route("close-1", "c1")
    book.apply_fill(_fill("close-1", sp, 3, 0.5))  # short put bought back in full
    book.apply_fill(_fill("close-1", lp, -1, 0.1))  # one long put sold
    assert position.held == {lp: 2, sp: 0, sc: -3, lc: 3}
    quotes = {
        lp: _q(lp, NAN, 0.10),  # no bid: valued at 0
        sp: _q(sp, 0.4, 0.6),
        sc: _q(sc, 1.0, 1.2),
        lc: _q(lc, 0.3, 0.5),
    }

    plan = _exit(position, quotes)
    assert plan.rule == FLATTEN_RULE
    steps = plan.decisions
    assert all(d.action is Action.CLOSE and d.position_id == "c1" for d in steps)
    assert all(len(d.legs) == 1 for d in steps)
    got = {d.legs[0].contract: (d.legs[0].ratio, d.quantity, d.limit_price) for d in steps}
    assert got == {
        sc: (1, 3, pytest.approx(1.10)),  # buy back 3 short calls at their mid
        lc: (-1, 3, pytest.approx(-0.40)),  # sell 3 long calls, a credit
        lp: (-1, 2, pytest.approx(-0.05)),  # sell 2 long puts: mid 0.05 rounds to a tick
    }
    assert sp not in got  # nothing held, nothing traded


def test_flatten_holds_when_a_leg_cannot_be_priced() -> None:
    book = Portfolio()
    position = _held_condor(book, 3, SESSION + timedelta(days=5))
    lp, sp, sc, lc = (leg.contract for leg in position.legs)
    book.route("close-1", "c1")
    book.apply_fill(_fill("close-1", sp, 3, 0.5))
    quotes = {lp: _q(lp, 0.1, 0.2), sc: _q(sc, 1.0, NAN), lc: _q(lc, 0.3, 0.5)}
    [decision] = plan_flatten(position, quotes, "uneven").decisions
    assert decision.action is Action.HOLD
    assert decision.rule == FLATTEN_RULE
    assert "cannot price" in decision.reason


# -- hedge exits -----------------------------------------------------------------------------


def test_hedge_exit_is_sized_from_what_is_held() -> None:
    call = OptionContract("VIX", "VIX", SESSION + timedelta(days=5), 25.0, Right.CALL)
    book = Portfolio()
    layer = book.register("h1", Structure.HEDGE_LAYER, (Leg(call, 1),), SESSION, tag="rung-1")
    book.apply_fill(_fill("h1", call, 19, 1.50))
    book.route("close-1", "h1")
    book.apply_fill(_fill("close-1", call, -9, 0.80))  # a close that filled 9 of 19
    assert layer.held == {call: 10}

    [decision] = _exit(layer, {call: _q(call, NAN, 0.30)}).decisions
    assert decision.action is Action.CLOSE
    assert decision.structure is Structure.HEDGE_LAYER
    assert decision.position_id == "h1"
    assert decision.quantity == 10
    assert decision.legs == (Leg(call, -1),)
    # no bid: valued at (0 + 0.30) / 2 = 0.15, sold for a credit
    assert decision.limit_price == pytest.approx(-round_vix_price(0.15))


def test_hedge_without_a_quote_holds() -> None:
    call = OptionContract("VIX", "VIX", SESSION + timedelta(days=5), 25.0, Right.CALL)
    book = Portfolio()
    layer = book.register("h1", Structure.HEDGE_LAYER, (Leg(call, 1),), SESSION)
    book.apply_fill(_fill("h1", call, 4, 1.50))
    [decision] = _exit(layer, {}).decisions
    assert decision.action is Action.HOLD and decision.position_id == "h1"
