"""strategies.adjustments: the wing shift and the condor roll, with inputs that do and do not
trigger them, and the order of the manage rules (exits first, then roll, then shift)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from strategies.adjustments import (
    ROLL_RULE,
    WING_SHIFT_RULE,
    AdjustData,
    ChainRequest,
    MarketRequest,
    condor_sides,
    plan_condor_manage,
    roll_measure,
)
from strategies.condor import EXIT_RULE
from strategies.domain import (
    Action,
    Leg,
    LegQuote,
    MarketContext,
    OptionContract,
    Right,
    Structure,
)
from strategies.execution import Fill
from strategies.plan import Plan
from strategies.portfolio import Portfolio, StructurePosition, adjusted_legs
from strategies.rules import AdjustRules, CondorRules, HedgeRules
from tests.daemon.scripted_broker import condor_chain

SESSION = date(2023, 2, 3)
EXPIRY = date(2023, 2, 17)  # 14 DTE
NOW = datetime(2023, 2, 3, 20, 30, tzinfo=UTC)
UNITS = 5


def _c(strike: float, right: Right, expiry: date = EXPIRY) -> OptionContract:
    return OptionContract("SPX", "SPXW", expiry, strike, right)


LP, SP, SC, LC = (
    _c(3850, Right.PUT),
    _c(3900, Right.PUT),
    _c(4100, Right.CALL),
    _c(4150, Right.CALL),
)
NEW_SP, NEW_LP = _c(3890, Right.PUT), _c(3840, Right.PUT)
LEGS = (Leg(LP, 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
VIX = OptionContract("VIX", "VIX", date(2023, 4, 19), 22.0, Right.CALL)

_ids = iter(range(1, 1_000_000))


def _fill(ref: str, contract: OptionContract, qty: int, price: float) -> Fill:
    return Fill(f"e{next(_ids)}", ref, contract, qty, price, 0.0, NOW)


def _q(contract: OptionContract, mid: float, delta: float) -> LegQuote:
    return LegQuote(contract, mid - 0.05, mid + 0.05, 0.2, delta, 0.001, 1.0, -0.1)


def _condor(book: Portfolio) -> StructurePosition:
    """5 condors opened for a 2.90 credit (C = $1,450); no commissions."""
    position = book.register("c1", Structure.CONDOR, LEGS, SESSION - timedelta(days=1))
    for leg, price in zip(LEGS, (2.0, 3.5, 3.0, 1.6), strict=True):
        book.apply_fill(_fill("c1", leg.contract, leg.ratio * UNITS, price))
    return position


def _quotes(sp_mid: float, sp_delta: float, lp_mid: float = 4.0) -> dict[OptionContract, LegQuote]:
    """Put side under pressure; the call side quiet (short call 1.00, long call 0.30)."""
    return {
        LP: _q(LP, lp_mid, -0.15),
        SP: _q(SP, sp_mid, sp_delta),
        SC: _q(SC, 1.0, 0.08),
        LC: _q(LC, 0.3, 0.03),
    }


#: |delta| 0.35 on the short put, debit 3.70 (L = $400 < 0.9 C): the wing shift.
THREATENED = _quotes(7.0, -0.35)
#: debit 5.70 (L = $1,400 > 0.9 C = $1,305, below the stop's $1,450): the roll.
LOSING = _quotes(10.0, -0.45, lp_mid=5.0)
SHIFT_QUOTES = {NEW_SP: _q(NEW_SP, 6.0, -0.31), NEW_LP: _q(NEW_LP, 3.5, -0.14)}


def _manage(
    position: StructurePosition,
    quotes: dict[OptionContract, LegQuote],
    rules: AdjustRules | None = None,
    hedges: tuple[StructurePosition, ...] = (),
    data: AdjustData | None = None,
) -> Plan | MarketRequest:
    return plan_condor_manage(
        position,
        quotes,
        SESSION,
        CondorRules(),
        HedgeRules(),
        rules or AdjustRules(),
        hedges,
        data,
    )


def _plan(outcome: Plan | MarketRequest) -> Plan:
    assert isinstance(outcome, Plan), outcome
    return outcome


# -- wing shift -------------------------------------------------------------------------------


def test_a_threatened_short_asks_for_the_shifted_strikes_then_shifts_the_side() -> None:
    position = _condor(Portfolio())
    request = _manage(position, THREATENED)
    assert isinstance(request, MarketRequest)
    assert request.chain is None and request.contracts == (NEW_SP, NEW_LP)

    plan = _plan(_manage(position, THREATENED, data=AdjustData(quotes=SHIFT_QUOTES)))
    [adjust] = plan.decisions
    assert (adjust.rule, adjust.action, adjust.position_id) == (
        WING_SHIFT_RULE,
        Action.ADJUST,
        "c1",
    )
    # buy back the short put, sell the long put, sell the new short, buy the new wing
    assert adjust.legs == (Leg(SP, 1), Leg(LP, -1), Leg(NEW_SP, -1), Leg(NEW_LP, 1))
    assert adjust.quantity == UNITS
    # net mid 7.00 - 4.00 - 6.00 + 3.50 = 0.50 debit, on the 0.05 tick
    assert adjust.limit_price == pytest.approx(0.50)
    assert adjust.inputs["side"] == "put"
    assert adjust.inputs["short_abs_delta"] == pytest.approx(0.35)
    assert adjust.inputs["new_short_strike"] == 3890 and adjust.inputs["new_long_strike"] == 3840
    assert adjust.inputs["wing_width"] == 50
    assert "debit" in adjust.inputs  # the exit rule's numbers come along
    # the legs after it: still a plain condor, the width kept
    sides = condor_sides(adjusted_legs(position.legs, adjust.legs))
    assert sides is not None
    assert (sides[Right.PUT].short, sides[Right.PUT].long) == (NEW_SP, NEW_LP)


def test_the_limit_is_rounded_to_the_combo_tick() -> None:
    position = _condor(Portfolio())
    quotes = {**SHIFT_QUOTES, NEW_SP: _q(NEW_SP, 5.97, -0.31)}
    [adjust] = _plan(_manage(position, THREATENED, data=AdjustData(quotes=quotes))).decisions
    assert adjust.inputs["net_mid"] == pytest.approx(0.53)
    assert adjust.limit_price == pytest.approx(0.55)


def test_a_call_side_shift_moves_up() -> None:
    position = _condor(Portfolio())
    quotes = {
        LP: _q(LP, 0.3, -0.03),
        SP: _q(SP, 1.0, -0.08),
        SC: _q(SC, 6.0, 0.38),
        LC: _q(LC, 3.0, 0.15),
    }
    request = _manage(position, quotes)
    assert isinstance(request, MarketRequest)
    assert [c.strike for c in request.contracts] == [4110.0, 4160.0]
    assert all(c.right is Right.CALL for c in request.contracts)


def test_a_short_below_the_threshold_is_left_alone() -> None:
    position = _condor(Portfolio())
    plan = _plan(_manage(position, _quotes(4.0, -0.22, lp_mid=1.5)))
    [hold] = plan.decisions
    assert (hold.rule, hold.action) == (EXIT_RULE, Action.HOLD)
    assert hold.inputs["roll_loss_dollars"] < hold.inputs["roll_threshold_dollars"]


def test_wing_shift_switched_off_holds() -> None:
    position = _condor(Portfolio())
    plan = _plan(_manage(position, THREATENED, AdjustRules(wing_shift_enabled=False)))
    assert [(d.rule, d.action) for d in plan.decisions] == [(EXIT_RULE, Action.HOLD)]


def test_no_shift_past_the_cap() -> None:
    position = _condor(Portfolio())
    position.adjustments = 2
    plan = _plan(_manage(position, THREATENED, data=AdjustData(quotes=SHIFT_QUOTES)))
    [hold] = plan.decisions
    assert (hold.rule, hold.action) == (WING_SHIFT_RULE, Action.HOLD)
    assert "the cap is 2" in hold.reason
    assert not plan.trades


def test_a_shift_that_cannot_be_priced_holds() -> None:
    position = _condor(Portfolio())
    no_bid = {**SHIFT_QUOTES, NEW_LP: replace(SHIFT_QUOTES[NEW_LP], bid=math.nan)}
    [hold] = _plan(_manage(position, THREATENED, data=AdjustData(quotes=no_bid))).decisions
    assert (hold.rule, hold.action) == (WING_SHIFT_RULE, Action.HOLD)
    assert "no two-sided quote" in hold.reason and "3840" in hold.reason
    failed = AdjustData(quote_error="IB did not answer")
    [hold] = _plan(_manage(position, THREATENED, data=failed)).decisions
    assert "IB did not answer" in hold.reason


def test_never_a_shift_that_leaves_a_short_without_its_wing() -> None:
    # A condor whose put wing is already the strike below the short: a 10-point
    # shift of a 5-wide side moves the short onto the old long; still defined risk.
    legs = (Leg(_c(3895, Right.PUT), 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
    after = adjusted_legs(
        legs,
        (Leg(SP, 1), Leg(_c(3895, Right.PUT), -1), Leg(NEW_SP, -1), Leg(_c(3885, Right.PUT), 1)),
    )
    assert condor_sides(after) is not None
    # Selling a put with no long below it is never a condor.
    naked = (Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
    assert condor_sides(naked) is None
    inverted = (Leg(_c(3950, Right.PUT), 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))
    assert condor_sides(inverted) is None


# -- roll -------------------------------------------------------------------------------------


def _chain_data() -> AdjustData:
    later = EXPIRY + timedelta(days=7)
    return AdjustData(
        ctx=MarketContext(SESSION, 4000.0, 18.0), chain=tuple(condor_chain(SESSION, later))
    )


def test_roll_measure_is_loss_less_rung_gain_against_the_credit() -> None:
    book = Portfolio()
    position = _condor(book)
    measure = roll_measure(position, LOSING, (), SESSION)
    assert measure is not None
    assert measure.credit == pytest.approx(1450.0)
    assert measure.loss == pytest.approx((5.70 - 2.90) * 500)
    assert measure.rung_gain == 0.0
    assert measure.triggers(AdjustRules())
    assert not measure.triggers(AdjustRules(roll_trigger=0.97))


def test_a_losing_condor_asks_for_a_later_chain_then_rolls_close_first() -> None:
    position = _condor(Portfolio())
    request = _manage(position, LOSING)
    assert isinstance(request, MarketRequest)
    assert request.chain == ChainRequest("SPX", "SPXW", 15, 21)  # later than 14 DTE

    plan = _plan(_manage(position, LOSING, data=_chain_data()))
    close, roll = plan.decisions
    assert plan.rule == ROLL_RULE
    assert (close.action, close.position_id, close.quantity) == (Action.CLOSE, "c1", UNITS)
    assert close.legs == tuple(Leg(leg.contract, -leg.ratio) for leg in LEGS)
    assert close.limit_price == pytest.approx(5.70)
    assert (roll.action, roll.position_id, roll.quantity) == (Action.ROLL, "c1", UNITS)
    assert {leg.contract.expiry for leg in roll.legs} == {EXPIRY + timedelta(days=7)}
    assert [(leg.contract.strike, leg.ratio) for leg in roll.legs] == [
        (3850, 1), (3900, -1), (4100, -1), (4150, 1),
    ]  # fmt: skip
    assert roll.limit_price == pytest.approx(-2.90)
    assert roll.inputs["roll_loss_dollars"] == pytest.approx(1400.0)
    assert roll.inputs["roll_threshold_dollars"] == pytest.approx(1305.0)


def _rung(book: Portfolio, tag: str, gain: float) -> StructurePosition:
    rung = book.register(f"h-{tag}", Structure.HEDGE_LAYER, (Leg(VIX, 1),), SESSION, tag=tag)
    book.apply_fill(_fill(rung.id, VIX, 10, 1.0))
    rung.cash_flow += gain  # as if the calls had been bought for less
    return rung


def test_rung_gains_that_cover_the_loss_prevent_the_roll() -> None:
    book = Portfolio()
    position = _condor(book)
    hedge_quotes = {**LOSING, VIX: _q(VIX, 1.0, 0.4)}
    covered = (_rung(book, "rung-1", 300.0), _rung(book, "rung-2", 100.0))
    # L - G = 1400 - 400 = 1000 < 1305: no roll; the short put is threatened: shift
    outcome = _manage(position, hedge_quotes, hedges=covered)
    assert isinstance(outcome, MarketRequest) and outcome.chain is None
    # a third rung or a recycle layer does not count
    others = (_rung(book, "rung-3", 5000.0), _rung(book, "recycle", 5000.0))
    request = _manage(position, hedge_quotes, hedges=others)
    assert isinstance(request, MarketRequest) and request.chain is not None


def test_roll_switched_off_leaves_the_wing_shift() -> None:
    position = _condor(Portfolio())
    outcome = _manage(position, LOSING, AdjustRules(roll_enabled=False))
    assert isinstance(outcome, MarketRequest) and outcome.chain is None


def test_a_roll_without_a_later_expiry_falls_back_to_the_shift_then_holds() -> None:
    position = _condor(Portfolio())
    empty = AdjustData(ctx=MarketContext(SESSION, 4000.0, 18.0), chain=())
    outcome = _manage(position, LOSING, data=empty)
    assert isinstance(outcome, MarketRequest) and outcome.contracts  # the shift's quotes
    both_off = AdjustRules(wing_shift_enabled=False)
    [hold] = _plan(_manage(position, LOSING, both_off, data=empty)).decisions
    assert (hold.rule, hold.action) == (ROLL_RULE, Action.HOLD)
    assert "no SPXW expiry after 2023-02-17" in hold.reason


# -- the order of the rules -------------------------------------------------------------------


def test_the_stop_comes_before_the_roll() -> None:
    position = _condor(Portfolio())
    stopped = _quotes(12.0, -0.55, lp_mid=5.0)  # debit 7.40 >= 2 x 2.90
    [close] = _plan(_manage(position, stopped)).decisions
    assert (close.rule, close.action) == (EXIT_RULE, Action.CLOSE)
    assert "stop" in close.reason


def test_the_dte_floor_comes_before_the_shift() -> None:
    position = _condor(Portfolio())
    late = SESSION + timedelta(days=12)  # 2 DTE
    outcome = plan_condor_manage(
        position, THREATENED, late, CondorRules(), HedgeRules(), AdjustRules(), ()
    )
    [close] = _plan(outcome).decisions
    assert close.action is Action.CLOSE and "DTE floor" in close.reason


def test_an_uneven_condor_is_flattened_not_adjusted() -> None:
    book = Portfolio()
    position = _condor(book)
    book.route("adj", "c1")
    book.apply_fill(_fill("adj", SP, UNITS, 7.0))  # half an adjustment
    plan = _plan(_manage(position, THREATENED))
    assert plan.rule == "flatten_uneven"
    assert all(d.action is Action.CLOSE and len(d.legs) == 1 for d in plan.decisions)


def test_the_shift_keeps_the_stop_at_the_same_total_loss() -> None:
    # After a shift that cost 0.50, the stop still fires at a total loss of one
    # opening credit: effective debit (debit + 0.50) >= 2 x 2.90.
    book = Portfolio()
    position = _condor(book)
    adjust = (Leg(SP, 1), Leg(LP, -1), Leg(NEW_SP, -1), Leg(NEW_LP, 1))
    book.expect_adjustment("adj", "c1", adjust, UNITS)
    for leg, price in zip(adjust, (7.0, 4.0, 6.0, 3.5), strict=True):
        book.apply_fill(_fill("adj", leg.contract, leg.ratio * UNITS, price))
    assert position.adjusted_price == pytest.approx(0.50)
    assert position.open_price == pytest.approx(-2.40)
    quotes = {
        NEW_LP: _q(NEW_LP, 4.0, -0.2), NEW_SP: _q(NEW_SP, 8.7, -0.4),
        SC: _q(SC, 0.6, 0.05), LC: _q(LC, 0.1, 0.01),
    }  # fmt: skip
    [hold] = _plan(
        _manage(position, quotes, AdjustRules(roll_enabled=False, max_shifts=1))
    ).decisions
    assert hold.inputs["debit"] == pytest.approx(5.2)  # + 0.50 = 5.70 < 5.80
    assert hold.action is Action.HOLD
    quotes[NEW_SP] = _q(NEW_SP, 8.9, -0.4)  # 5.40 + 0.50 = 5.90
    [close] = _plan(_manage(position, quotes)).decisions
    assert close.action is Action.CLOSE and "stop" in close.reason
    assert "adjustments 0.50" in close.reason
