"""IBBroker orders against the fake TWS: BAG combos, walking, partials, rejections, restarts."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from ib_async import IB, LimitOrder

from daemon.brokers.base import ComboOrder, OrderStatus
from daemon.brokers.ib import OrderWalkPolicy
from daemon.brokers.ib.orders import bag_contract
from strategies.domain import Leg, Right
from tests.fake_tws import (
    CancelPolicy,
    DropRule,
    ErrorRule,
    FakeTWS,
    FillPolicy,
    In,
    MuteRule,
    Scenario,
)
from tests.fake_tws import protocol as p
from tests.ib.test_adapter_helpers import (
    HOST,
    mute,
    option,
    running_broker,
    short_iron_condor,
    until,
)


def placed(tws: FakeTWS) -> list[p.OrderRequest]:
    """Every placeOrder the fake received, parsed."""
    return [p.parse_place_order(m.fields) for m in tws.messages(In.PLACE_ORDER)]


async def test_iron_condor_is_one_bag_walked_until_it_crosses_then_filled() -> None:
    scenario = Scenario(fill_policy=FillPolicy.when_crosses(-2.20))
    legs = short_iron_condor(scenario)
    async with running_broker(scenario) as (tws, broker, log, fills):
        order = ComboOrder("r1-1", legs, 2, -2.35, -2.10)
        result = await broker.place_order(order)

        assert result.status is OrderStatus.FILLED
        assert (result.filled_quantity, result.avg_price, result.reason) == (2, -2.20, "")
        sent = placed(tws)
        # one order id, walked up in 0.05 steps from the mid toward (never past) the worst
        assert [r.lmt_price for r in sent] == [-2.35, -2.30, -2.25, -2.20]
        assert len({r.order_id for r in sent}) == 1
        first = sent[0]
        assert first.contract.sec_type == "BAG"
        assert (first.action, first.total_quantity, first.order_type) == ("BUY", 2.0, "LMT")
        assert (first.order_ref, first.account, first.tif) == ("r1-1", "DU1234567", "DAY")
        assert first.smart_combo_routing_params == []  # guaranteed: no NonGuaranteed tag
        actions = [(leg.action, leg.ratio) for leg in first.combo_legs]
        assert actions == [("SELL", 1), ("BUY", 1), ("SELL", 1), ("BUY", 1)]

        # four leg fills, signed like our ratios, each with its commission, delivered once
        assert len(result.fills) == 4 and sorted(fills, key=lambda f: f.exec_id) == list(
            result.fills
        )
        by_contract = {f.contract: f for f in fills}
        assert {c: f.quantity for c, f in by_contract.items()} == {
            leg.contract: 2 * leg.ratio for leg in legs
        }
        assert all(f.commission == pytest.approx(1.30) for f in fills)  # 0.65 x 2 contracts
        assert all(f.order_ref == "r1-1" and f.time.tzinfo is not None for f in fills)
        net = sum(f.quantity * f.price for f in fills) / 2
        assert net == pytest.approx(-2.20, abs=1e-6)
        assert [w["ib_limit"] for w in log.events("ib_order_walk")] == [-2.30, -2.25, -2.20]


async def test_unfilled_order_walks_to_worst_and_is_cancelled_after_the_timeout() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    async with running_broker(scenario) as (tws, broker, _log, fills):
        order = ComboOrder("r1-2", short_iron_condor(scenario), 1, -2.37, -2.23)
        result = await broker.place_order(order)
        assert result.status is OrderStatus.CANCELLED
        assert (result.filled_quantity, result.avg_price, result.fills) == (0, None, ())
        assert "not filled within 2s" in result.reason and "worst -2.25" in result.reason
        limits = [r.lmt_price for r in placed(tws) if r.lmt_price is not None]
        # rounded to the 0.05 combo tick toward our side: -2.37 -> -2.40, -2.23 -> -2.25
        assert limits == [-2.40, -2.35, -2.30, -2.25]
        assert max(limits) <= -2.23
        await tws.wait_for_message(In.CANCEL_ORDER)
        assert tws.orders[0].status == "Cancelled"
        assert not fills


async def test_partial_fill_is_reported_with_the_filled_quantity() -> None:
    scenario = Scenario(fill_policy=FillPolicy.partial(1))
    legs = short_iron_condor(scenario)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        result = await broker.place_order(ComboOrder("r1-3", legs, 3, -2.35, -2.30))
        assert result.status is OrderStatus.PARTIAL
        assert result.filled_quantity == 1
        assert result.avg_price == pytest.approx(-2.35)
        assert result.reason.startswith("filled 1 of 3")
        assert sorted(abs(f.quantity) for f in fills) == [1, 1, 1, 1]
        assert len(result.fills) == 4
        assert tws.orders[0].status == "Cancelled"  # the rest was cancelled


async def test_rejected_order_returns_rejected_with_ibs_reason() -> None:
    scenario = Scenario(fill_policy=FillPolicy.reject("Insufficient margin"))
    async with running_broker(scenario) as (tws, broker, log, fills):
        result = await broker.place_order(
            ComboOrder("r1-4", short_iron_condor(scenario), 1, -2.35, -2.10)
        )
        assert result.status is OrderStatus.REJECTED
        assert "Insufficient margin" in result.reason
        assert (result.filled_quantity, result.fills) == (0, ())
        assert len(placed(tws)) == 1  # no walking after a rejection
        assert not fills
        assert any(f["code"] == 201 for f in log.events("ib_error"))


async def test_vix_hedge_layer_is_a_single_leg_option_order() -> None:
    scenario = Scenario()
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        result = await broker.place_order(ComboOrder("r1-5", (Leg(call, 1),), 7, 1.23, 1.40))
        assert result.status is OrderStatus.FILLED
        [req] = placed(tws)
        assert req.contract.sec_type == "OPT" and req.contract.trading_class == "VIX"
        assert (req.action, req.total_quantity, req.lmt_price) == ("BUY", 7.0, 1.20)
        [fill] = fills
        assert (fill.contract, fill.quantity, fill.price) == (call, 7, 1.20)
        assert fill.commission == pytest.approx(0.65 * 7)
        assert result.avg_price == pytest.approx(1.20)


async def test_closing_a_long_call_sells_at_the_positive_price() -> None:
    scenario = Scenario()
    call = option(scenario, "VIX", 2, 20.0, Right.CALL)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        # sell 3 calls for 0.80 each: our net is a -0.80 credit
        result = await broker.place_order(ComboOrder("r1-6", (Leg(call, -1),), 3, -0.80, -0.70))
        assert result.status is OrderStatus.FILLED
        [req] = placed(tws)
        assert (req.action, req.total_quantity, req.lmt_price) == ("SELL", 3.0, 0.80)
        assert [f.quantity for f in fills] == [-3]
        assert result.avg_price == pytest.approx(-0.80)


async def test_order_ref_already_executed_at_ib_is_not_resubmitted() -> None:
    scenario = Scenario()
    legs = short_iron_condor(scenario)
    async with running_broker(scenario, connect=False) as (tws, broker, _log, fills):
        # a previous run (another client id) placed and filled r7-1 before a crash
        earlier = IB()
        await earlier.connectAsync(HOST, tws.port, clientId=5, timeout=5)
        con_ids = [
            scenario.option(
                "SPXW",
                leg.contract.expiry.strftime("%Y%m%d"),
                leg.contract.strike,
                leg.contract.right.value,
            ).con_id
            for leg in legs
        ]
        trade = earlier.placeOrder(
            bag_contract(legs, con_ids), LimitOrder("BUY", 1, -2.35, orderRef="r7-1")
        )
        await until(lambda: trade.orderStatus.status == "Filled")
        earlier.disconnect()

        await broker.connect()
        # the day's executions came in at connect, with commissions
        assert len(fills) == 4 and {f.order_ref for f in fills} == {"r7-1"}
        before = len(tws.messages(In.PLACE_ORDER))
        result = await broker.place_order(ComboOrder("r7-1", legs, 1, -2.35, -2.10))
        assert len(tws.messages(In.PLACE_ORDER)) == before
        assert result.status is OrderStatus.FILLED
        assert result.filled_quantity == 1 and result.avg_price == pytest.approx(-2.35)
        assert "not resubmitted" in result.reason
        assert len(fills) == 4


def con_ids(scenario: Scenario, legs: tuple[Leg, ...]) -> list[int]:
    """The fake's conIds of SPXW ``legs``."""
    return [
        scenario.option(
            "SPXW",
            leg.contract.expiry.strftime("%Y%m%d"),
            leg.contract.strike,
            leg.contract.right.value,
        ).con_id
        for leg in legs
    ]


