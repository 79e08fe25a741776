"""IBBroker connection and account guard against the fake TWS."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import IB

from daemon.brokers.base import BrokerError, ComboOrder
from daemon.brokers.ib import (
    ClientIdInUseError,
    DelayedDataRefusedError,
    IBBroker,
    UnsafeAccountError,
)
from tests.fake_tws import FakeTWS, In, MuteRule, PositionSpec, Scenario
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
    async with running_broker(
        scenario, trading_mode="live", account="U7654321", market_data_type=1
    ) as (tws, broker, _log, _fills):
        assert broker.account_id == "U7654321"
        assert tws.connected_client_ids == [17]
        [md_type] = tws.messages(In.REQ_MARKET_DATA_TYPE)
        assert md_type.fields[2] == "1"
        assert broker.market_data_type == 1


async def test_live_config_with_an_account_this_login_does_not_manage_is_refused() -> None:
    scenario = Scenario(accounts=["U7654321"])
    async with running_broker(
        scenario, connect=False, trading_mode="live", account="U0000001", market_data_type=1
    ) as (_tws, broker, _log, _fills):
        with pytest.raises(UnsafeAccountError, match="U0000001"):
            await broker.connect()


@pytest.mark.parametrize("data_type", [3, 4])
async def test_live_mode_refuses_delayed_market_data_before_connecting(data_type: int) -> None:
    scenario = Scenario(accounts=["U7654321"])
    async with running_broker(
        scenario, connect=False, trading_mode="live", account="U7654321", market_data_type=data_type
    ) as (tws, broker, log, _fills):
        with pytest.raises(DelayedDataRefusedError, match=f"market_data_type is {data_type}"):
            await broker.connect()
        assert tws.handshakes == []  # no socket was even opened
        assert not broker.connected
        assert log.events("ib_delayed_data_refused")


async def test_client_id_in_use_is_an_error_naming_the_id_not_a_move_to_another() -> None:
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        squatter = IB()  # e.g. another alvh on the same login
        await squatter.connectAsync(HOST, tws.port, clientId=17, timeout=5)
        log = RecordingLog()
        broker = IBBroker(fast_settings(tws.port, connect_timeout_s=2.0), log=log)
        try:
            with pytest.raises(ClientIdInUseError) as raised:
                await broker.connect()
            message = str(raised.value)
            assert "\n" not in message
            assert "client id 17" in message and "another API client" in message
            assert "alvh" in message
            assert broker.client_id == 17 and not broker.connected
            # one attempt with id 17, no other id tried, no retry with the same id
            assert [m.client_id for m in tws.messages(In.START_API)] == [17, 17]
            assert tws.connected_client_ids == [17]  # the squatter only
            assert any(f["code"] == 326 for f in log.events("ib_error"))
            assert log.events("ib_client_id_in_use")
            # the refusal sticks: nothing can be sent afterwards
            with pytest.raises(ClientIdInUseError):
                await broker.place_order(
                    ComboOrder("r1-1", short_iron_condor(Scenario()), 1, -2.35, -2.10)
                )
            assert not tws.messages(In.PLACE_ORDER)
        finally:
            await broker.disconnect()
            squatter.disconnect()


async def test_unanswered_start_up_request_is_a_broker_error_not_a_traceback() -> None:
    # ib_async's start-up sync never completes: reqOpenOrders is never answered
    scenario = Scenario(mute_rules=[MuteRule(In.REQ_OPEN_ORDERS, times=None)])
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(scenario) as tws:
        log = RecordingLog()
        broker = IBBroker(
            fast_settings(tws.port, connect_attempts=2, connect_timeout_s=0.5), log=log
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerError, match="after 2 attempts: no answer within") as raised:
            await broker.connect()
        assert not isinstance(raised.value, TimeoutError)
        assert loop.time() - started < 3.0  # 2 x 0.5 s attempts + backoff
        assert len(tws.messages(In.START_API)) == 2
        assert len(log.events("ib_connect_failed")) == 2
        assert not broker.connected
        await tws.wait_until(lambda: tws.connected_client_ids == [])  # the socket was closed
        await broker.disconnect()


async def test_unreachable_gateway_raises_broker_error_after_the_attempts() -> None:
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        port = tws.port
    broker = IBBroker(fast_settings(port, connect_attempts=2, connect_timeout_s=1.0))
    with pytest.raises(BrokerError, match="after 2 attempts"):
        async with asyncio.timeout(TEST_TIMEOUT):
            await broker.connect()


async def test_gateway_closing_the_socket_before_its_hello_fails_the_attempt_at_once() -> None:
    # a gateway that accepts and closes at once (restarting, or at its client limit):
    # ib_async says nothing, so an attempt used to wait out connect_timeout_s
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        tws.refuse_connections(60.0)
        broker = IBBroker(fast_settings(tws.port, connect_attempts=3, connect_timeout_s=5.0))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerError, match=r"after 3 attempts.*closed the connection"):
            await broker.connect()
        assert loop.time() - started < 2.0  # 3 attempts, 0.05 + 0.1 s of backoff
        assert tws.refused_connections == 3
