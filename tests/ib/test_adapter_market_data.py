"""IBBroker market data against the fake TWS: context, chains with greeks, quotes."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, time

import numpy as np
import pytest

from daemon.brokers.base import BrokerError
from daemon.brokers.ib import DelayedDataRefusedError
from daemon.brokers.ib.contracts import expected_move, years_to_expiry
from strategies.domain import Right
from tests.fake_tws import ErrorRule, In, Quote, Scenario
from tests.fake_tws import protocol as p
from tests.fake_tws.server import FakeTWS
from tests.ib.test_adapter_helpers import option, running_broker, session_clock


def max_open_lines(tws: FakeTWS) -> int:
    """Most market-data lines the client had open at once (from the wire)."""
    open_lines: set[str] = set()
    peak = 0
    for m in tws.received:
        if m.msg_id == In.REQ_MKT_DATA:
            open_lines.add(m.fields[2])
        elif m.msg_id == In.CANCEL_MKT_DATA:
            open_lines.discard(m.fields[2])
        peak = max(peak, len(open_lines))
    return peak


async def test_market_context_reads_indices_and_the_vix_futures_curve() -> None:
    scenario = Scenario()
    async with running_broker(scenario) as (tws, broker, _log, _fills):
        ctx = await broker.market_context()
        assert ctx.session == scenario.today
        assert (ctx.spx, ctx.vix) == (5000.0, 15.0)
        # the fake lists no VIX9D/VIX3M/VVIX/SKEW: None, not a failure
        assert (ctx.vix9d, ctx.vix3m, ctx.vvix, ctx.skew) == (None, None, None, None)
        futures = [c for c in scenario.contracts if c.sec_type == "FUT"]
        expected = {
            datetime.strptime(c.last_trade_date, "%Y%m%d").date(): scenario.underlying_price(c)
            for c in futures
        }
        assert dict(ctx.vix_futures) == pytest.approx(expected)
        assert list(ctx.vix_futures) == sorted(expected)
        # every line opened was closed again
        opened = len(tws.messages(In.REQ_MKT_DATA))
        assert opened == 2 + len(futures)
        await tws.wait_until(lambda: len(tws.messages(In.CANCEL_MKT_DATA)) == opened)


async def test_spxw_chain_quotes_only_the_window_within_the_line_budget() -> None:
    scenario = Scenario()
    async with running_broker(
        scenario,
        market_data_lines=40,
        expiry_targets={"SPXW": 14},
        strike_window_sd=1.5,
        strike_targets={},
    ) as (tws, broker, log, _fills):
        slices = await broker.option_chain("SPX", "SPXW", 7, 21)
        assert {s.right for s in slices} == {Right.PUT, Right.CALL}
        [expiry] = {s.expiry for s in slices}
        dte = (expiry - scenario.today).days
        assert 7 <= dte <= 21
        listed = [
            (datetime.strptime(e, "%Y%m%d").date() - scenario.today).days
            for e in scenario.chain("SPXW").expirations
        ]
        assert abs(dte - 14) == min(abs(d - 14) for d in listed if 7 <= d <= 21)

        puts = next(s for s in slices if s.right is Right.PUT)
        calls = next(s for s in slices if s.right is Right.CALL)
        years = years_to_expiry(session_clock(scenario.today)(), expiry, "SPX", "SPXW")
        move = expected_move(5000.0, 0.15, years, 1.5)
        assert puts.strikes.min() >= 5000.0 - move and puts.strikes.max() <= 5005.0
        assert calls.strikes.max() <= 5000.0 + move and calls.strikes.min() >= 4995.0
        assert np.all(np.diff(puts.strikes) > 0)
        assert puts.dte == dte and puts.t_years == pytest.approx(years)
        assert puts.forward == pytest.approx(5000.0)

        # values are IB's: bid/ask and model greeks, vega converted to per 1.00 vol
        i = int(np.flatnonzero(puts.strikes == 4800.0)[0])
        spec = scenario.option("SPXW", expiry.strftime("%Y%m%d"), 4800.0, "P")
        quote = scenario.quote_for(spec)
        assert quote is not None and quote.greeks is not None
        assert (puts.bid[i], puts.ask[i]) == (quote.bid, quote.ask)
        assert puts.delta[i] == pytest.approx(quote.greeks.delta)
        assert puts.iv[i] == pytest.approx(quote.greeks.implied_vol)
        assert puts.vega[i] == pytest.approx(quote.greeks.vega * 100)
        assert puts.theta[i] == pytest.approx(quote.greeks.theta)
        assert np.isfinite(puts.bid).all() and np.isfinite(calls.delta).all()

        # the line budget held, and the decision's requests were counted and logged
        lines = len(puts.strikes) + len(calls.strikes)
        assert lines > 40
        assert max_open_lines(tws) <= 40
        [requests] = log.events("ib_chain_requests")
        assert requests["lines"] == lines and requests["quoted"] == lines
        assert requests["messages"] >= 2 * lines
        [plan] = log.events("ib_chain_plan")
        assert plan["batches"] == math.ceil(lines / 40)


async def test_chain_has_nan_where_ib_sends_no_quote() -> None:
    scenario = Scenario()
    expiry_text = scenario.chain("SPXW").expirations[10]
    dead = scenario.option("SPXW", expiry_text, 4900.0, "P")
    scenario.quotes[dead.con_id] = Quote()  # listed, but nothing quoted
    async with running_broker(scenario, quote_timeout_s=0.5, strike_targets={}) as (
        _tws,
        broker,
        _log,
        _fills,
    ):
        expiry = datetime.strptime(expiry_text, "%Y%m%d").date()
        dte = (expiry - scenario.today).days
        slices = await broker.option_chain("SPX", "SPXW", dte, dte, rights=(Right.PUT,))
        [puts] = slices
        i = int(np.flatnonzero(puts.strikes == 4900.0)[0])
        assert math.isnan(puts.bid[i]) and math.isnan(puts.ask[i]) and math.isnan(puts.delta[i])
        assert np.isfinite(np.delete(puts.bid, i)).all()


async def test_vix_chain_is_priced_off_the_future_of_the_same_expiry() -> None:
    scenario = Scenario()
    async with running_broker(scenario) as (_tws, broker, _log, _fills):
        slices = await broker.option_chain("VIX", "VIX", 20, 120, rights=(Right.CALL,))
        assert slices and all(s.right is Right.CALL for s in slices)
        futures = {c.last_trade_date: c for c in scenario.contracts if c.sec_type == "FUT"}
        for s in slices:
            future = futures[s.expiry.strftime("%Y%m%d")]
            assert s.forward == pytest.approx(scenario.underlying_price(future))
            assert s.strikes.min() >= s.forward - 1.0  # out-of-the-money calls (+1 ITM strike)
            assert np.isfinite(s.ask).all() and (s.delta > 0).all()


async def test_quote_returns_leg_quotes_in_order() -> None:
    scenario = Scenario()
    legs = [
        option(scenario, "SPXW", 10, 5200.0, Right.CALL),
        option(scenario, "VIX", 1, 20.0, Right.CALL),
        option(scenario, "SPXW", 10, 4800.0, Right.PUT),
    ]
    async with running_broker(scenario) as (_tws, broker, _log, _fills):
        quotes = await broker.quote(legs)
        assert [q.contract for q in quotes] == legs
        for leg, q in zip(legs, quotes, strict=True):
            spec = scenario.option(
                leg.trading_class, leg.expiry.strftime("%Y%m%d"), leg.strike, leg.right.value
            )
            expected = scenario.quote_for(spec)
            assert expected is not None and expected.greeks is not None
            assert (q.bid, q.ask) == (expected.bid, expected.ask)
            assert q.delta == pytest.approx(expected.greeks.delta)
        with pytest.raises(BrokerError, match="lists 0 contracts"):
            await broker.quote([option(scenario, "SPXW", 10, 4801.0, Right.PUT)])


async def test_a_later_quote_reads_the_new_line_not_the_last_value_of_the_previous_one() -> None:
    scenario = Scenario()
    put = option(scenario, "SPXW", 10, 4800.0, Right.PUT)
    spec = scenario.option("SPXW", put.expiry.strftime("%Y%m%d"), 4800.0, "P")
    async with running_broker(scenario) as (tws, broker, _log, _fills):
        [first] = await broker.quote([put])
        ctx = await broker.market_context()
        assert ctx.spx == 5000.0
        # the market moves while no line is open
        tws.set_quote(spec.con_id, Quote(bid=30.0, ask=31.0, greeks=None))
        tws.set_spot("SPX", 4900.0)
        [second] = await broker.quote([put])
        assert (second.bid, second.ask) == (30.0, 31.0) != (first.bid, first.ask)
        assert math.isnan(second.delta)  # no greeks on the new line: none, not the old ones
        assert (await broker.market_context()).spx == 4900.0


async def test_unsubscribed_market_data_is_logged_clearly_and_does_not_stall() -> None:
    scenario = Scenario(
        error_rules=[ErrorRule(In.REQ_MKT_DATA, 354, "Requested market data is not subscribed.")]
    )
    leg = option(scenario, "SPXW", 10, 4800.0, Right.PUT)
    async with running_broker(scenario, quote_timeout_s=3.0) as (_tws, broker, log, _fills):
        loop_time = asyncio.get_running_loop().time
        started = loop_time()
        [q] = await broker.quote([leg])
        assert loop_time() - started < 2.0  # the failed line ends the wait
        assert math.isnan(q.bid) and math.isnan(q.delta)
        [error] = [f for f in log.events("ib_error") if f["code"] == 354]
        assert "OPRA" in error["meaning"]
        [level] = [lvl for lvl, e, f in log.records if e == "ib_error" and f["code"] == 354]
        assert level == "error"


async def test_live_mode_refuses_delayed_data_ib_delivers_anyway() -> None:
    scenario = Scenario(accounts=["U7654321"])
    async with running_broker(
        scenario,
        trading_mode="live",
        account="U7654321",
        market_data_type=1,
        setup=lambda t: setattr(t.scenario, "served_market_data_type", 3),
    ) as (tws, broker, log, _fills):
        assert broker.market_data_type == 1  # requested; nothing delivered yet
        with pytest.raises(DelayedDataRefusedError, match="delayed market data"):
            await broker.market_context()
        [md_type] = tws.messages(In.REQ_MARKET_DATA_TYPE)
        assert md_type.fields[2] == "1"  # we asked for live data
        assert broker.market_data_type == 3  # and were served delayed
        assert log.events("ib_delayed_data_in_live")
        opened = len(tws.messages(In.REQ_MKT_DATA))
        await tws.wait_until(lambda: len(tws.messages(In.CANCEL_MKT_DATA)) == opened)
        with pytest.raises(DelayedDataRefusedError):
            await broker.quote([option(scenario, "SPXW", 10, 4800.0, Right.PUT)])


@pytest.mark.parametrize(("requested", "served"), [(3, None), (1, None), (1, 3)])
async def test_paper_reports_the_market_data_type_it_receives(
    requested: int, served: int | None
) -> None:
    async with running_broker(
        market_data_type=requested,
        setup=lambda t: setattr(t.scenario, "served_market_data_type", served),
    ) as (_tws, broker, _log, _fills):
        assert broker.market_data_type == requested
        ctx = await broker.market_context()  # paper: delayed data is fine
        assert ctx.spx == 5000.0
        assert broker.market_data_type == (served or requested)


async def test_competing_live_session_10197_gives_no_data_quickly_and_says_why() -> None:
    message = "No market data during competing live session"
    scenario = Scenario(error_rules=[ErrorRule(In.REQ_MKT_DATA, 10197, message, times=None)])
    async with running_broker(scenario, quote_timeout_s=3.0) as (tws, broker, log, _fills):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerError, match="no SPX/VIX level"):
            await broker.market_context()
        [q] = await broker.quote([option(scenario, "SPXW", 10, 4800.0, Right.PUT)])
        assert loop.time() - started < 2.0  # refused lines end the wait
        assert math.isnan(q.bid) and math.isnan(q.ask)
        errors = [(lvl, f) for lvl, e, f in log.records if e == "ib_error" and f["code"] == 10197]
        assert errors and errors[0][0] == "error"
        assert "competing live session" in errors[0][1]["meaning"]
        opened = len(tws.messages(In.REQ_MKT_DATA))
        await tws.wait_until(lambda: len(tws.messages(In.CANCEL_MKT_DATA)) == opened)


def historical_requests(tws: FakeTWS) -> list[p.HistoricalRequest]:
    """Every reqHistoricalData the fake received, parsed."""
    return [p.parse_historical_data(m.fields) for m in tws.messages(In.REQ_HISTORICAL_DATA)]


async def test_settlement_prices_from_daily_bars_after_the_expiry_session() -> None:
    scenario = Scenario()
    spxw = option(scenario, "SPXW", 3, 4800.0, Right.PUT)
    vix_call = option(scenario, "VIX", 0, 20.0, Right.CALL)
    scenario.daily_closes = {"SPX": {spxw.expiry: 5012.34}, "VIX": {vix_call.expiry: 16.8}}
    scenario.daily_opens = {"SPX": {spxw.expiry: 4990.0}, "VIX": {vix_call.expiry: 15.9}}

    after = session_clock(spxw.expiry, time(16, 30))
    async with running_broker(scenario, clock=after) as (tws, broker, log, _fills):
        assert await broker.settlement_price(spxw) == 5012.34  # the SPX close, not the open
        [request] = historical_requests(tws)
        assert (request.contract.symbol, request.contract.sec_type) == ("SPX", "IND")
        assert (request.bar_size, request.what_to_show, request.use_rth) == (
            "1 day",
            "TRADES",
            True,
        )
        assert await broker.settlement_price(spxw) == 5012.34
        assert len(historical_requests(tws)) == 1  # cached
        [logged] = log.events("ib_settlement_price")
        assert logged["source"] == "daily close"

    vix_after = session_clock(vix_call.expiry, time(16, 30))
    async with running_broker(scenario, clock=vix_after) as (tws, broker, log, _fills):
        assert await broker.settlement_price(vix_call) == 15.9  # the VIX open (SOQ proxy)
        [request] = historical_requests(tws)
        assert request.contract.symbol == "VIX"
        assert log.events("ib_settlement_price")[0]["source"] == "daily open (SOQ proxy)"


async def test_no_settlement_price_before_the_expiry_session_closed() -> None:
    scenario = Scenario()
    spxw = option(scenario, "SPXW", 3, 4800.0, Right.PUT)
    scenario.daily_closes = {"SPX": {spxw.expiry: 5012.34}}
    during = session_clock(spxw.expiry, time(15, 59))
    async with running_broker(scenario, clock=during) as (tws, broker, _log, _fills):
        assert await broker.settlement_price(spxw) is None
        assert historical_requests(tws) == []  # not even asked


async def test_historical_data_error_162_is_a_broker_error() -> None:
    scenario = Scenario(error_rules=[ErrorRule.historical_data()])
    spxw = option(scenario, "SPXW", 0, 4800.0, Right.PUT)
    after = session_clock(spxw.expiry, time(16, 30))
    async with running_broker(scenario, clock=after) as (tws, broker, log, _fills):
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerError, match="historical data error 162") as raised:
            await broker.settlement_price(spxw)
        assert not isinstance(raised.value, TimeoutError)
        assert loop.time() - started < 1.0  # the error ends the request, no timeout
        assert len(historical_requests(tws)) == 1
        [error] = [f for f in log.events("ib_error") if f["code"] == 162]
        assert "settlement price" in error["meaning"]
        assert broker.settlements._hist_errors == []  # nothing kept once the request ended
        # the next job asks again and gets it (the fake serves the spot for the day)
        assert await broker.settlement_price(spxw) == 5000.0
