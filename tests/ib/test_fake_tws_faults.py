"""The fake TWS's fault controls, each seen through the real ib_async client.

One test per fault of issue 8's acceptance list: what the client sees, and
what the gateway holds afterwards.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from ib_async import IB, Contract, LimitOrder, Option

from tests.fake_tws import (
    CancelPolicy,
    ComboLegSpec,
    DropRule,
    ErrorRule,
    FakeTWS,
    FillPolicy,
    GreeksFault,
    In,
    MuteRule,
    OrderRule,
    Out,
    Scenario,
)
from tests.ib.fake_tws_support import (  # noqa: F401  (autouse fixture)
    HOST,
    iron_condor,
    no_decoding_errors,
    running,
    spxw_expiry,
    until,
)


def _errors(ib: IB) -> list[tuple[int, int, str]]:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
    return errors


async def _option(ib: IB, scenario: Scenario, strike: float = 5200.0, right: str = "C") -> Contract:
    expiry = spxw_expiry(scenario)
    [contract] = await ib.qualifyContractsAsync(
        Option("SPX", expiry, strike, right, "SMART", tradingClass="SPXW")
    )
    assert isinstance(contract, Contract)
    return contract


# ------------------------------------------------------------------ fills


async def test_partial_open_then_partial_close_fill_n_of_m_and_stop() -> None:
    scenario = Scenario(order_policies=[FillPolicy.partial(2), FillPolicy.partial(1)])
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        opening = ib.placeOrder(bag, LimitOrder("SELL", 3, 12.0))
        await until(lambda: opening.orderStatus.filled == 2)
        assert (opening.orderStatus.status, opening.orderStatus.remaining) == ("Submitted", 1)
        opening.order.lmtPrice = 11.5  # a walk does not fill the rest
        ib.placeOrder(bag, opening.order)
        await tws.wait_until(lambda: tws.order(opening.order.orderId).modifications == 1)
        ib.cancelOrder(opening.order)
        await until(lambda: opening.orderStatus.status == "Cancelled")
        assert opening.orderStatus.filled == 2
        held = {leg.conId: (2.0 if leg.action == "SELL" else -2.0) for leg in bag.comboLegs}
        assert tws.position_quantities() == held

        closing = ib.placeOrder(bag, LimitOrder("BUY", 2, 6.0))
        await until(lambda: closing.orderStatus.filled == 1)
        assert closing.isActive() and closing.orderStatus.remaining == 1
        assert tws.position_quantities() == {k: v / 2 for k, v in held.items()}
        assert tws.order(closing.order.orderId).status == "Submitted"


async def test_fill_only_after_the_kth_price_modification() -> None:
    scenario = Scenario(fill_policy=FillPolicy.after_modifications(2))
    async with running(scenario) as (tws, ib):
        contract = await _option(ib, scenario)
        order = LimitOrder("BUY", 3, 20.0)
        trade = ib.placeOrder(contract, order)
        for price, modifications in ((20.5, 1), (21.0, 2)):
            await until(lambda: trade.orderStatus.status == "Submitted")
            assert not trade.fills
            order.lmtPrice = price
            ib.placeOrder(contract, order)

            def modified(count: int = modifications) -> bool:
                return tws.order(order.orderId).modifications == count

            await tws.wait_until(modified)
        await until(lambda: trade.orderStatus.status == "Filled")
        assert [(f.execution.shares, f.execution.price) for f in trade.fills] == [(3.0, 21.0)]


async def test_order_rule_picks_a_policy_by_order_ref() -> None:
    scenario = Scenario(
        order_rules=[OrderRule(FillPolicy.reject("Not allowed to close", code=201), "close")]
    )
    async with running(scenario) as (tws, ib):
        contract = await _option(ib, scenario)
        errors = _errors(ib)
        opened = ib.placeOrder(contract, LimitOrder("BUY", 1, 20.0, orderRef="d1-open"))
        closed = ib.placeOrder(contract, LimitOrder("SELL", 1, 20.0, orderRef="d1-close"))
        await until(lambda: opened.isDone() and closed.isDone())
        assert opened.orderStatus.status == "Filled"
        assert closed.orderStatus.status == "Cancelled"
        assert errors == [
            (closed.order.orderId, 201, "Order rejected - reason:Not allowed to close")
        ]
        assert tws.order(closed.order.orderId).status == "Inactive"


# ---------------------------------------------------------------- cancels


async def test_cancel_never_confirmed_leaves_the_order_working() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never().with_cancel(CancelPolicy.never()))
    async with running(scenario) as (tws, ib):
        contract = await _option(ib, scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 2, 1.0))
        await until(lambda: trade.orderStatus.status == "Submitted")
        ib.cancelOrder(trade.order)
        await tws.wait_for_message(In.CANCEL_ORDER)
        await asyncio.sleep(0.1)
        assert trade.orderStatus.status == "PendingCancel"  # ib_async's own guess
        gateway = tws.order(trade.order.orderId)
        assert gateway.is_working and gateway.cancel_requested
        assert not tws.sent_messages(Out.ERR_MSG)[3:]  # nothing after the farm messages
        [listed] = await ib.reqAllOpenOrdersAsync()
        assert listed.order.permId == gateway.perm_id


async def test_cancel_never_confirmed_then_filled_later() -> None:
    later = CancelPolicy.fill_later(0.5)
    scenario = Scenario(fill_policy=FillPolicy.never().with_cancel(later))
    async with running(scenario) as (tws, ib):
        contract = await _option(ib, scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 2, 1.0))
        await until(lambda: trade.orderStatus.status == "Submitted")
        ib.cancelOrder(trade.order)
        await tws.wait_for_message(In.CANCEL_ORDER)
        await asyncio.sleep(0.1)
        assert trade.orderStatus.status == "PendingCancel" and not trade.fills
        await until(lambda: trade.orderStatus.status == "Filled", timeout=3)
        assert [f.execution.shares for f in trade.fills] == [2.0]
        assert tws.position_quantities() == {contract.conId: 2.0}
        assert not [m for m in tws.sent_messages(Out.ERR_MSG) if m.fields[3] == "202"]


async def test_cancel_confirmed_after_a_delay_can_fill_meanwhile() -> None:
    policy = FillPolicy.never().with_cancel(CancelPolicy.confirm(delay=0.3))
    async with running(Scenario(fill_policy=policy)) as (tws, ib):
        contract = await _option(ib, tws.scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 3, 1.0))
        await until(lambda: trade.orderStatus.status == "Submitted")
        ib.cancelOrder(trade.order)
        await tws.wait_for_message(In.CANCEL_ORDER)
        tws.fill_order(trade.order.orderId, quantity=1)  # a fill races the cancel
        await until(lambda: trade.orderStatus.status == "Cancelled", timeout=3)
        assert trade.orderStatus.filled == 1


# ---------------------------------------------------- unanswered requests


async def test_timeout_inside_place_order_the_order_still_reaches_the_gateway() -> None:
    scenario = Scenario(mute_rules=[MuteRule(In.PLACE_ORDER)])
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        trade = ib.placeOrder(bag, LimitOrder("SELL", 1, 12.0, orderRef="d7"))
        await tws.wait_for_message(In.PLACE_ORDER)
        await asyncio.sleep(0.2)
        assert trade.orderStatus.status == "PendingSubmit"  # no ack, no fill reported
        assert tws.order(trade.order.orderId).status == "Filled"
        fills = await ib.reqExecutionsAsync()
        assert {f.execution.orderRef for f in fills} == {"d7"}
        assert len(fills) == 5


async def test_place_order_lost_on_the_way_never_reaches_the_gateway() -> None:
    scenario = Scenario(mute_rules=[MuteRule(In.PLACE_ORDER, handle=False)])
    async with running(scenario) as (tws, ib):
        contract = await _option(ib, scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))
        await tws.wait_for_message(In.PLACE_ORDER)
        assert trade.orderStatus.status == "PendingSubmit"
        assert not tws.orders
        assert await ib.reqAllOpenOrdersAsync() == []


@pytest.mark.parametrize(
    ("msg_id", "call"),
    [
        (In.REQ_ALL_OPEN_ORDERS, lambda ib: ib.reqAllOpenOrdersAsync()),
        (In.REQ_OPEN_ORDERS, lambda ib: ib.reqOpenOrdersAsync()),
        (In.REQ_EXECUTIONS, lambda ib: ib.reqExecutionsAsync()),
        (In.REQ_CONTRACT_DETAILS, lambda ib: ib.reqContractDetailsAsync(Contract(conId=416904))),
        (In.REQ_POSITIONS, lambda ib: ib.reqPositionsAsync()),
    ],
)
async def test_unanswered_request_times_out_once(
    msg_id: In, call: Callable[[IB], Awaitable[Any]]
) -> None:
    async with running() as (tws, ib):
        tws.scenario.mute_rules.append(MuteRule(msg_id, times=1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call(ib), 0.3)
        await asyncio.wait_for(call(ib), 2)
        assert not tws.scenario.mute_rules


async def test_disconnect_mid_walk_with_a_fill_during_the_outage() -> None:
    # the 3rd placeOrder (2nd price change) never arrives: the socket drops, new
    # connections are refused for 0.6 s, and the order fills 0.2 s into the outage
    drop = DropRule(In.PLACE_ORDER, nth=3, outage=0.6, fill_after=0.2)
    scenario = Scenario(fill_policy=FillPolicy.never(), drop_rules=[drop])
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario, client_id=17) as (tws, ib):
        order = LimitOrder("SELL", 1, 12.6, orderRef="walk-1")
        trade = ib.placeOrder(bag, order)
        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        for price in (12.4, 12.2):
            await until(lambda: trade.orderStatus.status == "Submitted")
            order.lmtPrice = price
            ib.placeOrder(bag, order)
        await asyncio.wait_for(dropped.wait(), 5)
        with pytest.raises((ConnectionError, TimeoutError)):
            await IB().connectAsync(HOST, tws.port, clientId=17, timeout=0.3)
        assert tws.refused_connections >= 1
        await tws.wait_until(lambda: not tws.open_orders(), timeout=2)
        bag_exec = next(e for e in tws.executions if e.contract.sec_type == "BAG")
        assert bag_exec.price == 12.4  # the last limit that reached the gateway

        await asyncio.sleep(0.6)
        await ib.connectAsync(HOST, tws.port, clientId=17, timeout=5)
        fills = await ib.reqExecutionsAsync()
        assert {f.execution.execId for f in fills} == {e.exec_id for e in tws.executions}
        assert await ib.reqOpenOrdersAsync() == []


# ------------------------------------------------------------ executions


async def test_duplicate_exec_details_on_the_wire() -> None:
    async with running(Scenario(exec_details_copies=2)) as (tws, ib):
        contract = await _option(ib, tws.scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, 20.0))
        await until(lambda: trade.orderStatus.status == "Filled")
        await tws.wait_until(lambda: len(tws.sent_messages(Out.EXECUTION_DATA)) == 2)
        tws.resend_execution(tws.executions[0].exec_id)
        await tws.wait_until(lambda: len(tws.sent_messages(Out.EXECUTION_DATA)) == 3)
        exec_ids = {m.fields[14] for m in tws.sent_messages(Out.EXECUTION_DATA)}
        assert exec_ids == {tws.executions[0].exec_id}
        await asyncio.sleep(0.05)
        assert len(trade.fills) == 1 and len(ib.fills()) == 1  # ib_async keys on execId


async def test_execution_correction_same_exec_id_up_to_the_last_dot() -> None:
    async with running() as (tws, ib):
        contract = await _option(ib, tws.scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 3, 20.0))
        await until(lambda: trade.orderStatus.status == "Filled")
        original = tws.executions[0]
        corrected = tws.correct_execution(original.exec_id, shares=2, price=19.8)
        family, last = original.exec_id.rsplit(".", 1)
        assert corrected.exec_id == f"{family}.{int(last) + 1:02d}"
        await until(lambda: len(ib.fills()) == 2)
        seen = {f.execution.execId: (f.execution.shares, f.execution.price) for f in ib.fills()}
        assert seen == {original.exec_id: (3.0, 20.0), corrected.exec_id: (2.0, 19.8)}
        assert tws.position_quantities() == {contract.conId: 2.0}
        assert tws.order(trade.order.orderId).filled == 2
        fills = await ib.reqExecutionsAsync()
        assert [f.execution.execId for f in fills] == [original.exec_id, corrected.exec_id]


async def test_commission_report_arrives_after_the_delay() -> None:
    async with running(Scenario(commission_delay=1.0)) as (tws, ib):
        contract = await _option(ib, tws.scenario)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 2, 20.0))
        await until(lambda: trade.orderStatus.status == "Filled")
        [fill] = trade.fills
        assert fill.commissionReport.execId == ""
        assert [f.commissionReport.execId for f in await ib.reqExecutionsAsync()] == [""]
        assert not tws.sent_messages(Out.COMMISSION_REPORT)
        await until(lambda: fill.commissionReport.commission == pytest.approx(1.30), timeout=4)
        assert fill.commissionReport.execId == fill.execution.execId


# ------------------------------------------------------------ error codes


async def test_connectivity_1100_then_1102_data_kept_then_1101_data_lost() -> None:
    scenario = Scenario()
    async with running(scenario) as (tws, ib):
        errors = _errors(ib)
        contract = await _option(ib, scenario)
        ticker = ib.reqMktData(contract)
        await until(lambda: ticker.bid == ticker.bid)
        bid = ticker.bid
        tws.link_lost()
        await until(lambda: [e[1] for e in errors] == [1100])
        tws.set_spot("SPX", 5100.0)  # quotes move, nothing streams while the link is down
        await asyncio.sleep(0.05)
        assert ticker.bid == bid
        tws.link_restored()
        await until(lambda: ticker.bid != bid)
        tws.link_lost()
        tws.link_restored(data_lost=True)
        await until(lambda: [e[1] for e in errors] == [1100, 1102, 1100, 1101])
        moved = ticker.bid
        tws.set_spot("SPX", 5000.0)
        await asyncio.sleep(0.05)
        assert ticker.bid == moved  # the line is gone until the client asks again
        assert ib.isConnected()


async def test_competing_session_10197_for_chosen_contracts_only() -> None:
    scenario = Scenario()
    put = scenario.option("SPXW", spxw_expiry(scenario), 4800.0, "P")
    scenario.error_rules.append(ErrorRule.competing_session(frozenset({put.con_id})))
    async with running(scenario) as (_tws, ib):
        errors = _errors(ib)
        blocked = ib.reqMktData(Option(conId=put.con_id, exchange="SMART"))
        served = ib.reqMktData(await _option(ib, scenario))
        await until(lambda: served.bid == served.bid and bool(errors))
        assert [(code, msg) for _, code, msg in errors] == [
            (10197, "No market data during competing live session")
        ]
        assert math.isnan(blocked.bid)


async def test_historical_data_error_162() -> None:
    async with running(Scenario(error_rules=[ErrorRule.historical_data()])) as (_tws, ib):
        errors = _errors(ib)
        spx = Contract(conId=416904, exchange="CBOE")
        bars = await ib.reqHistoricalDataAsync(spx, "", "5 D", "1 day", "TRADES", True)
        assert list(bars) == []
        assert [code for _, code, _ in errors] == [162]
        assert len(await ib.reqHistoricalDataAsync(spx, "", "5 D", "1 day", "TRADES", True)) > 0


async def test_client_id_held_by_a_stale_session_326() -> None:
    async with FakeTWS(Scenario(busy_client_ids={17: 1})) as tws:
        ib = IB()
        errors = _errors(ib)
        with pytest.raises((ConnectionError, TimeoutError)):
            await ib.connectAsync(HOST, tws.port, clientId=17, timeout=0.5)
        assert 326 in [code for _, code, _ in errors]
        await ib.connectAsync(HOST, tws.port, clientId=17, timeout=5)  # the 2nd try is let in
        tws.hold_client_id(18)
        other = IB()
        with pytest.raises((ConnectionError, TimeoutError)):
            await other.connectAsync(HOST, tws.port, clientId=18, timeout=0.5)
        tws.release_client_id(18)
        await other.connectAsync(HOST, tws.port, clientId=18, timeout=5)
        assert sorted(tws.connected_client_ids) == [17, 18]
        ib.disconnect()
        other.disconnect()


# ------------------------------------------------------------ quote faults


async def test_nan_unset_and_missing_greeks_and_a_missing_bid_for_chosen_strikes() -> None:
    scenario = Scenario()
    expiry = spxw_expiry(scenario)
    nan, unset, missing, no_bid = (
        scenario.option("SPXW", expiry, k, "P").con_id for k in (4800.0, 4810.0, 4820.0, 4830.0)
    )
    scenario.greeks_faults = {
        nan: GreeksFault.NAN,
        unset: GreeksFault.UNSET,
        missing: GreeksFault.MISSING,
    }
    scenario.no_bid = {no_bid}
    async with running(scenario) as (_tws, ib):
        t = {c: ib.reqMktData(Option(conId=c, exchange="SMART")) for c in (nan, unset, missing)}
        t[no_bid] = ib.reqMktData(Option(conId=no_bid, exchange="SMART"))
        await until(lambda: all(x.ask == x.ask for x in t.values()))
        await until(lambda: t[nan].modelGreeks is not None and t[unset].modelGreeks is not None)
        nan_greeks, unset_greeks = t[nan].modelGreeks, t[unset].modelGreeks
        assert nan_greeks is not None and unset_greeks is not None
        assert math.isnan(nan_greeks.delta or 0.0) and math.isnan(nan_greeks.impliedVol or 0.0)
        assert (unset_greeks.delta, unset_greeks.impliedVol, unset_greeks.optPrice) == (
            None,
            None,
            None,
        )
        assert t[missing].modelGreeks is None and t[missing].bid > 0
        # IB sends bid -1 size 0; ib_async keeps its emptyPrice (-1) and size 0
        assert (t[no_bid].bid, t[no_bid].bidSize) == (-1.0, 0.0) and t[no_bid].ask > 0


async def test_far_wing_has_no_bid_at_dte_2() -> None:
    wednesday = date(2026, 11, 18)
    friday = (wednesday + timedelta(days=2)).strftime("%Y%m%d")
    scenario = Scenario(today=wednesday)
    wing = scenario.option("SPXW", friday, 4700.0, "P")
    quote = scenario.quote_for(wing)
    assert quote is not None and not quote.bid and not quote.bid_size
    assert quote.ask is not None and 0 < quote.ask <= 0.10
    legs = [
        ComboLegSpec(scenario.option("SPXW", friday, 4900.0, "P").con_id, 1, "BUY"),
        ComboLegSpec(wing.con_id, 1, "SELL"),
    ]
    combo = scenario.combo_quote(legs)
    assert combo is not None and combo.bid is not None and combo.ask is not None
    async with running(scenario) as (_tws, ib):
        ticker = ib.reqMktData(Option(conId=wing.con_id, exchange="SMART"))
        await until(lambda: ticker.ask == ticker.ask)
        assert (ticker.bid, ticker.bidSize) == (-1.0, 0.0)  # no bid
        assert ticker.ask == quote.ask