async def place_raw(
    tws: FakeTWS, client_id: int, legs: tuple[Leg, ...], ref: str, limit: float, scenario: Scenario
) -> IB:
    """Another client (a previous run, or another program) places a BAG with ``ref``."""
    other = IB()
    await other.connectAsync(HOST, tws.port, clientId=client_id, timeout=5)
    other.placeOrder(
        bag_contract(legs, con_ids(scenario, legs)), LimitOrder("BUY", 1, limit, orderRef=ref)
    )
    await until(lambda: any(o.req.order_ref == ref and o.status == "Submitted" for o in tws.orders))
    return other


async def test_order_ref_working_at_ib_is_adopted_after_a_restart() -> None:
    scenario = Scenario(order_policies=[FillPolicy.when_crosses(-2.25)])
    legs = short_iron_condor(scenario)
    async with running_broker(scenario, connect=False) as (tws, broker, _log, fills):
        # a previous run with the same client id sent r8-1 and was killed (SIGKILL)
        crashed = await place_raw(tws, 17, legs, "r8-1", -2.40, scenario)
        crashed.disconnect()
        await tws.wait_until(lambda: tws.connected_client_ids == [])

        await broker.connect()
        result = await broker.place_order(ComboOrder("r8-1", legs, 1, -2.40, -2.20))
        assert result.status is OrderStatus.FILLED
        assert result.avg_price == pytest.approx(-2.25)
        sent = placed(tws)
        assert len({r.order_id for r in sent}) == 1  # the same IB order, modified
        assert [r.lmt_price for r in sent] == [-2.40, -2.35, -2.30, -2.25]
        assert len(fills) == 4
        assert Counter(f.exec_id for f in fills).most_common(1)[0][1] == 1


