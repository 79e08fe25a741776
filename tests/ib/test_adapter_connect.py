"""IBBroker connection and account guard against the fake TWS."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB

from daemon.brokers.base import BrokerError, ComboOrder
from daemon.brokers.ib import IBBroker, UnsafeAccountError
from tests.fake_tws import FakeTWS, In, PositionSpec, Scenario
from tests.ib.test_adapter_helpers import (
    HOST,
    TEST_TIMEOUT,
    RecordingLog,
    fast_settings,
    running_broker,
    short_iron_condor,
)


async def test_paper_account_connects_selects_delayed_data_and_reads_account() -> None:
    scenario = Scenario()
    chain = scenario.chain("SPXW")
    put = chain.con_id(chain.expirations[10], 4800.0, "P")
    scenario.positions = [PositionSpec("DU1234567", put, -2, 1540.0)]
    async with running_broker(scenario) as (tws, broker, log, _fills):
        assert broker.connected
        assert broker.account_id == "DU1234567"
        [md_type] = tws.messages(In.REQ_MARKET_DATA_TYPE)
        assert md_type.fields[2] == "3"  # delayed by default
        snapshot = await broker.account()
        assert (snapshot.account_id, snapshot.net_liquidation, snapshot.cash) == (
            "DU1234567",
            250_000.0,
            240_000.0,
        )
        [position] = await broker.positions()
        assert position.quantity == -2
        assert position.avg_cost == pytest.approx(15.40)  # per share, not x100
        assert position.contract.trading_class == "SPXW"
        [connected] = log.events("ib_connected")
        assert connected["account"] == "DU1234567" and connected["client_id"] == 17
        assert not tws.messages(In.PLACE_ORDER)


@pytest.mark.parametrize(
    "accounts",
    [["U7654321"], ["DU1234567", "U7654321"]],
)
async def test_live_account_without_live_config_is_refused_before_any_order(
    accounts: list[str],
) -> None:
    scenario = Scenario(accounts=accounts)
    async with running_broker(scenario, connect=False) as (tws, broker, log, _fills):
        with pytest.raises(UnsafeAccountError, match="U7654321"):
            await broker.connect()
        assert not broker.connected
        # the engine might still try: nothing may reach IB
        order = ComboOrder("r1-1", short_iron_condor(scenario), 1, -2.35, -2.10)
        with pytest.raises(UnsafeAccountError):
            await broker.place_order(order)
        assert not tws.messages(In.PLACE_ORDER)
        assert log.events("ib_unsafe_account")
        await tws.wait_until(lambda: tws.connected_client_ids == [])


async def test_live_account_named_in_live_config_connects() -> None:
    scenario = Scenario(accounts=["U7654321"])
    async with running_broker(scenario, trading_mode="live", account="U7654321") as (
        tws,
        broker,
        _log,
        _fills,
    ):
        assert broker.account_id == "U7654321"
        assert tws.connected_client_ids == [17]


async def test_live_config_with_an_account_this_login_does_not_manage_is_refused() -> None:
    scenario = Scenario(accounts=["U7654321"])
    async with running_broker(scenario, connect=False, trading_mode="live", account="U0000001") as (
        _tws,
        broker,
        _log,
        _fills,
    ):
        with pytest.raises(UnsafeAccountError, match="U0000001"):
            await broker.connect()


async def test_client_id_in_use_retries_with_the_next_id() -> None:
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        squatter = IB()
        await squatter.connectAsync(HOST, tws.port, clientId=17, timeout=5)
        log = RecordingLog()
        broker = IBBroker(fast_settings(tws.port, connect_timeout_s=2.0), log=log)
        try:
            await broker.connect()
            assert broker.client_id == 18
            assert sorted(tws.connected_client_ids) == [17, 18]
            [failure] = log.events("ib_connect_failed")
            assert failure["client_id_in_use"] is True and failure["next_client_id"] == 18
            assert any(f["code"] == 326 for f in log.events("ib_error"))
        finally:
            await broker.disconnect()
            squatter.disconnect()


async def test_unreachable_gateway_raises_broker_error_after_the_attempts() -> None:
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        port = tws.port
    broker = IBBroker(fast_settings(port, connect_attempts=2, connect_timeout_s=1.0))
    with pytest.raises(BrokerError, match="after 2 attempts"):
        async with asyncio.timeout(TEST_TIMEOUT):
            await broker.connect()
