"""Tests of the fake TWS server against the real, unmodified ib_async client.

Every test runs the server on 127.0.0.1 (ephemeral port) in the test's event
loop and bounds itself with ``asyncio.timeout`` so nothing can hang.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from ib_async import (
    IB,
    Contract,
    Future,
    Index,
    LimitOrder,
    Option,
)
from ib_async.client import Client

from tests.fake_tws import (
    SERVER_VERSION,
    SPX_CON_ID,
    VIX_CON_ID,
    ComboLegSpec,
    DropRule,
    ErrorRule,
    FillPolicy,
    In,
    Out,
    PositionSpec,
    Quote,
    Scenario,
)
from tests.fake_tws import protocol as p
from tests.ib.fake_tws_support import (  # noqa: F401  (autouse fixture)
    HOST,
    iron_condor,
    no_decoding_errors,
    running,
    spxw_expiry,
    until,
)

# ------------------------------------------------------------------- connection


@pytest.mark.parametrize("accounts", [["DU1234567"], ["U7654321", "U7654322"]])
async def test_connect_reports_accounts_and_negotiates_server_version(
    accounts: list[str],
) -> None:
    scenario = Scenario(accounts=accounts)
    async with running(scenario, client_id=7) as (tws, ib):
        assert ib.isConnected()
        assert ib.managedAccounts() == accounts
        assert ib.client.serverVersion() == tws.server_version == SERVER_VERSION
        assert Client.MinClientVersion <= SERVER_VERSION <= Client.MaxClientVersion
        assert Client.MaxClientVersion == SERVER_VERSION
        assert tws.handshakes == [f"v{Client.MinClientVersion}..{Client.MaxClientVersion}"]
        start = tws.messages(In.START_API)
        assert len(start) == 1 and start[0].fields[2] == "7"
        assert tws.connected_client_ids == [7]
        # ib_async's startup sync: positions, open/completed orders, account data, executions
        sent_ids = {m.msg_id for m in tws.received}
        assert {In.REQ_POSITIONS, In.REQ_OPEN_ORDERS, In.REQ_EXECUTIONS} <= sent_ids
        assert In.REQ_ACCOUNT_UPDATES_MULTI in sent_ids
        net_liq = {v.account: v.value for v in ib.accountValues() if v.tag == "NetLiquidation"}
        assert net_liq == dict.fromkeys(accounts, "250000.00")
        assert not tws.messages(In.PLACE_ORDER)


async def test_initial_positions_and_account_summary() -> None:
    scenario = Scenario()
    expiry = spxw_expiry(scenario)
    put = scenario.option("SPXW", expiry, 4800.0, "P")
    scenario.positions = [PositionSpec("DU1234567", put.con_id, -2, 1540.0)]
    async with running(scenario) as (_tws, ib):
        positions = ib.positions()
        assert len(positions) == 1
        pos = positions[0]
        assert (pos.account, pos.contract.conId, pos.position, pos.avgCost) == (
            "DU1234567",
            put.con_id,
            -2.0,
            1540.0,
        )
        assert pos.contract.tradingClass == "SPXW"
        portfolio = ib.portfolio()
        assert [item.contract.conId for item in portfolio] == [put.con_id]
        summary = await ib.accountSummaryAsync("DU1234567")
        tags = {v.tag: v.value for v in summary}
        assert tags["NetLiquidation"] == "250000.00"
        assert tags["AccountType"] == "INDIVIDUAL"


async def test_client_id_in_use_is_refused() -> None:
    async with running(client_id=3) as (tws, _ib):
        other = IB()
        with pytest.raises((ConnectionError, asyncio.TimeoutError)):
            await other.connectAsync(HOST, tws.port, clientId=3, timeout=1)
        assert any(m.fields[:4] == ["4", "2", "-1", "326"] for m in tws.sent)
        other.disconnect()


async def test_current_time_and_req_ids() -> None:
    fixed = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
    async with running(Scenario(clock=lambda: fixed, next_order_id=100)) as (tws, ib):
        assert await ib.reqCurrentTimeAsync() == fixed
        assert ib.client.getReqId() >= 100
        ib.client.reqIds(1)
        await until(lambda: len(tws.sent_messages(Out.NEXT_VALID_ID)) == 2)


# -------------------------------------------------------------------- contracts


async def test_contract_details_for_spxw_option() -> None:
    scenario = Scenario()
    expiry = spxw_expiry(scenario)
    expected = scenario.option("SPXW", expiry, 4850.0, "P")
    async with running(scenario) as (tws, ib):
        query = Option("SPX", expiry, 4850, "P", "SMART", tradingClass="SPXW")
        details = await ib.reqContractDetailsAsync(query)
        assert len(details) == 1
        cd = details[0]
        c = cd.contract
        assert c is not None
        assert (c.conId, c.symbol, c.secType, c.strike, c.right) == (
            expected.con_id,
            "SPX",
            "OPT",
            4850.0,
            "P",
        )
        assert c.lastTradeDateOrContractMonth == expiry
        assert (c.multiplier, c.tradingClass, c.exchange) == ("100", "SPXW", "SMART")
        assert c.localSymbol == f"SPXW  {expiry[2:]}P04850000"
        assert cd.underConId == SPX_CON_ID
        assert cd.minTick == 0.05
        assert cd.lastTradeTime == "16:00"
        assert cd.timeZoneId == "US/Eastern"

        [qualified] = await ib.qualifyContractsAsync(
            Option("SPX", expiry, 4850, "P", "SMART", tradingClass="SPXW")
        )
        assert isinstance(qualified, Contract) and qualified.conId == expected.con_id

        # the request went over the wire with ib_async's field order
        msg = tws.messages(In.REQ_CONTRACT_DETAILS)[0]
        assert msg.fields[4:7] == ["SPX", "OPT", expiry]
        assert (float(msg.fields[7]), msg.fields[8]) == (4850.0, "P")


async def test_contract_details_for_indices_and_vix_futures() -> None:
    scenario = Scenario()
    async with running(scenario) as (_tws, ib):
        [spx] = await ib.reqContractDetailsAsync(Index("SPX", "CBOE"))
        assert spx.contract is not None and spx.contract.conId == SPX_CON_ID
        [vix] = await ib.reqContractDetailsAsync(Index("VIX", "CBOE"))
        assert vix.contract is not None and vix.contract.conId == VIX_CON_ID
        futures = await ib.reqContractDetailsAsync(Future("VIX", exchange="CFE"))
        assert len(futures) == 6
        first = futures[0].contract
        assert first is not None
        assert (first.multiplier, first.tradingClass) == ("1000", "VX")
        month = futures[1].contractMonth
        by_month = await ib.reqContractDetailsAsync(Future("VIX", month, "CFE"))
        assert [d.contract.conId for d in by_month if d.contract] == [
            futures[1].contract.conId if futures[1].contract else -1
        ]


async def test_unknown_contract_gives_error_200() -> None:
    async with running() as (_tws, ib):
        errors: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
        details = await ib.reqContractDetailsAsync(Option("SPX", "20991231", 1, "C", "SMART"))
        assert details == []
        assert [code for _, code, _ in errors] == [200]


async def test_sec_def_opt_params_for_spx_and_vix() -> None:
    scenario = Scenario()
    async with running(scenario) as (_tws, ib):
        chains = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", SPX_CON_ID)
        by_key = {(c.exchange, c.tradingClass): c for c in chains}
        assert set(by_key) == {
            ("SMART", "SPXW"),
            ("CBOE", "SPXW"),
            ("SMART", "SPX"),
            ("CBOE", "SPX"),
        }
        spxw = by_key[("SMART", "SPXW")]
        assert int(spxw.underlyingConId) == SPX_CON_ID  # ib_async keeps it as text
        assert spxw.multiplier == "100"
        assert list(spxw.expirations) == scenario.chain("SPXW").expirations
        assert list(spxw.strikes) == scenario.chain("SPXW").strikes
        assert 5000.0 in spxw.strikes

        vix_chains = await ib.reqSecDefOptParamsAsync("VIX", "", "IND", VIX_CON_ID)
        assert {c.tradingClass for c in vix_chains} == {"VIX"}
        assert list(vix_chains[0].expirations) == scenario.chain("VIX").expirations


# ------------------------------------------------------------------ market data


async def test_mkt_data_gives_bid_ask_and_model_greeks() -> None:
    scenario = Scenario()
    expiry = spxw_expiry(scenario)
    spec = scenario.option("SPXW", expiry, 4800.0, "P")
    quote = scenario.quote_for(spec)
    assert quote is not None and quote.greeks is not None
    async with running(scenario) as (tws, ib):
        contract = Option(conId=spec.con_id, exchange="SMART")
        ticker = ib.reqMktData(contract, "", False, False)
        await until(lambda: ticker.modelGreeks is not None and ticker.ask == ticker.ask)
        assert (ticker.bid, ticker.ask) == (quote.bid, quote.ask)
        assert ticker.bidSize == quote.bid_size
        assert ticker.last == quote.last
        greeks = ticker.modelGreeks
        assert greeks is not None
        assert greeks.delta == pytest.approx(quote.greeks.delta)
        assert greeks.delta is not None and greeks.delta < 0  # a put
        assert greeks.impliedVol == pytest.approx(quote.greeks.implied_vol)
        assert greeks.undPrice == pytest.approx(5000.0)
        assert ticker.bidGreeks is not None and ticker.askGreeks is not None
        assert ticker.marketDataType == 1
        assert ticker.minTick == 0.05

        # streaming: a new quote reaches the same ticker
        tws.set_quote(spec.con_id, dataclasses.replace(quote, bid=9.5, ask=9.9))
        await until(lambda: ticker.bid == 9.5)
        assert ticker.ask == 9.9
        ib.cancelMktData(contract)
        await tws.wait_for_message(In.CANCEL_MKT_DATA)


async def test_mkt_data_for_index_and_delayed_data() -> None:
    async with running() as (tws, ib):
        ib.reqMarketDataType(3)
        [index] = await ib.qualifyContractsAsync(Index("SPX", "CBOE"))
        assert isinstance(index, Contract)
        spx = ib.reqMktData(index)
        await until(lambda: spx.close == spx.close and spx.last == spx.last)
        assert spx.last == 5000.0
        assert spx.marketDataType == 3
        ticks = {m.fields[3] for m in tws.sent_messages(Out.TICK_PRICE)}
        assert ticks == {str(int(p.TickType.DELAYED_LAST)), str(int(p.TickType.DELAYED_CLOSE))}
        tws.set_spot("SPX", 5012.5)
        await until(lambda: spx.last == 5012.5)


async def test_mkt_data_for_bag_quotes_the_natural_combo() -> None:
    scenario = Scenario()
    bag = iron_condor(scenario, spxw_expiry(scenario))
    legs = [ComboLegSpec(leg.conId, leg.ratio, leg.action) for leg in bag.comboLegs]
    expected = scenario.combo_quote(legs)
    assert expected is not None and expected.bid is not None and expected.ask is not None
    async with running(scenario) as (_tws, ib):
        ticker = ib.reqMktData(bag)
        await until(lambda: ticker.bid == ticker.bid and ticker.ask == ticker.ask)
        assert (ticker.bid, ticker.ask) == (expected.bid, expected.ask)
        assert expected.bid < expected.ask


async def test_injected_error_replaces_the_response() -> None:
    scenario = Scenario(
        error_rules=[ErrorRule(In.REQ_MKT_DATA, 354, "Requested market data is not subscribed.")]
    )
    async with running(scenario) as (tws, ib):
        errors: list[tuple[int, int]] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
        ticker = ib.reqMktData(Index("SPX", "CBOE", conId=SPX_CON_ID))
        req_id = int((await tws.wait_for_message(In.REQ_MKT_DATA)).fields[2])
        await until(lambda: bool(errors))
        assert errors == [(req_id, 354)]
        assert ticker.last != ticker.last  # nan: no data was served
        assert not tws.sent_messages(Out.TICK_PRICE)


# ----------------------------------------------------------------------- orders


async def test_bag_order_fills_with_leg_and_combo_executions() -> None:
    scenario = Scenario()
    expiry = spxw_expiry(scenario)
    bag = iron_condor(scenario, expiry)
    async with running(scenario) as (tws, ib):
        order = LimitOrder("SELL", 2, 12.40)
        trade = ib.placeOrder(bag, order)
        await until(lambda: trade.orderStatus.status == "Filled")
        await until(
            lambda: (
                len(ib.fills()) == 5
                and all(
                    f.commissionReport.execId for f in ib.fills() if f.contract.secType != "BAG"
                )
            )
        )
        assert trade.orderStatus.filled == 2
        assert trade.orderStatus.remaining == 0
        assert trade.orderStatus.avgFillPrice == pytest.approx(12.40)
        assert trade.filled() == 2  # counts the BAG execution only

        fills = ib.fills()
        leg_fills = [f for f in fills if f.contract.secType == "OPT"]
        bag_fills = [f for f in fills if f.contract.secType == "BAG"]
        assert len(leg_fills) == 4 and len(bag_fills) == 1
        assert bag_fills[0].execution.side == "SLD"
        assert bag_fills[0].execution.price == pytest.approx(12.40)
        sides = {f.contract.conId: f.execution.side for f in leg_fills}
        assert sides == {
            leg.conId: "SLD" if leg.action == "BUY" else "BOT" for leg in bag.comboLegs
        }
        credit = sum(
            f.execution.price * (1 if f.execution.side == "SLD" else -1) for f in leg_fills
        )
        assert credit == pytest.approx(12.40, abs=1e-6)
        for f in leg_fills:
            assert f.execution.shares == 2
            assert f.execution.orderId == order.orderId
            assert f.execution.permId == trade.order.permId > 0
            assert f.commissionReport.commission == pytest.approx(1.30)
            assert f.commissionReport.currency == "USD"
        assert all(f in trade.fills for f in fills)

        # positions pushed to the position subscription, avgCost includes the multiplier
        await until(lambda: len(ib.positions()) == 4)
        qty = {p.contract.conId: p.position for p in ib.positions()}
        assert qty == {leg.conId: -2.0 if leg.action == "BUY" else 2.0 for leg in bag.comboLegs}

        # what went over the wire: one placeOrder carrying the 4 legs
        [msg] = tws.messages(In.PLACE_ORDER)
        req = p.parse_place_order(msg.fields)
        assert req.contract.sec_type == "BAG"
        assert [(leg.con_id, leg.action, leg.ratio) for leg in req.combo_legs] == [
            (leg.conId, leg.action, leg.ratio) for leg in bag.comboLegs
        ]
        assert (req.action, req.total_quantity, req.lmt_price) == ("SELL", 2.0, 12.40)
        assert tws.order(order.orderId).status == "Filled"


async def test_partial_fill_then_rest_then_complete() -> None:
    scenario = Scenario(fill_policy=FillPolicy.partial(1))
    expiry = spxw_expiry(scenario)
    async with running(scenario) as (tws, ib):
        [contract] = await ib.qualifyContractsAsync(
            Option("SPX", expiry, 5200, "C", "SMART", tradingClass="SPXW")
        )
        assert isinstance(contract, Contract)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 3, 20.0))
        await until(lambda: trade.orderStatus.filled == 1)
        assert trade.orderStatus.status == "Submitted"
        assert trade.orderStatus.remaining == 2
        assert trade.isActive()
        assert [f.execution.shares for f in trade.fills] == [1.0]

        tws.fill_order(trade.order.orderId, price=19.9)
        await until(lambda: trade.orderStatus.status == "Filled")
        assert trade.orderStatus.filled == 3
        assert trade.orderStatus.lastFillPrice == pytest.approx(19.9)
        assert trade.orderStatus.avgFillPrice == pytest.approx((20.0 + 2 * 19.9) / 3)
        assert [f.execution.cumQty for f in trade.fills] == [1.0, 3.0]


async def test_rejection_reaches_error_event_and_trade_log() -> None:
    scenario = Scenario(fill_policy=FillPolicy.reject("Insufficient margin"))
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        errors: list[tuple[int, int, str]] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code, msg))
        trade = ib.placeOrder(bag, LimitOrder("SELL", 1, 12.0))
        await until(lambda: trade.isDone())
        assert errors == [(trade.order.orderId, 201, "Order rejected - reason:Insufficient margin")]
        assert trade.orderStatus.status == "Cancelled"
        entry = trade.log[-1]
        assert entry.errorCode == 201
        assert "Insufficient margin" in entry.message
        assert not trade.fills and not tws.executions
        assert tws.order(trade.order.orderId).status == "Inactive"


async def test_price_walking_fills_only_when_limit_crosses() -> None:
    scenario = Scenario(fill_policy=FillPolicy.when_crosses(12.00))
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        order = LimitOrder("SELL", 1, 12.60)
        trade = ib.placeOrder(bag, order)
        await until(lambda: trade.orderStatus.status == "Submitted")
        for price in (12.40, 12.20):
            order.lmtPrice = price
            ib.placeOrder(bag, order)
            acks = len(tws.sent_messages(Out.ORDER_STATUS)) + 1

            def acknowledged(n: int = acks) -> bool:
                return len(tws.sent_messages(Out.ORDER_STATUS)) == n

            await until(acknowledged)
            await asyncio.sleep(0.02)  # let ib_async process the acknowledgement
            assert trade.orderStatus.status == "Submitted"
            assert not trade.fills
        order.lmtPrice = 11.95
        ib.placeOrder(bag, order)
        await until(lambda: trade.orderStatus.status == "Filled")
        bag_fill = next(f for f in trade.fills if f.contract.secType == "BAG")
        assert bag_fill.execution.price == pytest.approx(11.95)
        sent = [p.parse_place_order(m.fields) for m in tws.messages(In.PLACE_ORDER)]
        assert [r.lmt_price for r in sent] == [12.60, 12.40, 12.20, 11.95]
        assert {r.order_id for r in sent} == {order.orderId}


async def test_marketable_order_fills_when_quote_moves_through_limit() -> None:
    scenario = Scenario(fill_policy=FillPolicy.marketable())
    chain = scenario.chain("VIX")
    spec = chain.contract(chain.con_id(chain.expirations[1], 20.0, "C"))
    scenario.quotes[spec.con_id] = Quote(bid=1.10, ask=1.20, last=1.15)
    async with running(scenario) as (tws, ib):
        [contract] = await ib.qualifyContractsAsync(Contract(conId=spec.con_id))
        assert isinstance(contract, Contract)
        trade = ib.placeOrder(contract, LimitOrder("BUY", 5, 1.05))
        await until(lambda: trade.orderStatus.status == "Submitted")
        tws.set_quote(spec.con_id, Quote(bid=0.95, ask=1.00, last=1.00))
        await until(lambda: trade.orderStatus.status == "Filled")
        [fill] = trade.fills
        assert fill.contract.conId == spec.con_id
        assert fill.contract.tradingClass == "VIX"
        assert (fill.execution.side, fill.execution.shares, fill.execution.price) == (
            "BOT",
            5.0,
            1.05,
        )


async def test_never_fill_then_cancel() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        trade = ib.placeOrder(bag, LimitOrder("SELL", 1, 30.0))
        await until(lambda: trade.orderStatus.status == "Submitted")
        open_trades = await ib.reqOpenOrdersAsync()
        assert [t.order.orderId for t in open_trades] == [trade.order.orderId]
        ib.cancelOrder(trade.order)
        await until(lambda: trade.orderStatus.status == "Cancelled")
        await tws.wait_for_message(In.CANCEL_ORDER)
        assert tws.order(trade.order.orderId).status == "Cancelled"
        assert not tws.executions


async def test_what_if_order_returns_margin_without_placing() -> None:
    scenario = Scenario(what_if_margin_per_unit=4000.0)
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario) as (tws, ib):
        state = await ib.whatIfOrderAsync(bag, LimitOrder("SELL", 1, 12.0))
        assert float(state.initMarginChange) == pytest.approx(8000.0)
        assert not tws.orders


# ------------------------------------------------------------ disconnects


async def test_dropped_connection_then_reconnect_sees_fill_made_while_away() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario, client_id=5) as (tws, ib):
        trade = ib.placeOrder(bag, LimitOrder("SELL", 1, 12.0))
        await until(lambda: trade.orderStatus.status == "Submitted")
        order_id = trade.order.orderId

        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        await tws.drop_connections()
        await asyncio.wait_for(dropped.wait(), 5)
        assert not ib.isConnected()
        assert tws.connected_client_ids == []

        records = tws.fill_order(order_id, client_id=5)  # the fill happens while away
        assert len(records) == 5

        await ib.connectAsync(HOST, tws.port, clientId=5, timeout=5)
        assert ib.isConnected()
        fills = await ib.reqExecutionsAsync()
        assert sorted(f.execution.execId for f in fills) == sorted(r.exec_id for r in records)
        assert all(f.execution.orderId == order_id for f in fills)
        bag_fill = next(f for f in fills if f.contract.secType == "BAG")
        assert bag_fill.execution.price == pytest.approx(12.0)
        # the startup sync already fetched them, with commission reports for the legs
        legs = [f for f in ib.fills() if f.contract.secType == "OPT"]
        assert len(legs) == 4
        assert all(f.commissionReport.commission > 0 for f in legs)
        assert await ib.reqOpenOrdersAsync() == []


async def test_drop_rule_fills_order_while_client_is_away() -> None:
    scenario = Scenario(drop_rules=[DropRule(In.PLACE_ORDER, handle_first=True)])
    bag = iron_condor(scenario, spxw_expiry(scenario))
    async with running(scenario, client_id=2) as (tws, ib):
        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        trade = ib.placeOrder(bag, LimitOrder("SELL", 1, 12.0))
        await asyncio.wait_for(dropped.wait(), 5)
        assert trade.orderStatus.status == "PendingSubmit"  # nothing came back
        assert len(tws.executions) == 5
        assert not tws.sent_messages(Out.EXECUTION_DATA)

        await ib.connectAsync(HOST, tws.port, clientId=2, timeout=5)
        fills = await ib.reqExecutionsAsync()
        assert {f.execution.execId for f in fills} == {e.exec_id for e in tws.executions}


async def test_connectivity_lost_error_reaches_client() -> None:
    async with running() as (tws, ib):
        errors: list[int] = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
        tws.send_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
        tws.send_error(1102, "Connectivity between IB and Trader Workstation has been restored.")
        await until(lambda: errors == [1100, 1102])
        assert ib.isConnected()
