"""IBBroker executions against the fake TWS: duplicates, corrections, late commissions, resync."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from ib_async import IB, LimitOrder

from daemon.brokers.base import ComboOrder, Fill, OrderStatus
from daemon.brokers.ib import IBBroker
from daemon.brokers.ib.contracts import ib_option
from daemon.brokers.ib.executions import REVERSAL_SUFFIX, split_exec_id
from strategies.domain import Leg, Right
from tests.fake_tws import In, Out, Scenario
from tests.ib.test_adapter_helpers import (
    HOST,
    option,
    running_broker,
    session_clock,
    short_iron_condor,
    until,
)


def live_exec_details(tws: object) -> list[str]:
    """execIds of the live execDetails (reqId -1) the fake sent, in order, duplicates kept."""
    sent = tws.sent_messages(Out.EXECUTION_DATA)  # type: ignore[attr-defined]
    return [m.fields[14] for m in sent if m.fields[1] == "-1"]


def test_exec_id_prefix_and_rank() -> None:
    assert split_exec_id("0000e0d5.6554.01.01") == ("0000e0d5.6554.01", 1)
    assert split_exec_id("0000e0d5.6554.01.02") == ("0000e0d5.6554.01", 2)
    assert split_exec_id("sim-1") == ("sim-1", 0)


async def test_duplicate_exec_details_are_delivered_once() -> None:
    scenario = Scenario()
    legs = short_iron_condor(scenario)
    scenario.exec_details_copies = 2  # every live execDetails is sent twice
    async with running_broker(scenario) as (tws, broker, _log, fills):
        result = await broker.place_order(ComboOrder("r1-1", legs, 2, -2.35, -2.10))
        assert result.status is OrderStatus.FILLED
        sent = live_exec_details(tws)
        assert len(sent) == 10 and set(Counter(sent).values()) == {2}  # 4 legs + BAG, twice
        assert len(fills) == 4 and len({f.exec_id for f in fills}) == 4

        # a resync answers every execution again: still nothing twice
        before = len(tws.messages(In.REQ_EXECUTIONS))
        await broker.resync_executions()
        tws.send_error(1102, "Connectivity between IB and Trader Workstation has been restored")
        await tws.wait_until(lambda: len(tws.messages(In.REQ_EXECUTIONS)) == before + 2)
        await asyncio.sleep(0.1)
        assert len(fills) == 4


async def test_execution_correction_nets_to_the_corrected_execution() -> None:
    scenario = Scenario()
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, log, fills):
        result = await broker.place_order(ComboOrder("r2-1", (Leg(call, 1),), 7, 1.20, 1.40))
        assert result.status is OrderStatus.FILLED
        [original] = fills
        assert (original.quantity, original.price) == (7, 1.20)

        corrected = tws.correct_execution(original.exec_id, price=1.25, shares=6)
        assert split_exec_id(corrected.exec_id)[0] == split_exec_id(original.exec_id)[0]
        await until(lambda: len(fills) == 3)
        correction, reversal = fills[1:]
        assert (correction.exec_id, correction.quantity, correction.price) == (
            corrected.exec_id,
            6,
            1.25,
        )
        assert correction.commission == pytest.approx(0.65 * 6)
        assert reversal.exec_id == original.exec_id + REVERSAL_SUFFIX
        assert (reversal.quantity, reversal.price) == (-7, 1.20)
        assert reversal.commission == pytest.approx(-original.commission)
        # what was delivered nets to exactly the corrected execution
        assert sum(f.quantity for f in fills) == 6
        assert sum(f.quantity * f.price for f in fills) == pytest.approx(6 * 1.25)
        assert sum(f.commission for f in fills) == pytest.approx(0.65 * 6)
        assert log.events("ib_execution_corrected")

        # a resync sees the original again (IB keeps both): nothing more is delivered
        await broker.resync_executions()
        await asyncio.sleep(0.1)
        assert len(fills) == 3


async def test_after_a_restart_only_the_correction_is_delivered() -> None:
    scenario = Scenario()
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        await broker.place_order(ComboOrder("r2-2", (Leg(call, 1),), 3, 1.20, 1.40))
        [original] = fills
        tws.correct_execution(original.exec_id, price=1.30)
        await until(lambda: len(fills) == 3)
        await broker.disconnect()

        restarted = IBBroker(broker.settings, clock=session_clock(scenario.today))
        again: list[Fill] = []
        restarted.add_fill_listener(again.append)
        try:
            await restarted.connect()
        finally:
            await restarted.disconnect()
        [only] = again
        assert (only.quantity, only.price) == (3, 1.30)
        assert only.exec_id == fills[1].exec_id  # the journal already has it: dropped by exec_id


async def test_commission_after_the_wait_gives_one_fill_with_commission_zero() -> None:
    scenario = Scenario(commission_delay=1.0)  # the report comes a second after the fill
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario, commission_wait_s=0.3) as (_tws, broker, log, fills):
        result = await broker.place_order(ComboOrder("r3-1", (Leg(call, 1),), 5, 1.20, 1.40))
        assert result.status is OrderStatus.FILLED
        [fill] = fills
        assert fill.commission == 0.0 and result.fills == (fill,)
        assert log.events("ib_commission_missing")

        await until(lambda: bool(log.events("ib_commission_late")))
        [late] = log.events("ib_commission_late")
        assert late["exec_id"] == fill.exec_id and late["commission"] == pytest.approx(0.65 * 5)
        await asyncio.sleep(0.1)
        assert fills == [fill]  # journaled once, with commission 0


async def test_resync_executions_after_a_reconnect_delivers_what_was_missed_once() -> None:
    scenario = Scenario()
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, log, fills):
        await tws.drop_connections()
        await until(lambda: len(log.events("ib_connected")) == 2 and broker.connected)
        # a previous run's order (client 5) fills now; this client is not told live
        other = IB()
        await other.connectAsync(HOST, tws.port, clientId=5, timeout=5)
        contract = (await other.qualifyContractsAsync(ib_option(call)))[0]
        other.placeOrder(contract, LimitOrder("BUY", 2, 1.20, orderRef="r4-1"))
        await until(lambda: bool(tws.executions))
        other.disconnect()
        await asyncio.sleep(0.1)
        assert not fills

        before = len(tws.messages(In.REQ_EXECUTIONS))
        await broker.resync_executions()
        [fill] = fills
        assert (fill.order_ref, fill.quantity, fill.price) == ("r4-1", 2, 1.20)
        assert fill.exec_id == tws.executions[0].exec_id
        await broker.resync_executions()
        assert len(tws.messages(In.REQ_EXECUTIONS)) == before + 2
        assert fills == [fill]
