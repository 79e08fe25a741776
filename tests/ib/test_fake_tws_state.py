"""Gateway state that outlives a client (and the server): orders, executions,
positions, expiries and daily bars, seen through the real ib_async client."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, Contract, ExecutionFilter, Fill, LimitOrder, Option

from tests.fake_tws import (
    SPX_CON_ID,
    VIX_CON_ID,
    FakeTWS,
    FillPolicy,
    GatewayState,
    In,
    PositionSpec,
    Scenario,
)
from tests.ib.fake_tws_support import (  # noqa: F401  (autouse fixture)
    HOST,
    TEST_TIMEOUT,
    iron_condor,
    no_decoding_errors,
    running,
    spxw_expiry,
    until,
)

NY = ZoneInfo("America/New_York")


async def _connect(tws: FakeTWS, client_id: int) -> IB:
    ib = IB()
    await ib.connectAsync(HOST, tws.port, clientId=client_id, timeout=5)
    return ib


async def test_working_order_outlives_its_client_and_is_adopted() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(scenario) as tws:
        first = await _connect(tws, 17)
        trade = first.placeOrder(bag, LimitOrder("SELL", 3, 12.0, orderRef="alvh:d42"))
        await until(lambda: trade.orderStatus.status == "Submitted")
        tws.fill_order(trade.order.orderId, quantity=1)
        await until(lambda: trade.orderStatus.filled == 1)
        order_id, perm_id = trade.order.orderId, trade.order.permId
        first.disconnect()
        await tws.wait_until(lambda: tws.connected_client_ids == [])
        assert tws.open_orders()[0].is_working

        other = await _connect(tws, 18)  # another client id sees it, cannot touch it
        assert await other.reqOpenOrdersAsync() == []
        [seen] = await other.reqAllOpenOrdersAsync()
        assert (seen.order.orderId, seen.order.clientId, seen.order.permId) == (
            order_id,
            17,
            perm_id,
        )
        assert seen.order.orderRef == "alvh:d42"
        assert (seen.orderStatus.status, seen.orderStatus.filled) == ("Submitted", 1)
        assert seen.orderStatus.remaining == 2
        other.disconnect()

        owner = await _connect(tws, 17)  # the owner adopts it: modify, then cancel
        [adopted] = owner.openTrades()
        assert (adopted.order.orderId, adopted.order.orderRef) == (order_id, "alvh:d42")
        assert owner.client.getReqId() > order_id
        adopted.order.lmtPrice = 11.8
        owner.placeOrder(adopted.contract, adopted.order)
        await tws.wait_until(lambda: tws.order(order_id).req.lmt_price == 11.8)
        owner.cancelOrder(adopted.order)
        await until(lambda: adopted.orderStatus.status == "Cancelled")
        assert tws.order(order_id).filled == 1
        owner.disconnect()


async def test_req_executions_honours_the_time_filter_and_execution_days() -> None:
    scenario = Scenario(fill_policy=FillPolicy.immediate())
    day1 = datetime(2026, 11, 19, 15, 0, tzinfo=NY)
    day2 = datetime(2026, 11, 20, 10, 0, tzinfo=NY)
    scenario.set_now(day1)
    async with running(scenario) as (_tws, ib):
        option = scenario.option("VIX", scenario.chain("VIX").expirations[1], 20.0, "C")
        [contract] = await ib.qualifyContractsAsync(Contract(conId=option.con_id))
        assert isinstance(contract, Contract)
        first = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.0))
        await until(lambda: first.isDone())
        scenario.set_now(day2)
        second = ib.placeOrder(contract, LimitOrder("BUY", 1, 1.1))
        await until(lambda: second.isDone())

        def prices(fills: list[Fill]) -> list[float]:
            return [f.execution.price for f in fills]

        assert prices(await ib.reqExecutionsAsync()) == [1.0, 1.1]
        since_utc = (day2 - timedelta(minutes=1)).astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
        assert prices(await ib.reqExecutionsAsync(ExecutionFilter(time=since_utc))) == [1.1]
        since_ny = (day2 + timedelta(minutes=1)).strftime("%Y%m%d %H:%M:%S") + " US/Eastern"
        assert prices(await ib.reqExecutionsAsync(ExecutionFilter(time=since_ny))) == []
        scenario.execution_days = 1  # IB Gateway: today's executions only
        assert prices(await ib.reqExecutionsAsync()) == [1.1]


async def test_state_file_brings_back_positions_orders_and_executions(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    scenario = Scenario(order_policies=[FillPolicy.immediate(), FillPolicy.partial(1)])
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(scenario, state_path=path) as tws:
        ib = await _connect(tws, 17)
        filled = ib.placeOrder(bag, LimitOrder("SELL", 2, 12.0, orderRef="a"))
        working = ib.placeOrder(bag, LimitOrder("BUY", 2, 6.0, orderRef="b"))
        await until(lambda: filled.isDone() and working.orderStatus.filled == 1)
        ib.disconnect()
        before = GatewayState.load(path)
    assert before.to_dict() == tws.state.to_dict()
    assert len(before.executions) == 10 and before.next_exec_seq == 3

    # a new server (a restarted gateway) on the same file serves the same state
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario(), state_path=path) as again:
        ib = await _connect(again, 17)
        assert {p.contract.conId: p.position for p in ib.positions()} == {
            leg.conId: (-1.0 if leg.action == "BUY" else 1.0) for leg in bag.comboLegs
        }
        [adopted] = ib.openTrades()
        assert (adopted.order.orderRef, adopted.orderStatus.filled) == ("b", 1)
        fills = await ib.reqExecutionsAsync()
        assert sorted(f.execution.execId for f in fills) == sorted(
            e.exec_id for e in before.executions
        )
        legs = [f for f in ib.fills() if f.contract.secType == "OPT"]  # with their reports
        assert len(legs) == 8 and all(f.commissionReport.commission > 0 for f in legs)
        again.fill_order(adopted.order.orderId)
        await until(lambda: adopted.orderStatus.status == "Filled")
        new_ids = {e.exec_id for e in again.executions} - {e.exec_id for e in before.executions}
        assert len(new_ids) == 5 and all(".00000003." in x for x in new_ids)
        nxt = ib.placeOrder(bag, LimitOrder("SELL", 1, 12.0))
        assert nxt.order.orderId > adopted.order.orderId
        assert ib.positions() == []  # all closed
        ib.disconnect()


async def test_held_option_disappears_after_its_expiry_session() -> None:
    expiry_day = date(2026, 11, 20)
    scenario = Scenario(today=date(2026, 11, 16), fill_policy=FillPolicy.never())
    expiry = expiry_day.strftime("%Y%m%d")
    short_put = scenario.option("SPXW", expiry, 4900.0, "P")
    later = scenario.option("SPXW", spxw_expiry(scenario), 4900.0, "P")
    scenario.positions = [
        PositionSpec("DU1234567", short_put.con_id, -2, -150.0),
        PositionSpec("DU1234567", later.con_id, -1, -900.0),
    ]
    scenario.set_now(datetime.combine(expiry_day, time(15, 0), NY))
    async with running(scenario) as (tws, ib):
        held = {p.contract.conId for p in ib.positions()}
        assert held == {short_put.con_id, later.con_id}
        [contract] = await ib.qualifyContractsAsync(
            Option(conId=short_put.con_id, exchange="SMART")
        )
        assert isinstance(contract, Contract)
        closing = ib.placeOrder(contract, LimitOrder("BUY", 2, 0.05))
        await until(lambda: closing.orderStatus.status == "Submitted")

        assert tws.process_expiries() == []  # the session is not over yet
        gone = tws.set_now(datetime.combine(expiry_day, time(17, 0), NY))
        assert [(x.contract.con_id, x.quantity) for x in gone] == [(short_put.con_id, -2)]
        await until(lambda: {p.contract.conId for p in ib.positions()} == {later.con_id})
        await until(lambda: closing.orderStatus.status == "Cancelled")
        assert [p.contract.conId for p in await ib.reqPositionsAsync()] == [later.con_id]
        assert tws.position_quantities() == {later.con_id: -1}


async def test_daily_bars_give_the_settlement_close() -> None:
    session = date(2026, 11, 20)
    scenario = Scenario(today=session)
    scenario.daily_closes = {"SPX": {session: 5012.34}, "VIX": {session: 16.1}}
    scenario.set_now(datetime.combine(session + timedelta(days=3), time(9, 0), NY))
    async with running(scenario) as (tws, ib):
        spx = Contract(conId=SPX_CON_ID, exchange="CBOE")
        bars = await ib.reqHistoricalDataAsync(spx, "", "10 D", "1 day", "TRADES", True)
        by_day = {b.date: b.close for b in bars}
        assert by_day[session] == 5012.34
        assert all(d.weekday() < 5 for d in by_day)
        assert max(by_day) == session + timedelta(days=3)  # Monday, at the current spot
        assert by_day[max(by_day)] == 5000.0
        vix = Contract(conId=VIX_CON_ID, exchange="CBOE")
        end = f"{session:%Y%m%d} 23:59:59 US/Eastern"
        [bar] = await ib.reqHistoricalDataAsync(vix, end, "1 D", "1 day", "TRADES", True)
        assert (bar.date, bar.close) == (session, 16.1)
        msg = tws.messages(In.REQ_HISTORICAL_DATA)[-1]
        assert msg.fields[15:18] == [end, "1 day", "1 D"]


@pytest.mark.parametrize("bar_size", ["5 mins", "1 hour"])
async def test_intraday_bars_are_refused_with_162(bar_size: str) -> None:
    async with running() as (_tws, ib):
        codes: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
        spx = Contract(conId=SPX_CON_ID, exchange="CBOE")
        assert list(await ib.reqHistoricalDataAsync(spx, "", "1 D", bar_size, "TRADES", True)) == []
        assert codes == [162]
