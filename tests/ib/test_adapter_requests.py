"""Every IBBroker request is bounded: an unanswered one is a BrokerError the caller can handle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import time
from typing import Any

import pytest

from daemon.brokers.base import BrokerError, ComboOrder
from daemon.brokers.ib import IBBroker, RequestTimeoutError
from strategies.domain import Right
from tests.fake_tws import In, Scenario
from tests.ib.test_adapter_helpers import (
    mute,
    option,
    running_broker,
    session_clock,
    short_iron_condor,
)

SCENARIO = Scenario()
PUT = option(SCENARIO, "SPXW", 10, 4800.0, Right.PUT)
EXPIRED = option(SCENARIO, "SPXW", 0, 4800.0, Right.PUT)  # expires today

Call = Callable[[IBBroker], Awaitable[Any]]

CASES: list[tuple[str, int, Call]] = [
    ("open_orders", In.REQ_ALL_OPEN_ORDERS, lambda b: b.open_orders()),
    ("resync_executions", In.REQ_EXECUTIONS, lambda b: b.resync_executions()),
    ("positions", In.REQ_POSITIONS, lambda b: b.positions()),
    ("reconcile", In.REQ_POSITIONS, lambda b: b.reconcile({})),
    ("quote (contract details)", In.REQ_CONTRACT_DETAILS, lambda b: b.quote([PUT])),
    (
        "chain parameters",
        In.REQ_SEC_DEF_OPT_PARAMS,
        lambda b: b.option_chain("SPX", "SPXW", 7, 21, rights=(Right.PUT,)),
    ),
    ("cancel_order", In.REQ_ALL_OPEN_ORDERS, lambda b: b.cancel_order("r9-9")),
    ("settlement_price", In.REQ_HISTORICAL_DATA, lambda b: b.settlement_price(EXPIRED)),
]


@pytest.mark.parametrize(("name", "msg_id", "call"), CASES, ids=[c[0] for c in CASES])
async def test_unanswered_request_raises_request_timeout_error(
    name: str, msg_id: int, call: Call
) -> None:
    after_close = session_clock(SCENARIO.today, time(16, 30))
    async with running_broker(
        SCENARIO, request_timeout_s=0.4, clock=after_close, expiry_targets={"SPXW": 14}
    ) as (tws, broker, log, _fills):
        mute(tws, msg_id)
        sent_before = len(tws.messages(msg_id))
        with pytest.raises(RequestTimeoutError, match="did not answer") as raised:
            await call(broker)
        assert isinstance(raised.value, BrokerError)
        assert not isinstance(raised.value, TimeoutError)
        assert len(tws.messages(msg_id)) == sent_before + 1  # asked once, never answered
        [timeout] = log.events("ib_request_timeout")
        assert timeout["timeout_s"] == 0.4
        # the next request is answered again: the adapter is still usable
        await call(broker)
        assert broker.connected


async def test_account_summary_is_bounded() -> None:
    scenario = Scenario()
    del scenario.account_values["NetLiquidation"]  # not in the streamed account values
    async with running_broker(scenario, request_timeout_s=0.4) as (tws, broker, _log, _fills):
        mute(tws, In.REQ_ACCOUNT_SUMMARY)
        with pytest.raises(RequestTimeoutError, match="reqAccountSummary"):
            await broker.account()
        assert len(tws.messages(In.REQ_ACCOUNT_SUMMARY)) == 1


async def test_unanswered_open_orders_before_place_order_sends_nothing() -> None:
    scenario = Scenario()
    async with running_broker(scenario, request_timeout_s=0.4) as (tws, broker, _log, fills):
        mute(tws, In.REQ_ALL_OPEN_ORDERS)
        order = ComboOrder("r1-1", short_iron_condor(scenario), 1, -2.35, -2.10)
        with pytest.raises(RequestTimeoutError, match="reqAllOpenOrders"):
            await broker.place_order(order)
        assert not tws.messages(In.PLACE_ORDER)  # nothing reached the gateway
        assert not fills


async def test_a_call_while_disconnected_fails_within_the_request_timeout() -> None:
    scenario = Scenario()
    async with running_broker(scenario, request_timeout_s=0.4) as (tws, broker, _log, _fills):
        await tws.drop_connections(outage=5.0)
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(BrokerError, match="not connected"):
            await broker.market_context()
        assert loop.time() - started < 1.5
        assert not tws.messages(In.REQ_MKT_DATA)
