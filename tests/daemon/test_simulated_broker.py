"""Tests for daemon.brokers.simulated.SimulatedBroker over a tiny fake history.

Quotes come from the real :class:`MarketModel`; expected fill prices are
recomputed here from the broker's own quotes and the cost model.
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from daemon.brokers.base import (
    BrokerError,
    ComboOrder,
    Fill,
    LegQuote,
    OrderStatus,
    Settlement,
)
from daemon.brokers.fill_model import SimulationCosts
from daemon.brokers.simulated import SimulatedBroker
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK, VirtualClock
from daemon.marketdata.visibility import SessionRange
from strategies.domain import Leg, MarketContext, OptionContract, Right
from strategies.pricing.market_model import MarketModel

MON, TUE, WED, THU = date(2019, 4, 8), date(2019, 4, 9), date(2019, 4, 10), date(2019, 4, 11)
VIX_APR, VIX_MAY = date(2019, 4, 17), date(2019, 5, 22)
SPX_SETTLE_WED = 2850.0  # SPX close on WED, deliberately far from the context levels
VIX_SETTLE_APR = 22.0  # VIX open proxy on VIX_APR
START_CASH = 100_000.0
COSTS = SimulationCosts(
    slippage_pct_of_half_spread=0.4,
    commission_per_contract=1.0,
    spx_fee_per_contract=0.5,
    vix_fee_per_contract=0.25,
)


def _ctx(session: date, spx: float, vix: float) -> MarketContext:
    return MarketContext(
        session=session,
        spx=spx,
        vix=vix,
        vix9d=vix - 1.0,
        vix3m=vix + 1.5,
        vvix=90.0,
        skew=130.0,
        vix_futures={VIX_APR: vix + 0.5, VIX_MAY: vix + 1.5},
    )


class FakeHistory:
    """Implements daemon.brokers.simulated.History over a handful of sessions."""

    def __init__(self) -> None:
        self.contexts = [
            _ctx(MON, 2900.0, 13.0),
            _ctx(TUE, 2880.0, 14.0),
            _ctx(WED, 2860.0, 15.5),
            _ctx(THU, 2870.0, 15.0),
            _ctx(VIX_APR, 2890.0, 14.5),
        ]
        self.context_calls: list[int] = []

    def index_of(self, session: date) -> int:
        for i, ctx in enumerate(self.contexts):
            if ctx.session == session:
                return i
        raise KeyError(session)

    def context(self, index: int) -> MarketContext:
        self.context_calls.append(index)
        return self.contexts[index]

    def visible_context(self, index: int, phase: object) -> MarketContext:
        return self.context(index)  # one level per session: what any job sees

    def session_range(self, index: int) -> SessionRange:
        """A range 80 points wide around the level, VIX up 6 points at its high."""
        ctx = self.contexts[index]
        return SessionRange(
            ctx.session, ctx.spx, ctx.spx - 60.0, ctx.spx + 20.0, ctx.vix, ctx.vix + 6
        )

    def spx_settlement(self, session: date) -> float:
        return {WED: SPX_SETTLE_WED}[session]

    def vix_settlement(self, session: date) -> float:
        return {VIX_APR: VIX_SETTLE_APR}[session]

    def vix_expiries(self, session: date, min_dte: int, max_dte: int) -> list[date]:
        return [e for e in (VIX_APR, VIX_MAY) if min_dte <= (e - session).days <= max_dte]


def _at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), NEW_YORK)


class Rig:
    def __init__(self, costs: SimulationCosts = COSTS) -> None:
        self.history = FakeHistory()
        self.clock = VirtualClock(_at(MON, 15, 30))
        self.costs = costs
        self.broker = SimulatedBroker(
            self.history,
            MarketModel(),
            self.clock.now,
            default_calendar().is_session,
            costs,
            START_CASH,
        )
        self.fills: list[Fill] = []
        self.settlements: list[Settlement] = []
        self.broker.add_fill_listener(self.fills.append)
        self.broker.add_settlement_listener(self.settlements.append)

    def go(self, when: datetime) -> None:
        self.clock.advance_to(when)

    def expected_prices(self, quotes: list[LegQuote], legs: tuple[Leg, ...]) -> list[float]:
        out = []
        slip = self.costs.slippage_pct_of_half_spread
        for leg, q in zip(legs, quotes, strict=True):
            half = (q.ask - q.bid) / 2
            out.append(max(q.mid + (slip * half if leg.ratio > 0 else -slip * half), 0.0))
        return out


@pytest.fixture
def rig() -> Rig:
    return Rig()


def spxw(expiry: date, strike: float, right: Right) -> OptionContract:
    return OptionContract("SPX", "SPXW", expiry, strike, right)


def vix_call(expiry: date, strike: float) -> OptionContract:
    return OptionContract("VIX", "VIX", expiry, strike, Right.CALL)


CONDOR = (
    Leg(spxw(VIX_APR, 2800, Right.PUT), 1),
    Leg(spxw(VIX_APR, 2825, Right.PUT), -1),
    Leg(spxw(VIX_APR, 2975, Right.CALL), -1),
    Leg(spxw(VIX_APR, 3000, Right.CALL), 1),
)


async def _net(rig: Rig, legs: tuple[Leg, ...]) -> tuple[float, list[float]]:
    quotes = await rig.broker.quote([leg.contract for leg in legs])
    prices = rig.expected_prices(quotes, legs)
    return sum(leg.ratio * p for leg, p in zip(legs, prices, strict=True)), prices


# -- fills ------------------------------------------------------------------------------------


async def test_condor_fill_prices_commissions_cash_and_positions(rig: Rig) -> None:
    net, prices = await _net(rig, CONDOR)
    assert net < 0  # a credit
    result = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 3, net))
    assert result.status is OrderStatus.FILLED
    assert result.filled_quantity == 3
    assert result.avg_price == pytest.approx(net)
    assert result.reason == ""
    assert len(result.fills) == 4
    for fill, leg, price in zip(result.fills, CONDOR, prices, strict=True):
        assert fill.contract == leg.contract
        assert fill.order_ref == "ref-1"
        assert fill.quantity == leg.ratio * 3
        assert fill.price == pytest.approx(price)
        assert fill.commission == pytest.approx(3 * (1.0 + 0.5))
        assert fill.time == _at(MON, 15, 30)
    assert len({f.exec_id for f in result.fills}) == 4
    assert rig.fills == list(result.fills)  # each fill delivered once to the listener

    expected_cash = START_CASH - sum(
        f.quantity * f.price * 100 + f.commission for f in result.fills
    )
    account = await rig.broker.account()
    assert account.cash == pytest.approx(expected_cash)
    assert account.cash - START_CASH == pytest.approx(-net * 3 * 100 - 4 * 3 * 1.5)
    quotes = await rig.broker.quote([leg.contract for leg in CONDOR])
    mark = sum(leg.ratio * 3 * q.mid * 100 for leg, q in zip(CONDOR, quotes, strict=True))
    assert account.net_liquidation == pytest.approx(expected_cash + mark)
    # Slippage made us pay: marking at mid is worth more than we received.
    assert account.net_liquidation < START_CASH

    positions = {p.contract: p for p in await rig.broker.positions()}
    assert set(positions) == {leg.contract for leg in CONDOR}
    for leg, price in zip(CONDOR, prices, strict=True):
        assert positions[leg.contract].quantity == leg.ratio * 3
        assert positions[leg.contract].avg_cost == pytest.approx(price)


async def test_slippage_moves_each_leg_against_us(rig: Rig) -> None:
    quotes = await rig.broker.quote([leg.contract for leg in CONDOR])
    result = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, 0.0))
    for fill, leg, q in zip(result.fills, CONDOR, quotes, strict=True):
        assert q.bid < q.ask
        if leg.ratio > 0:
            assert q.mid < fill.price < q.ask
        else:
            assert q.bid < fill.price < q.mid


async def test_zero_slippage_fills_at_mid() -> None:
    rig = Rig(SimulationCosts(slippage_pct_of_half_spread=0.0))
    quotes = await rig.broker.quote([leg.contract for leg in CONDOR])
    result = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, 0.0))
    assert [f.price for f in result.fills] == pytest.approx([q.mid for q in quotes])


async def test_vix_commission_uses_the_vix_fee(rig: Rig) -> None:
    legs = (Leg(vix_call(VIX_MAY, 20.0), 1),)
    net, (price,) = await _net(rig, legs)
    result = await rig.broker.place_order(ComboOrder("h-1", legs, 7, net))
    assert result.status is OrderStatus.FILLED
    (fill,) = result.fills
    assert fill.commission == pytest.approx(7 * (1.0 + 0.25))
    assert fill.price == pytest.approx(price)
    account = await rig.broker.account()
    assert account.cash == pytest.approx(START_CASH - 7 * price * 100 - 7 * 1.25)


async def test_positions_are_netted_and_closed(rig: Rig) -> None:
    call = vix_call(VIX_MAY, 20.0)
    buy, sell = (Leg(call, 1),), (Leg(call, -1),)
    first = await rig.broker.place_order(ComboOrder("b1", buy, 2, 100.0))
    rig.go(_at(TUE, 15, 30))
    second = await rig.broker.place_order(ComboOrder("b2", buy, 1, 100.0))
    p1, p2 = first.fills[0].price, second.fills[0].price
    assert p1 != pytest.approx(p2)  # a new session, new quotes
    (pos,) = await rig.broker.positions()
    assert pos.quantity == 3
    assert pos.avg_cost == pytest.approx((2 * p1 + p2) / 3)

    partial = await rig.broker.place_order(ComboOrder("s1", sell, 1, -0.0))
    (pos,) = await rig.broker.positions()
    assert pos.quantity == 2
    assert pos.avg_cost == pytest.approx((2 * p1 + p2) / 3)  # reducing keeps the cost

    final = await rig.broker.place_order(ComboOrder("s2", sell, 2, -0.0))
    assert await rig.broker.positions() == []
    all_fills = [*first.fills, *second.fills, *partial.fills, *final.fills]
    account = await rig.broker.account()
    expected = START_CASH - sum(f.quantity * f.price * 100 + f.commission for f in all_fills)
    assert account.cash == pytest.approx(expected)
    assert account.net_liquidation == pytest.approx(account.cash)


async def test_position_flip_takes_the_new_fill_price(rig: Rig) -> None:
    call = vix_call(VIX_MAY, 20.0)
    await rig.broker.place_order(ComboOrder("b1", (Leg(call, 1),), 1, 100.0))
    sold = await rig.broker.place_order(ComboOrder("s1", (Leg(call, -1),), 3, 0.0))
    (pos,) = await rig.broker.positions()
    assert pos.quantity == -2
    assert pos.avg_cost == pytest.approx(sold.fills[0].price)


async def test_order_bound_worse_than_fill_is_cancelled_and_changes_nothing(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    before = await rig.broker.account()
    result = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 2, net - 0.05))
    assert result.status is OrderStatus.CANCELLED
    assert result.filled_quantity == 0
    assert result.avg_price is None
    assert result.fills == ()
    assert "not filled" in result.reason
    assert f"{net:.2f}" in result.reason
    assert await rig.broker.positions() == []
    assert rig.fills == []
    after = await rig.broker.account()
    assert after == before


async def test_worst_price_is_the_bound(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    # Limit better than the simulated fill, but the order may walk to a worse price.
    walking = ComboOrder("ref-1", CONDOR, 1, net - 0.5, worst_price=net + 0.01)
    assert (await rig.broker.place_order(walking)).status is OrderStatus.FILLED
    # A worst price still better than the fill cancels even with a generous limit.
    capped = ComboOrder("ref-2", CONDOR, 1, net + 5.0, worst_price=net - 0.01)
    result = await rig.broker.place_order(capped)
    assert result.status is OrderStatus.CANCELLED
    assert f"{net - 0.01:.2f}" in result.reason


async def test_duplicate_order_ref_is_rejected(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    first = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, net))
    assert first.status is OrderStatus.FILLED
    account = await rig.broker.account()
    positions = await rig.broker.positions()
    again = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, net))
    assert again.status is OrderStatus.REJECTED
    assert "duplicate" in again.reason
    assert again.fills == () and again.filled_quantity == 0
    assert await rig.broker.account() == account
    assert await rig.broker.positions() == positions
    assert len(rig.fills) == 4


async def test_ref_of_a_cancelled_order_cannot_be_reused(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    cancelled = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, net - 1.0))
    assert cancelled.status is OrderStatus.CANCELLED
    retry = await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 1, net))
    assert retry.status is OrderStatus.REJECTED
    assert await rig.broker.positions() == []


@pytest.mark.parametrize(("legs", "qty"), [((), 1), (CONDOR, 0), (CONDOR, -1)])
async def test_empty_order_is_rejected(rig: Rig, legs: tuple[Leg, ...], qty: int) -> None:
    result = await rig.broker.place_order(ComboOrder("ref-x", legs, qty, 100.0))
    assert result.status is OrderStatus.REJECTED
    assert await rig.broker.positions() == []
    assert (await rig.broker.account()).cash == START_CASH


# -- settlement -------------------------------------------------------------------------------


async def test_spxw_settles_at_16_00_at_the_session_close(rig: Rig) -> None:
    rig.go(_at(TUE, 15, 30))
    # Expiring WED; SPX settles at 2850: the 2900 put is 50 ITM, the 2950 call worthless.
    legs = (
        Leg(spxw(WED, 2850, Right.PUT), 1),
        Leg(spxw(WED, 2900, Right.PUT), -1),
        Leg(spxw(WED, 2950, Right.CALL), -1),
    )
    result = await rig.broker.place_order(ComboOrder("ref-1", legs, 2, 100.0))
    assert result.status is OrderStatus.FILLED
    cash_after_fill = (await rig.broker.account()).cash

    rig.go(_at(WED, 9, 30))
    assert rig.broker.process_settlements() == []
    rig.go(_at(WED, 15, 59, 59))
    assert rig.broker.process_settlements() == []
    assert len(await rig.broker.positions()) == 3
    assert rig.settlements == []

    rig.go(_at(WED, 16, 0))
    done = rig.broker.process_settlements()
    assert rig.settlements == done
    by_contract = {s.contract: s for s in done}
    assert set(by_contract) == {leg.contract for leg in legs}
    for leg in legs:
        s = by_contract[leg.contract]
        assert s.quantity == leg.ratio * 2
        assert s.settlement_price == SPX_SETTLE_WED
        assert s.time == _at(WED, 16, 0)
    short_put = by_contract[legs[1].contract]
    assert short_put.cash == pytest.approx(-2 * 50.0 * 100)
    assert by_contract[legs[0].contract].cash == 0.0  # the 2850 put is at the money
    assert by_contract[legs[2].contract].cash == 0.0
    assert await rig.broker.positions() == []
    account = await rig.broker.account()
    assert account.cash == pytest.approx(cash_after_fill - 10_000.0)
    assert account.net_liquidation == pytest.approx(account.cash)
    # Nothing settles twice.
    rig.go(_at(WED, 16, 15))
    assert rig.broker.process_settlements() == []
    assert len(rig.settlements) == 3


async def test_vix_settles_at_09_30_at_the_open_proxy(rig: Rig) -> None:
    itm, otm = vix_call(VIX_APR, 18.0), vix_call(VIX_APR, 25.0)
    later = spxw(date(2019, 4, 26), 2900, Right.PUT)
    await rig.broker.place_order(ComboOrder("h1", (Leg(itm, 1),), 3, 100.0))
    await rig.broker.place_order(ComboOrder("h2", (Leg(otm, 1),), 1, 100.0))
    await rig.broker.place_order(ComboOrder("c1", (Leg(later, -1),), 1, 0.0))
    cash = (await rig.broker.account()).cash

    rig.go(_at(VIX_APR, 9, 29, 59))
    assert rig.broker.process_settlements() == []
    rig.go(_at(VIX_APR, 9, 30))
    done = rig.broker.process_settlements()
    assert [s.contract for s in done] == [itm, otm]
    assert rig.settlements == done
    for s in done:
        assert s.settlement_price == VIX_SETTLE_APR
        assert s.time == _at(VIX_APR, 9, 30)
    assert done[0].quantity == 3
    assert done[0].cash == pytest.approx(3 * (22.0 - 18.0) * 100)
    assert done[1].cash == 0.0
    assert (await rig.broker.account()).cash == pytest.approx(cash + 1_200.0)
    # The later SPXW put is still held.
    assert [p.contract for p in await rig.broker.positions()] == [later]


async def test_overdue_expiry_settles_with_its_own_settlement_time(rig: Rig) -> None:
    rig.go(_at(TUE, 15, 30))
    put = spxw(WED, 2900, Right.PUT)
    await rig.broker.place_order(ComboOrder("p1", (Leg(put, 1),), 1, 100.0))
    rig.go(_at(THU, 15, 30))  # the replay skipped WED's jobs
    (s,) = rig.broker.process_settlements()
    assert s.time == _at(WED, 16, 0)
    assert s.cash == pytest.approx(50.0 * 100)


# -- chains and quotes ------------------------------------------------------------------------


async def test_option_chain_lists_spxw_expiries_inside_the_dte_window(rig: Rig) -> None:
    chain = await rig.broker.option_chain("SPX", "SPXW", 7, 14)
    # Mon 04-15, Wed 04-17, Thu 04-18 (Good Friday 04-19 moves to Thursday), Mon 04-22.
    expiries = [date(2019, 4, 15), date(2019, 4, 17), date(2019, 4, 18), date(2019, 4, 22)]
    assert [(s.expiry, s.right) for s in chain] == [
        (e, r) for e in expiries for r in (Right.PUT, Right.CALL)
    ]
    for s in chain:
        assert s.symbol == "SPX" and s.trading_class == "SPXW"
        assert s.dte == (s.expiry - MON).days
        assert 7 <= s.dte <= 14
        assert len(s.strikes) > 10
        assert list(s.strikes) == sorted(s.strikes)
        assert (s.bid <= s.ask).all()


async def test_option_chain_rights_filter_and_empty_window(rig: Rig) -> None:
    calls = await rig.broker.option_chain("SPX", "SPXW", 0, 2, rights=(Right.CALL,))
    assert [(s.expiry, s.right) for s in calls] == [(MON, Right.CALL), (WED, Right.CALL)]
    assert await rig.broker.option_chain("SPX", "SPXW", 5, 6) == []


async def test_option_chain_vix_uses_history_listings(rig: Rig) -> None:
    chain = await rig.broker.option_chain("VIX", "VIX", 20, 60, rights=(Right.CALL,))
    assert [(s.expiry, s.right) for s in chain] == [(VIX_MAY, Right.CALL)]
    assert chain[0].forward == pytest.approx(13.0 + 1.5)


async def test_option_chain_unknown_product_raises(rig: Rig) -> None:
    with pytest.raises(BrokerError, match="lists no"):
        await rig.broker.option_chain("NDX", "NDXP", 0, 10)
    with pytest.raises(BrokerError, match="lists no"):
        await rig.broker.option_chain("VIX", "VIXW", 0, 10)
    # the AM-settled monthly class is listed (the CNDR replica trades it): third Fridays only
    monthly = await rig.broker.option_chain("SPX", "SPX", 0, 40)
    assert monthly
    assert {s.expiry for s in monthly} <= {date(2019, 4, 18), date(2019, 5, 17)}
    assert all(s.trading_class == "SPX" for s in monthly)


async def test_no_market_data_for_session_raises_broker_error(rig: Rig) -> None:
    rig.go(_at(date(2019, 4, 12), 15, 30))  # not in the fake history
    with pytest.raises(BrokerError, match="2019-04-12"):
        await rig.broker.market_context()


async def test_quote_of_expired_contract_raises(rig: Rig) -> None:
    rig.go(_at(THU, 15, 30))
    with pytest.raises(BrokerError, match="expired"):
        await rig.broker.quote([spxw(WED, 2900, Right.PUT)])


async def test_market_context_is_the_clock_session(rig: Rig) -> None:
    assert (await rig.broker.market_context()).session == MON
    rig.go(_at(TUE, 1, 0))
    assert (await rig.broker.market_context()).spx == 2880.0
    # 23:30 New York on TUE is WED in UTC, but still the TUE session.
    rig.go(_at(TUE, 23, 30))
    assert (await rig.broker.market_context()).session == TUE


async def test_quotes_cached_within_a_session_and_recomputed_in_a_new_one(rig: Rig) -> None:
    contracts = [leg.contract for leg in CONDOR]
    first = await rig.broker.quote(contracts)
    assert [q.contract for q in first] == contracts
    # the session's context, and its path states when contracts are held (priced ahead
    # with the open's quotes: speed work), each read once
    read = list(rig.history.context_calls)
    assert set(read) == {0}
    rig.go(_at(MON, 15, 45))
    again = await rig.broker.quote(list(reversed(contracts)))
    assert [q.contract for q in again] == list(reversed(contracts))
    for a, b in zip(first, reversed(again), strict=True):
        assert a is b  # served from the cache
    assert rig.history.context_calls == read  # nothing read again within the session

    rig.go(_at(TUE, 15, 30))
    fresh = await rig.broker.quote(contracts)
    assert rig.history.context_calls[: len(read)] == read
    assert set(rig.history.context_calls[len(read) :]) == {1}
    for a, b in zip(first, fresh, strict=True):
        assert a is not b
        assert a.mid != pytest.approx(b.mid)
    # SPX fell 20 points: puts are dearer, calls cheaper.
    assert fresh[1].mid > first[1].mid
    assert fresh[2].mid < first[2].mid


async def test_quotes_of_a_chain_just_handed_out_are_the_priced_ones(rig: Rig) -> None:
    # speed work: a contract of a chain the state already priced is read from the chain
    chain = await rig.broker.option_chain("SPX", "SPXW", 7, 9)
    vix = await rig.broker.option_chain("VIX", "VIX", 20, 60, rights=(Right.CALL,))
    listed = [
        OptionContract(s.symbol, s.trading_class, s.expiry, float(k), s.right)
        for s in (*chain, *vix)
        for k in s.strikes[:: max(1, len(s.strikes) // 7)]
    ]
    read = await rig.broker.quote(listed)
    priced = await Rig().broker.quote(listed)  # a fresh broker: no chain, every leg priced
    assert read == priced  # every field, bit for bit


async def test_quote_of_duplicate_and_unsorted_contracts(rig: Rig) -> None:
    put_lo, put_hi = spxw(VIX_APR, 2800, Right.PUT), spxw(VIX_APR, 2850, Right.PUT)
    quotes = await rig.broker.quote([put_hi, put_lo, put_hi])
    assert [q.contract for q in quotes] == [put_hi, put_lo, put_hi]
    assert quotes[0].mid == quotes[2].mid
    assert quotes[0].mid > quotes[1].mid  # the higher put is worth more


# -- what-if margin (the Reg-T model of strategies.margin) --------------------------------------


async def test_what_if_uses_the_reg_t_model_on_holdings_and_cash(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    first = await rig.broker.what_if(ComboOrder("what-if", CONDOR, 3, net))
    assert first is not None and first.source == "reg-t-model"
    # 25-point wings: 25 x 100 per condor; the credit goes to cash (equity with loan)
    assert (first.init_margin_before, first.init_margin_after) == (0.0, pytest.approx(7_500.0))
    commission = 3 * 4 * 1.5
    assert first.equity_with_loan_after == pytest.approx(START_CASH - net * 300 - commission)
    assert first.commission == pytest.approx(commission)
    assert rig.fills == []  # nothing placed

    await rig.broker.place_order(ComboOrder("ref-1", CONDOR, 3, net))
    account = await rig.broker.account()
    assert account.init_margin == pytest.approx(7_500.0)
    second = await rig.broker.what_if(ComboOrder("what-if", CONDOR, 1, net))
    assert second is not None
    assert (second.init_margin_before, second.init_margin_after) == (
        pytest.approx(7_500.0),
        pytest.approx(10_000.0),
    )
    # a long VIX call is paid in full: no margin, cash falls by its premium
    call = (Leg(vix_call(VIX_MAY, 20.0), 1),)
    long_call = await rig.broker.what_if(ComboOrder("what-if", call, 2, 1.50))
    assert long_call is not None
    assert long_call.init_margin_after == pytest.approx(7_500.0)
    assert long_call.equity_with_loan_after == pytest.approx(account.cash - 300.0 - 2 * 1.25)


# -- resting stops and targets (the path since the last check) ----------------------------


def _closing(legs: tuple[Leg, ...]) -> tuple[Leg, ...]:
    return tuple(Leg(leg.contract, -leg.ratio) for leg in legs)


async def test_path_since_marks_each_closed_session_at_its_open_and_extremes(rig: Rig) -> None:
    contracts = [leg.contract for leg in CONDOR]
    rig.go(_at(TUE, 15, 45))
    path = await rig.broker.path_since(contracts, _at(MON, 15, 45))
    assert [p.session for p in path] == [MON]  # TUE's range is not visible before its close
    (mon,) = path
    assert [s.label for s in mon.extremes] == [
        "spx low / vix high",
        "spx high / vix high",
        "close",
    ]
    low = mon.extremes[0]
    assert (low.spx, low.vix) == (2840.0, 19.0)
    assert set(low.quotes) == set(contracts)
    rig.go(_at(TUE, 16, 15))
    assert [p.session for p in await rig.broker.path_since(contracts, _at(MON, 15, 45))] == [
        MON,
        TUE,
    ]


async def test_held_contracts_priced_ahead_at_the_open_are_their_path_and_close_quotes(
    rig: Rig,
) -> None:
    # speed work: the open's pricing round also prices the held contracts on the session's
    # path and at its close; what the close and the path hand out must be what pricing
    # them then, alone, gives
    net, _ = await _net(rig, CONDOR)
    await rig.broker.place_order(ComboOrder("open", CONDOR, 1, net))
    contracts = [leg.contract for leg in CONDOR]
    await rig.broker.quote(contracts)  # the open: prices the path and the close ahead
    rig.go(_at(MON, 16, 15))
    at_close = await rig.broker.quote(contracts)
    path = await rig.broker.path_since(contracts, _at(MON, 15, 0))
    fresh = Rig()  # holds nothing: prices nothing ahead
    fresh.go(_at(MON, 16, 15))
    assert at_close == await fresh.broker.quote(contracts)
    assert path == await fresh.broker.path_since(contracts, _at(MON, 15, 0))
    assert [p.session for p in path] == [MON]


async def test_resting_close_fills_at_its_level_plus_slippage_only_if_the_path_reached_it(
    rig: Rig,
) -> None:
    net, _ = await _net(rig, CONDOR)
    assert (await rig.broker.place_order(ComboOrder("open", CONDOR, 2, net))).status is (
        OrderStatus.FILLED
    )
    close = _closing(CONDOR)
    rig.go(_at(TUE, 15, 45))
    path = await rig.broker.path_since([leg.contract for leg in CONDOR], _at(MON, 15, 45))
    low = path[0].extremes[0]
    worst = sum(leg.ratio * low.quotes[leg.contract].mid for leg in close)
    level = round(worst * 20 - 1) / 20  # a stop level the low reached, on the tick grid
    result = await rig.broker.place_order(ComboOrder("stop", close, 2, level, resting=True))
    assert result.status is OrderStatus.FILLED
    slip = sum(
        abs(leg.ratio) * COSTS.slippage_pct_of_half_spread * (q.ask - q.bid) / 2
        for leg in close
        for q in [low.quotes[leg.contract]]
    )
    assert result.avg_price == pytest.approx(level + slip)
    assert sum(f.quantity * f.price for f in result.fills) / 2 == pytest.approx(level + slip)
    assert all(f.price >= 0 for f in result.fills)
    assert await rig.broker.positions() == []  # the book is flat


async def test_resting_close_beyond_the_path_is_not_filled(rig: Rig) -> None:
    net, _ = await _net(rig, CONDOR)
    await rig.broker.place_order(ComboOrder("open", CONDOR, 1, net))
    rig.go(_at(TUE, 15, 45))
    await rig.broker.path_since([leg.contract for leg in CONDOR], _at(MON, 15, 45))
    result = await rig.broker.place_order(
        ComboOrder("stop", _closing(CONDOR), 1, 24.0, resting=True)  # the wings cap it at 25
    )
    assert result.status is OrderStatus.CANCELLED
    assert "not reached" in result.reason
    assert result.fills == ()
