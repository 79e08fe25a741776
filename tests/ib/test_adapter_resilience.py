"""IBBroker resilience against the fake TWS: drops, fills while away, 1100/1101/1102."""

from __future__ import annotations

import asyncio
from collections import Counter

from daemon.brokers.base import ComboOrder, OrderStatus
from daemon.brokers.ib import OrderWalkPolicy
from strategies.domain import Right
from tests.fake_tws import DropRule, FillPolicy, In, Quote, Scenario
from tests.fake_tws import protocol as p
from tests.ib.test_adapter_helpers import option, running_broker, short_iron_condor, until


async def test_fill_during_a_disconnect_is_recovered_after_reconnect_exactly_once() -> None:
    scenario = Scenario(order_policies=[FillPolicy.immediate()], fill_policy=FillPolicy.never())
    legs = short_iron_condor(scenario)
    walk = OrderWalkPolicy(step=0.05, interval_s=0.5, timeout_s=5.0, cancel_wait_s=2.0)
    async with running_broker(scenario, walk=walk) as (tws, broker, log, all_fills):
        earlier = await broker.place_order(ComboOrder("r2-0", legs, 1, -2.35, -2.25))
        assert earlier.status is OrderStatus.FILLED and len(all_fills) == 4
        task = asyncio.ensure_future(broker.place_order(ComboOrder("r2-1", legs, 1, -2.35, -2.25)))
        await until(lambda: len(tws.orders) == 2 and tws.orders[1].status == "Submitted")
        order_id = tws.orders[1].order_id

        await tws.drop_connections()
        records = tws.fill_order(order_id, client_id=17)  # filled while we are away
        assert len(records) == 5  # four legs + the BAG

        result = await task
        fills = all_fills[4:]
        assert result.status is OrderStatus.FILLED
        assert result.filled_quantity == 1
        assert result.avg_price is not None
        leg_exec_ids = {r.exec_id for r in records if r.contract.sec_type == "OPT"}
        assert {f.exec_id for f in fills} == leg_exec_ids
        assert all(n == 1 for n in Counter(f.exec_id for f in fills).values())
        assert all(f.commission > 0 for f in fills)
        assert log.events("ib_disconnected") and len(log.events("ib_connected")) == 2
        assert tws.connected_client_ids == [17]  # same client id: it still owns its orders

        # the reconnect asked for executions since the last one seen
        filters = [p.parse_exec_filter(m.fields) for m in tws.messages(In.REQ_EXECUTIONS)]
        assert filters[-1].time  # "yyyymmdd-hh:mm:ss" (UTC), a minute before the last seen

        # another resync (connectivity restored) delivers nothing twice
        executions_before = len(tws.messages(In.REQ_EXECUTIONS))
        tws.send_error(1102, "Connectivity between IB and Trader Workstation has been restored")
        await tws.wait_until(lambda: len(tws.messages(In.REQ_EXECUTIONS)) > executions_before)
        await asyncio.sleep(0.1)
        assert len(all_fills) == 8
        assert len({f.exec_id for f in all_fills}) == 8


async def test_socket_dropped_right_after_place_order_fill_is_found_on_reconnect() -> None:
    scenario = Scenario(drop_rules=[DropRule(In.PLACE_ORDER, handle_first=True)])
    legs = short_iron_condor(scenario)
    async with running_broker(scenario) as (tws, broker, _log, fills):
        result = await broker.place_order(ComboOrder("r2-2", legs, 2, -2.35, -2.10))
        assert result.status is OrderStatus.FILLED
        assert result.filled_quantity == 2
        assert result.avg_price == -2.35
        assert len(fills) == 4 and len({f.exec_id for f in fills}) == 4
        assert len(tws.messages(In.PLACE_ORDER)) == 1  # never resent


async def test_connectivity_lost_without_restore_reconnects_the_session() -> None:
    async with running_broker(link_grace_s=0.2) as (tws, broker, log, _fills):
        tws.send_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
        await until(lambda: len(tws.messages(In.START_API)) == 2)
        await until(lambda: broker.connected)
        assert log.events("ib_link_not_restored")
        [lost] = [f for f in log.events("ib_error") if f["code"] == 1100]
        assert "reconnects" in lost["meaning"]


async def test_connectivity_restored_in_time_keeps_the_session() -> None:
    async with running_broker(link_grace_s=0.3) as (tws, broker, log, _fills):
        tws.send_error(1100, "Connectivity between IB and Trader Workstation has been lost.")
        tws.send_error(1101, "Connectivity restored - data lost.")
        await until(lambda: any(f["code"] == 1101 for f in log.events("ib_error")))
        await asyncio.sleep(0.5)
        assert len(tws.messages(In.START_API)) == 1
        assert broker.connected
        assert log.events("ib_market_data_resubscribed")
        assert not log.events("ib_link_not_restored")
        assert len(log.events("ib_executions_synced")) == 2  # at connect, and after 1101


async def test_connectivity_restored_with_data_kept_1102_rereads_executions_only() -> None:
    async with running_broker(link_grace_s=0.3) as (tws, broker, log, _fills):
        executions = len(tws.messages(In.REQ_EXECUTIONS))
        tws.link_lost()  # 1100
        tws.link_restored()  # 1102: data maintained
        await tws.wait_until(lambda: len(tws.messages(In.REQ_EXECUTIONS)) == executions + 1)
        await asyncio.sleep(0.5)
        assert len(tws.messages(In.START_API)) == 1  # the same session
        assert broker.connected
        assert not log.events("ib_market_data_resubscribed")
        assert not log.events("ib_link_not_restored")
        [restored] = [f for f in log.events("ib_error") if f["code"] == 1102]
        assert "re-reads executions" in restored["meaning"]


async def test_market_data_lines_are_resubscribed_after_1101() -> None:
    scenario = Scenario()
    async with running_broker(scenario, quote_timeout_s=2.0) as (tws, broker, _log, _fills):
        leg = option(scenario, "SPXW", 10, 4800.0, Right.PUT)
        # a quote that never completes keeps its line open until the timeout
        spec = scenario.option("SPXW", leg.expiry.strftime("%Y%m%d"), 4800.0, "P")
        scenario.quotes[spec.con_id] = Quote(bid=1.0)
        task = asyncio.ensure_future(broker.quote([leg]))
        await tws.wait_for_message(In.REQ_MKT_DATA)
        tws.send_error(1101, "Connectivity restored - data lost.")
        await tws.wait_for_message(In.REQ_MKT_DATA, count=2)
        assert len(tws.messages(In.CANCEL_MKT_DATA)) >= 1
        [q] = await task
        assert q.bid == 1.0