async def test_adopted_order_of_another_client_is_left_working() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.1, timeout_s=0.5, cancel_wait_s=0.5)
    async with running_broker(scenario, walk=walk) as (tws, broker, log, fills):
        other = await place_raw(tws, 5, legs, "r8-2", -2.40, scenario)
        try:
            result = await broker.place_order(ComboOrder("r8-2", legs, 1, -2.40, -2.20))
        finally:
            other.disconnect()
        assert result.status is OrderStatus.WORKING
        assert (result.filled_quantity, result.fills) == (0, ())
        assert "client 5" in result.reason and "left working" in result.reason
        # nothing was sent for it by client 17: not placed, not modified, not cancelled
        assert not tws.messages(In.PLACE_ORDER, client_id=17)
        assert not tws.messages(In.CANCEL_ORDER, client_id=17)
        assert tws.orders[0].status == "Submitted"
        assert log.events("ib_order_adopted")
        assert not fills


@pytest.mark.parametrize("answer", ["silence", "161", "fills later"])
async def test_cancel_never_confirmed_is_unknown_and_a_later_fill_is_delivered_once(
    answer: str,
) -> None:
    cancel = CancelPolicy.fill_later(1.0) if answer == "fills later" else CancelPolicy.never()
    scenario = Scenario(fill_policy=FillPolicy.never().with_cancel(cancel))
    if answer == "161":  # TWS answers but does not cancel: ib_async would call it Cancelled
        message = "Cancel attempted when order is not in a cancellable state."
        scenario.error_rules.append(ErrorRule(In.CANCEL_ORDER, 161, message))
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.1, timeout_s=0.5, cancel_wait_s=0.5)
    async with running_broker(scenario, walk=walk) as (tws, broker, log, fills):
        result = await broker.place_order(ComboOrder("r3-1", legs, 2, -2.35, -2.25))
        assert result.status is OrderStatus.UNKNOWN
        assert (result.filled_quantity, result.avg_price, result.fills) == (0, None, ())
        assert "did not confirm the cancel" in result.reason and "filled 0 of 2" in result.reason
        assert len(tws.messages(In.CANCEL_ORDER)) == 1
        assert tws.orders[0].status == "Submitted"  # still working at the gateway
        assert log.events("ib_cancel_unconfirmed")

        if answer != "fills later":
            tws.fill_order(tws.orders[0].order_id)  # it fills after all
        await until(lambda: len(fills) == 4)
        await asyncio.sleep(0.2)
        records = [e for e in tws.executions if e.contract.sec_type == "OPT"]
        assert len(fills) == 4
        assert {f.exec_id for f in fills} == {r.exec_id for r in records}
        assert {f.order_ref for f in fills} == {"r3-1"}
        assert sorted(f.quantity for f in fills) == [-2, -2, 2, 2]


async def test_cancelled_task_cancels_its_working_order_and_reraises() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.2, timeout_s=120.0, cancel_wait_s=10.0)
    async with running_broker(scenario, walk=walk) as (tws, broker, log, _fills):
        task = asyncio.ensure_future(broker.place_order(ComboOrder("r4-1", legs, 1, -2.40, -2.20)))
        await until(lambda: bool(tws.orders) and tws.orders[0].status == "Submitted")
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()  # SIGTERM while walking
        with pytest.raises(asyncio.CancelledError):
            await task
        assert loop.time() - started < 1.0  # confirmed quickly, no walking on
        [cancel] = tws.messages(In.CANCEL_ORDER)
        assert int(cancel.fields[2]) == tws.orders[0].order_id
        assert tws.orders[0].status == "Cancelled"
        [stop] = log.events("ib_order_stop_cancel")
        assert stop["confirmed"] is True


