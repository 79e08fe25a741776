"""Unit tests of strategies.portfolio (held quantities, P&L, settlement, closes) and OrderPolicy."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from daemon.clock import NEW_YORK
from daemon.execution import OrderPolicy
from strategies.domain import Leg, LegQuote, OptionContract, Right, Structure
from strategies.execution import Fill, Settlement
from strategies.portfolio import Portfolio, StructurePosition

EXPIRY = date(2020, 2, 14)
NOW = datetime(2020, 2, 3, 15, 30, tzinfo=NEW_YORK)


def _c(strike: float, right: Right, expiry: date = EXPIRY) -> OptionContract:
    return OptionContract("SPX", "SPXW", expiry, strike, right)


LP, SP, SC, LC = (
    _c(3100, Right.PUT),
    _c(3150, Right.PUT),
    _c(3400, Right.CALL),
    _c(3450, Right.CALL),
)
CONDOR_LEGS = (Leg(LP, 1), Leg(SP, -1), Leg(SC, -1), Leg(LC, 1))


OPENED = date(2020, 2, 3)
CALL = OptionContract("VIX", "VIX", date(2020, 3, 18), 20.0, Right.CALL)


def _condor(book: Portfolio, sid: str, legs: tuple[Leg, ...] = CONDOR_LEGS) -> StructurePosition:
    return book.register(sid, Structure.CONDOR, legs, OPENED)


def _hedge(book: Portfolio, sid: str) -> StructurePosition:
    return book.register(sid, Structure.HEDGE_LAYER, (Leg(CALL, 1),), OPENED)


_exec = iter(range(1, 10_000))


def _fill(ref: str, contract: OptionContract, qty: int, price: float, comm: float = 1.31) -> Fill:
    return Fill(f"e{next(_exec)}", ref, contract, qty, price, comm, NOW)


def _quote(contract: OptionContract, bid: float, ask: float) -> LegQuote:
    return LegQuote(contract, bid, ask, 0.2, 0.1, 0.0, 0.0, 0.0)


# -- fills --------------------------------------------------------------------------------


def test_fill_attributed_by_order_ref() -> None:
    book = Portfolio()
    a = _condor(book, "a")
    b = _condor(book, "b")
    book.route("close-a", "a")

    assert book.apply_fill(_fill("a", SP, -2, 3.0, comm=2.62)) is a
    assert a.held == {SP: -2}
    assert a.cash_flow == pytest.approx(2 * 3.0 * 100 - 2.62)
    assert a.commissions == pytest.approx(2.62)
    assert b.held == {} and b.cash_flow == 0.0

    # A closing order's fills go to the structure it closes.
    assert book.apply_fill(_fill("close-a", SP, 2, 1.0, comm=2.62)) is a
    assert a.held == {SP: 0}
    assert a.cash_flow == pytest.approx(600 - 2.62 - 200 - 2.62)
    assert a.commissions == pytest.approx(5.24)
    assert a.is_flat


def test_fill_for_unknown_order_is_ignored() -> None:
    book = Portfolio()
    entry = _condor(book, "a")
    assert book.apply_fill(_fill("nobody", SP, -1, 3.0)) is None
    # An order cannot be routed to a structure the book does not have.
    with pytest.raises(KeyError):
        book.route("gone", "removed")
    assert entry.held == {} and entry.cash_flow == 0.0


def test_full_condor_round_trip_cash_flow() -> None:
    book = Portfolio()
    entry = _condor(book, "a")
    opens = {LP: 0.5, SP: 2.0, SC: 1.8, LC: 0.3}
    for leg in CONDOR_LEGS:
        book.apply_fill(_fill("a", leg.contract, leg.ratio * 2, opens[leg.contract], comm=2.62))
    assert not entry.is_flat
    credit = (2.0 + 1.8 - 0.5 - 0.3) * 2 * 100
    assert entry.cash_flow == pytest.approx(credit - 4 * 2.62)

    quotes = {
        LP: _quote(LP, 0.1, 0.3),
        SP: _quote(SP, 0.9, 1.1),
        SC: _quote(SC, 0.4, 0.6),
        LC: _quote(LC, 0.0, 0.1),
    }
    mark = (0.2 - 1.0 - 0.5 + 0.05) * 2 * 100
    assert entry.mark_value(quotes) == pytest.approx(mark)
    assert entry.pnl(quotes) == pytest.approx(credit - 4 * 2.62 + mark)


def test_is_flat() -> None:
    entry = _condor(Portfolio(), "a")
    assert entry.is_flat
    entry.held = {SP: 0, LP: 0}
    assert entry.is_flat
    entry.held = {SP: 0, LP: 1}
    assert not entry.is_flat
    entry.held = {SP: -1}
    assert not entry.is_flat


def test_mark_value_skips_zero_holdings_without_quotes() -> None:
    entry = _condor(Portfolio(), "a")
    entry.held = {SP: 0, LP: 1}
    # SP is flat and has no quote: it must not be looked up.
    assert entry.mark_value({LP: _quote(LP, 1.0, 2.0)}) == pytest.approx(150.0)


# -- settlements ------------------------------------------------------------------------


def _settle(contract: OptionContract, qty: int, intrinsic: float, price: float) -> Settlement:
    cash = qty * intrinsic * 100
    return Settlement(contract, qty, price, cash, datetime(2020, 2, 14, 16, 0, tzinfo=NEW_YORK))


def test_settlement_split_across_two_structures_holding_the_same_contract() -> None:
    book = Portfolio()
    a = _condor(book, "a")
    b = _condor(book, "b")
    book.apply_fill(_fill("a", SP, -1, 2.0, comm=0.0))
    book.apply_fill(_fill("b", SP, -2, 2.0, comm=0.0))
    a_before, b_before = a.cash_flow, b.cash_flow

    # The broker nets the two shorts: one settlement of -3 contracts, 10 points ITM.
    touched = book.apply_settlement(_settle(SP, -3, 10.0, 3140.0))
    assert touched == [a, b]
    assert a.cash_flow - a_before == pytest.approx(-1_000.0)
    assert b.cash_flow - b_before == pytest.approx(-2_000.0)
    assert a.settlement_cash == pytest.approx(-1_000.0)
    assert b.settlement_cash == pytest.approx(-2_000.0)
    assert a.held[SP] == 0 and b.held[SP] == 0
    assert a.is_flat and b.is_flat


def test_settlement_leaves_structures_without_that_contract_alone() -> None:
    book = Portfolio()
    a = _condor(book, "a")
    h = _hedge(book, "h")
    book.apply_fill(_fill("a", LP, 1, 0.5, comm=0.0))
    assert book.apply_settlement(_settle(LP, 1, 0.0, 3300.0)) == [a]
    assert a.held[LP] == 0
    assert a.settlement_cash == 0.0
    assert h.cash_flow == 0.0 and h.held == {}


def test_worthless_settlement_closes_without_cash() -> None:
    book = Portfolio()
    a = _condor(book, "a")
    book.apply_fill(_fill("a", SC, -2, 1.0, comm=0.0))
    touched = book.apply_settlement(Settlement(SC, -2, 3300.0, 0.0, NOW))
    assert touched == [a]
    assert a.held[SC] == 0
    assert a.cash_flow == pytest.approx(200.0)


def test_settlement_with_opposite_holdings_in_two_structures() -> None:
    # Condor a is long the 3150 put (its wing), condor b is short it: the broker nets
    # +2 and -1 to +1 and settles +1. Each structure's leg must still be settled.
    other = (Leg(_c(3150, Right.PUT), 1), Leg(_c(3200, Right.PUT), -1))
    book = Portfolio()
    a = _condor(book, "a", legs=(*other, *CONDOR_LEGS[2:]))
    b = _condor(book, "b")
    book.apply_fill(_fill("a", SP, 2, 1.0, comm=0.0))
    book.apply_fill(_fill("b", SP, -1, 1.0, comm=0.0))
    book.apply_settlement(_settle(SP, 1, 10.0, 3140.0))
    assert a.held[SP] == 0
    assert b.held[SP] == 0
    assert a.settlement_cash == pytest.approx(2_000.0)
    assert b.settlement_cash == pytest.approx(-1_000.0)


def test_open_positions_by_kind_hold_something() -> None:
    book = Portfolio()
    _condor(book, "a")
    _hedge(book, "h")
    _condor(book, "b")
    # Registered but not filled: nothing is held, nothing is open.
    assert book.open_positions() == []
    book.apply_fill(_fill("a", SP, -1, 2.0))
    book.apply_fill(_fill("h", CALL, 3, 1.5))
    book.apply_fill(_fill("b", SC, -1, 2.0))
    assert [p.id for p in book.open_positions()] == ["a", "h", "b"]
    assert [p.id for p in book.open_positions(Structure.CONDOR)] == ["a", "b"]
    assert [p.id for p in book.open_positions(Structure.HEDGE_LAYER)] == ["h"]
    assert book.net_contracts() == {SP: -1, CALL: 3, SC: -1}
    with pytest.raises(ValueError, match="still holds"):
        book.mark_closed("a", OPENED, "no")


def _open_condor(book: Portfolio, sid: str, units: int) -> StructurePosition:
    position = _condor(book, sid)
    prices = {LP: 0.5, SP: 2.0, SC: 1.8, LC: 0.3}
    for leg in CONDOR_LEGS:
        book.apply_fill(_fill(sid, leg.contract, leg.ratio * units, prices[leg.contract], 0.0))
    return position


def test_open_price_and_units_come_from_the_opening_fills() -> None:
    book = Portfolio()
    a = _open_condor(book, "a", 6)
    assert a.open_units == 6 and a.held_units == 6 and a.is_balanced
    assert a.open_price == pytest.approx(0.5 - 2.0 - 1.8 + 0.3)
    view = a.view()
    assert view.quantity == 6 and view.open_price == pytest.approx(-3.0)


def test_a_partial_close_leaves_a_close_for_exactly_the_rest() -> None:
    # The 6-lot that became -3 then -9 reversed condors: the close must be sized
    # from what is held, not from the quantity at opening.
    book = Portfolio()
    a = _open_condor(book, "a", 6)
    book.route("close-1", "a")
    for leg in CONDOR_LEGS:
        book.apply_fill(_fill("close-1", leg.contract, -leg.ratio * 4, 1.0, 0.0))
    assert a.held_units == 2
    [(legs, units)] = a.closing_orders()
    assert units == 2
    assert legs == tuple(Leg(leg.contract, -leg.ratio) for leg in CONDOR_LEGS)
    book.route("close-2", "a")
    for leg in legs:
        book.apply_fill(_fill("close-2", leg.contract, leg.ratio * units, 1.0, 0.0))
    assert a.is_flat and a.closing_orders() == []


def test_uneven_legs_close_leg_by_leg_for_what_each_holds() -> None:
    book = Portfolio()
    a = _open_condor(book, "a", 3)
    book.route("close-1", "a")
    book.apply_fill(_fill("close-1", SP, 3, 1.0, 0.0))  # the short put bought back only
    book.apply_fill(_fill("close-1", LP, -1, 0.1, 0.0))
    assert not a.is_balanced and a.held_units == 0
    orders = a.closing_orders()
    got = sorted((legs[0].contract.local_symbol, legs[0].ratio, n) for legs, n in orders)
    assert got == sorted(
        [(LC.local_symbol, -1, 3), (LP.local_symbol, -1, 2), (SC.local_symbol, 1, 3)]
    )


def test_hedge_layer_close_sized_from_held() -> None:
    book = Portfolio()
    h = _hedge(book, "h")
    book.apply_fill(_fill("h", CALL, 19, 1.5))
    book.route("x", "h")
    book.apply_fill(_fill("x", CALL, -9, 3.0))
    assert h.closing_orders() == [((Leg(CALL, -1),), 10)]


def test_structure_settlement_touches_only_that_structure() -> None:
    book = Portfolio()
    a = _open_condor(book, "a", 1)
    b = _open_condor(book, "b", 1)
    settle = Settlement(SP, -1, 3140.0, -1000.0, NOW, structure_id="a")
    assert book.apply_settlement(settle) == [a]
    assert a.held[SP] == 0 and b.held[SP] == -1
    assert a.settlement_cash == pytest.approx(-1000.0)


def test_expired_holdings_and_lineage() -> None:
    book = Portfolio()
    a = _open_condor(book, "a", 1)
    successor = book.register(
        "a2", Structure.CONDOR, CONDOR_LEGS, OPENED, parent_id="a", tag="roll"
    )
    assert successor.parent_id == "a" and successor.tag == "roll"
    assert book.expired_holdings(EXPIRY - timedelta(days=1)) == []
    assert {c for p, c in book.expired_holdings(EXPIRY)} == {LP, SP, SC, LC}
    assert all(p is a for p, c in book.expired_holdings(EXPIRY))


# -- OrderPolicy ----------------------------------------------------------------------------


def test_worst_price_credit_concedes_ten_percent() -> None:
    assert OrderPolicy().worst_price(-2.00) == pytest.approx(-1.80)


def test_worst_price_debit_concedes_upwards() -> None:
    assert OrderPolicy().worst_price(3.00) == pytest.approx(3.30)


@pytest.mark.parametrize(("limit", "worst"), [(-0.50, -0.40), (0.20, 0.30), (0.0, 0.10)])
def test_worst_price_tiny_limits_use_min_concession(limit: float, worst: float) -> None:
    assert OrderPolicy().worst_price(limit) == pytest.approx(worst)


def test_worst_price_custom_policy() -> None:
    policy = OrderPolicy(max_concession_pct=5.0, min_concession=0.05)
    assert policy.worst_price(-10.0) == pytest.approx(-9.5)
    assert policy.worst_price(-0.4) == pytest.approx(-0.35)
    # The concession never improves the price: worst >= limit for any limit.
    for limit in (-25.0, -1.0, -0.01, 0.0, 0.01, 1.0, 25.0):
        assert policy.worst_price(limit) > limit


# -- adjustments (ADJUST orders change the legs once complete) -----------------------------

NEW_SP, NEW_LP = _c(3140, Right.PUT), _c(3090, Right.PUT)
#: A 10-point put wing shift, per combo unit.
SHIFT = (Leg(SP, 1), Leg(LP, -1), Leg(NEW_SP, -1), Leg(NEW_LP, 1))
SHIFT_PRICES = {SP: 7.0, LP: 4.0, NEW_SP: 6.0, NEW_LP: 3.5}  # a 0.50 debit


def _opened(book: Portfolio, units: int = 4) -> StructurePosition:
    position = _condor(book, "c")
    for leg, price in zip(CONDOR_LEGS, (2.0, 3.5, 3.0, 1.6), strict=True):
        book.apply_fill(_fill("c", leg.contract, leg.ratio * units, price, comm=0.0))
    return position


def test_a_completely_filled_adjustment_changes_the_legs() -> None:
    book = Portfolio()
    position = _opened(book)
    book.expect_adjustment("adj", "c", SHIFT, 4)
    assert book.structure_of("adj") == "c"
    for leg in SHIFT[:3]:
        book.apply_fill(_fill("adj", leg.contract, leg.ratio * 4, SHIFT_PRICES[leg.contract], 0.0))
        assert position.legs == CONDOR_LEGS  # not until the last contract fills
        assert not position.is_balanced
    book.apply_fill(_fill("adj", NEW_LP, 4, SHIFT_PRICES[NEW_LP], 0.0))
    # long put, short put, short call, long call: the put side replaced in place
    assert position.legs == (Leg(NEW_LP, 1), Leg(NEW_SP, -1), Leg(SC, -1), Leg(LC, 1))
    assert position.is_balanced and position.held_units == 4
    assert position.adjustments == 1
    assert position.adjusted_price == pytest.approx(0.50)
    assert position.open_units == 4  # the opening order's units are what they were
    assert position.open_price == pytest.approx(-2.90 + 0.50)
    assert position.view().opening_price == pytest.approx(-2.90)
    assert position.closing_orders() == [
        ((Leg(NEW_LP, -1), Leg(NEW_SP, 1), Leg(SC, 1), Leg(LC, -1)), 4)
    ]
    # the cash of the adjustment is booked to the condor
    assert position.cash_flow == pytest.approx((2.90 - 0.50) * 400)


def test_a_partly_filled_adjustment_leaves_uneven_legs_to_flatten() -> None:
    book = Portfolio()
    position = _opened(book)
    book.expect_adjustment("adj", "c", SHIFT, 4)
    # two of four combo units, then the order was cancelled
    for leg in SHIFT:
        book.apply_fill(_fill("adj", leg.contract, leg.ratio * 2, SHIFT_PRICES[leg.contract], 0.0))
    assert position.legs == CONDOR_LEGS and position.adjustments == 0
    assert not position.is_balanced
    orders = position.closing_orders()
    assert all(len(legs) == 1 for legs, _ in orders)  # leg by leg, exactly what is held
    assert {legs[0].contract: (legs[0].ratio, units) for legs, units in orders} == {
        LP: (-1, 2),
        SP: (1, 2),
        NEW_SP: (1, 2),
        NEW_LP: (-1, 2),
        SC: (1, 4),
        LC: (-1, 4),
    }


def test_an_adjustment_completes_whatever_the_order_of_its_fills() -> None:
    results = []
    for order in (SHIFT, tuple(reversed(SHIFT))):
        book = Portfolio()
        position = _opened(book)
        book.expect_adjustment("adj", "c", SHIFT, 4)
        for leg in order:  # split fills, interleaved with nothing else
            for _ in range(2):
                book.apply_fill(_fill("adj", leg.contract, leg.ratio * 2, 1.0, 0.0))
        results.append((position.legs, position.held_units, position.adjustments))
    assert results[0] == results[1]
    assert results[0][2] == 1


def test_an_adjustment_is_only_for_a_known_structure() -> None:
    book = Portfolio()
    with pytest.raises(KeyError):
        book.expect_adjustment("adj", "nope", SHIFT, 1)
    _condor(book, "c")
    with pytest.raises(ValueError, match="positive quantity"):
        book.expect_adjustment("adj", "c", SHIFT, 0)


# -- remembered reads (view, open_units, last_close) follow every change ------------------


def _fresh_view(position: StructurePosition) -> tuple[object, ...]:
    """What ``view()`` must show, computed from the fields (no remembered value)."""
    ratios = {leg.contract: leg.ratio for leg in position.legs}
    units = min(abs(position.held.get(c, 0)) // abs(r) for c, r in ratios.items())
    opening = {leg.contract: leg.ratio for leg in CONDOR_LEGS}
    open_units = min(abs(position.open_fills.get(c, 0)) // abs(r) for c, r in opening.items())
    price = position.open_premium / open_units + position.adjusted_price
    return (position.legs, units, price, position.adjusted_price)


def _shown(position: StructurePosition) -> tuple[object, ...]:
    view = position.view()
    return (view.legs, view.quantity, view.open_price, view.adjusted_price)


def test_the_remembered_view_follows_every_fill_adjustment_and_settlement() -> None:
    book = Portfolio()
    position = _opened(book, units=2)
    assert _shown(position) == _fresh_view(position)
    # a second opening fill at another price: more units, a new average price
    for leg, price in zip(CONDOR_LEGS, (1.0, 3.0, 2.0, 0.5), strict=True):
        book.apply_fill(_fill("c", leg.contract, leg.ratio * 3, price, comm=0.0))
    assert position.open_units == 5
    assert _shown(position) == _fresh_view(position)
    assert position.view().quantity == 5
    assert position.view().open_price == pytest.approx((2 * -2.9 + 3 * -3.5) / 5)
    # a partial close (another order): fewer units held, the same opening price
    book.route("close", "c")
    for leg in CONDOR_LEGS:
        book.apply_fill(_fill("close", leg.contract, -leg.ratio, 1.0, comm=0.0))
    assert position.view().quantity == 4 and position.open_units == 5
    assert _shown(position) == _fresh_view(position)
    # a completed wing shift: new legs, adjusted price
    book.expect_adjustment("adj", "c", SHIFT, 4)
    for leg in SHIFT:
        book.apply_fill(_fill("adj", leg.contract, leg.ratio * 4, SHIFT_PRICES[leg.contract], 0.0))
    assert position.view().legs == (Leg(NEW_LP, 1), Leg(NEW_SP, -1), Leg(SC, -1), Leg(LC, 1))
    assert position.view().adjusted_price == pytest.approx(0.50)
    assert _shown(position) == _fresh_view(position)
    # a settlement of one leg: no whole unit left, so no view
    book.apply_settlement(Settlement(SC, -4, 3000.0, 0.0, NOW, structure_id="c"))
    assert position.held_units == 0
    with pytest.raises(ValueError, match="positive quantity"):
        position.view()


def test_last_close_follows_every_close_and_reopen() -> None:
    book = Portfolio()
    assert book.last_close(Structure.CONDOR) is None  # remembered: none yet
    for sid, day in (("a", date(2020, 3, 2)), ("b", date(2020, 2, 20)), ("c", date(2020, 3, 9))):
        _condor(book, sid)
        book.mark_closed(sid, day, "never filled")
        latest = max(p.closed_session for p in book.structures.values() if p.closed_session)
        assert book.last_close(Structure.CONDOR) == latest
    assert book.last_close(Structure.CONDOR) == date(2020, 3, 9)
    assert book.last_close(Structure.HEDGE_LAYER) is None
    # a closed structure closed again on another date moves it back
    book.mark_closed("c", date(2020, 2, 25), "again")
    assert book.last_close(Structure.CONDOR) == date(2020, 3, 2)
    # a reopened structure no longer counts until it closes again
    book.apply_fill(_fill("a", SP, -1, 2.0))
    assert book.last_close(Structure.CONDOR) == date(2020, 2, 25)
    book.apply_fill(_fill("a", SP, 1, 1.0))
    book.mark_closed("a", date(2020, 3, 16), "flat")
    assert book.last_close(Structure.CONDOR) == date(2020, 3, 16)


def test_the_remembered_expiry_follows_an_adjustment_to_another_expiry() -> None:
    book = Portfolio()
    hedge = _hedge(book, "h")
    book.apply_fill(_fill("h", CALL, 2, 1.5))
    assert hedge.expiry == CALL.expiry
    nearer = OptionContract("VIX", "VIX", date(2020, 2, 19), 20.0, Right.CALL)
    book.expect_adjustment("roll-in", "h", (Leg(CALL, -1), Leg(nearer, 1)), 2)
    book.apply_fill(_fill("roll-in", CALL, -2, 1.6))
    book.apply_fill(_fill("roll-in", nearer, 2, 1.1))
    assert hedge.legs == (Leg(nearer, 1),)
    assert hedge.expiry == nearer.expiry and hedge.view().expiry == nearer.expiry