async def test_cancelled_task_waits_at_most_the_stop_grace_for_the_cancel() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    async with running_broker(scenario, stop_cancel_wait_s=0.5) as (tws, broker, log, _fills):
        tws.scenario.fill_policy = FillPolicy.never().with_cancel(CancelPolicy.never())
        task = asyncio.ensure_future(broker.place_order(ComboOrder("r4-2", legs, 1, -2.40, -2.20)))
        await until(lambda: bool(tws.orders) and tws.orders[0].status == "Submitted")
        walked = len(tws.messages(In.PLACE_ORDER))
        loop = asyncio.get_running_loop()
        started = loop.time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert 0.4 <= loop.time() - started < 1.5
        assert len(tws.messages(In.CANCEL_ORDER)) == 1
        assert len(tws.messages(In.PLACE_ORDER)) == walked  # the walk stopped at once
        [stop] = log.events("ib_order_stop_cancel")
        assert stop["confirmed"] is False


async def test_connection_down_past_the_orders_grace_is_unknown_then_the_fill_arrives() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.1, timeout_s=0.5, cancel_wait_s=0.5)
    async with running_broker(scenario, walk=walk, order_disconnect_grace_s=0.5) as (
        tws,
        broker,
        log,
        fills,
    ):
        task = asyncio.ensure_future(broker.place_order(ComboOrder("r5-1", legs, 1, -2.40, -2.20)))
        await until(lambda: bool(tws.orders) and tws.orders[0].status == "Submitted")
        await tws.drop_connections(outage=2.0)  # the gateway stays away
        result = await task
        assert result.status is OrderStatus.UNKNOWN
        assert result.filled_quantity == 0
        assert "disconnected from IB" in result.reason
        assert not tws.messages(In.CANCEL_ORDER)  # it could not be cancelled
        assert log.events("ib_order_done")[-1]["status"] == "unknown"

        tws.fill_order(tws.orders[0].order_id, client_id=17)  # filled during the outage
        await until(lambda: len(fills) == 4, timeout=10.0)
        await asyncio.sleep(0.2)
        assert len({f.exec_id for f in fills}) == len(fills) == 4
        assert {f.order_ref for f in fills} == {"r5-1"}


async def test_request_timing_out_after_place_order_is_unknown_not_an_exception() -> None:
    scenario = Scenario(
        fill_policy=FillPolicy.never(),
        drop_rules=[DropRule(In.PLACE_ORDER, handle_first=True)],
    )
    legs = short_iron_condor(scenario)
    async with running_broker(scenario, request_timeout_s=0.5) as (tws, broker, _log, fills):
        # the check before sending is answered; the one after the reconnect is not
        mute(tws, In.REQ_ALL_OPEN_ORDERS, nth=2)
        result = await broker.place_order(ComboOrder("r6-1", legs, 1, -2.40, -2.20))
        assert result.status is OrderStatus.UNKNOWN
        assert result.filled_quantity == 0
        assert "reqAllOpenOrders" in result.reason
        assert len(tws.messages(In.PLACE_ORDER)) == 1  # sent once, never again
        assert tws.orders[0].status == "Submitted"

        tws.fill_order(tws.orders[0].order_id, client_id=17)
        await until(lambda: len(fills) == 4)
        await asyncio.sleep(0.2)
        assert len({f.exec_id for f in fills}) == len(fills) == 4


async def test_disconnect_during_a_walk_ends_it_at_once_as_unknown() -> None:
    scenario = Scenario(fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.2, timeout_s=120.0, cancel_wait_s=10.0)
    async with running_broker(scenario, walk=walk) as (tws, broker, _log, _fills):
        task = asyncio.ensure_future(broker.place_order(ComboOrder("r7-1", legs, 1, -2.40, -2.20)))
        await until(lambda: bool(tws.orders) and tws.orders[0].status == "Submitted")
        await broker.disconnect()  # the daemon closes the session; no reconnect will come
        async with asyncio.timeout(1.0):
            result = await task
        assert result.status is OrderStatus.UNKNOWN
        assert "session was closed" in result.reason
        assert tws.orders[0].status == "Submitted"  # left as it is at the gateway


async def test_unacknowledged_order_that_filled_is_unknown_when_its_modification_fails() -> None:
    # placeOrder reaches IB and fills but is never acknowledged; IB answers the walk's
    # next price change with 104, ib_async marks the order Cancelled and would refuse
    # (AssertionError) to modify it again
    scenario = Scenario(mute_rules=[MuteRule(In.PLACE_ORDER)])
    legs = short_iron_condor(scenario)
    async with running_broker(scenario) as (tws, broker, log, fills):
        result = await broker.place_order(ComboOrder("r9-1", legs, 2, -2.40, -2.20))
        assert result.status is OrderStatus.UNKNOWN
        assert result.filled_quantity == 0
        assert "Cannot modify a filled order" in result.reason
        assert len(placed(tws)) == 2  # the order and one modification; nothing after the 104
        assert tws.orders[0].status == "Filled"
        assert log.events("ib_order_state_unknown")
        assert not fills  # IB never told this client; reconciliation finds the executions
