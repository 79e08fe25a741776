"""Connection faults, daemon level: 1100/1101/1102, 326, an unanswered reqAllOpenOrders.

Nothing is traded on quotes that did not come; a refused client id stops the
start-up before anything is sent; a reconciliation that cannot read the
gateway halts new risk with a journaled reason, without a traceback, until a
later one can.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from daemon.scheduling.jobs import JobName
from tests.fake_tws import In, MuteRule
from tests.faults.rig import (
    EXIT_CLIENT_ID_IN_USE,
    FLOOR_TIME,
    assert_agree,
    decision_rows,
    entry_ref,
    fill_rows,
    gateway,
    gateway_orders,
    gateway_positions,
    holding,
    legs_of,
    opened,
    order_row,
    order_rows,
    position_rows,
    rows,
    start,
    until,
)


def ib_codes(daemon: object) -> list[int]:
    return [f["code"] for f in daemon.log.events("ib_error")]  # type: ignore[attr-defined]


async def test_1100_holds_on_missing_quotes_1102_and_1101_restore_and_the_exit_closes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)
        clock.set(FLOOR_TIME)

        # 1100: IB is gone behind the gateway, no ticks stream; the DTE-floor exit
        # cannot price the condor and holds, sending nothing
        tws.link_lost()
        await until(lambda: 1100 in ib_codes(daemon))
        sent = len(tws.messages(In.PLACE_ORDER))
        assert await daemon.job(JobName.MANAGE)
        [hold] = decision_rows(path, "condor_exit")
        assert hold["action"] == "hold" and f"Cannot price condor {ref}" in hold["reason"]
        assert len(tws.messages(In.PLACE_ORDER)) == sent
        assert gateway_positions(tws) == holding(legs, 6)

        # 1102 (data maintained) while the mark job waits for its quotes: the
        # gateway streams them again, the adapter re-reads executions (none new)
        executions_asked = len(tws.messages(In.REQ_EXECUTIONS))
        lines = len(tws.messages(In.REQ_MKT_DATA))
        mark = asyncio.ensure_future(daemon.job(JobName.MARK))
        await until(lambda: len(tws.messages(In.REQ_MKT_DATA)) == lines + 4)
        tws.link_restored()
        assert await mark
        [row] = rows(path, "SELECT * FROM marks WHERE position_id = ?", ref)
        assert math.isfinite(row["mark_price"]) and row["delta"] is not None
        await until(lambda: len(tws.messages(In.REQ_EXECUTIONS)) > executions_asked)
        assert len(fill_rows(path)) == 4

        # 1100 again, then 1101 (data lost) while the manage job waits for quotes:
        # the adapter re-subscribes its lines, the quotes come, the exit closes
        tws.link_lost()
        lines = len(tws.messages(In.REQ_MKT_DATA))
        manage = asyncio.ensure_future(daemon.job(JobName.MANAGE))
        await until(lambda: len(tws.messages(In.REQ_MKT_DATA)) == lines + 4)
        tws.link_restored(data_lost=True)
        assert await manage
        assert [f["lines"] for f in daemon.log.events("ib_market_data_resubscribed")] == [4]
        assert len(tws.messages(In.REQ_MKT_DATA)) == lines + 8
        assert ib_codes(daemon).count(1100) == 2 and {1101, 1102} <= set(ib_codes(daemon))
        close = decision_rows(path, "condor_exit")[-1]
        assert close["action"] == "close" and "DTE floor" in close["reason"]
        assert order_row(path, close["id"])["status"] == "filled"
        assert gateway_positions(tws) == {}
        assert position_rows(path)[0]["closed_session"] == "2026-12-02"
        assert daemon.broker.connected and daemon.halt is None
        assert not daemon.failures()
        assert_agree(daemon)
        await daemon.stop()


async def test_client_id_in_use_326_stops_the_start_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        # another program holds client id 17
        tws.hold_client_id(17, times=None)
        refused = await start(path, tws, clock)
        assert refused.exit_status == EXIT_CLIENT_ID_IN_USE
        assert tws.message_counts() == {"START_API": 1}  # nothing was asked, nothing sent
        errors = refused.log.at("error")
        assert [e for e, _ in errors][-1] == "client_id_in_use"
        assert all("17" in str(f) for _, f in errors)
        [(_, last)] = [(e, f) for e, f in errors if e == "client_id_in_use"]
        assert "client id 17 is in use" in last["reason"]
        assert [f["code"] for f in refused.log.events("ib_error")] == [326]
        assert not refused.failures()  # no traceback
        [run] = rows(path, "SELECT * FROM runs")
        assert run["finished_at"] is not None and "client id 17 is in use" in run["summary_json"]
        assert decision_rows(path) == [] and order_rows(path) == []

        # released: the daemon starts and trades
        tws.release_client_id(17)
        daemon = await start(path, tws, clock)
        assert daemon.exit_status is None and daemon.halt is None
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)

        # a second daemon (same client id, its own journal) is refused; the first
        # one's session is untouched and its orders are its own
        other = await start(tmp_path / "other.sqlite", tws, clock)
        assert other.exit_status == EXIT_CLIENT_ID_IN_USE
        assert rows(tmp_path / "other.sqlite", "SELECT * FROM orders") == []
        assert daemon.broker.connected and tws.connected_client_ids == [17]
        clock.set(FLOOR_TIME)
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert order_row(path, close["id"])["status"] == "filled"
        assert {o.client_id for o in tws.orders} == {17}
        assert len(gateway_orders(tws, ref)) == 1
        assert gateway_positions(tws) == {}
        assert_agree(daemon)
        await daemon.stop()


async def test_unanswered_req_all_open_orders_halts_new_risk_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    mute = MuteRule(In.REQ_ALL_OPEN_ORDERS, times=1)
    async with gateway(mute_rules=[mute]) as (tws, clock):
        # the start-up reconciliation's reqAllOpenOrders is never answered
        daemon = await start(path, tws, clock, request_timeout_s=1.0)
        why = "reconciliation failed: IB did not answer reqAllOpenOrders within 1s"
        assert daemon.report is not None and daemon.report.error is not None
        assert daemon.halt == why
        [reconcile] = decision_rows(path, "reconcile")
        assert (reconcile["action"], reconcile["reason"]) == ("hold", why)
        assert any(f["reason"] == why for f in daemon.log.events("entry_halted"))
        assert not daemon.failures()

        # new risk waits: a journaled skip naming the failure, nothing sent
        assert await daemon.job(JobName.ENTRY)
        [skip] = decision_rows(path, "condor_entry")
        assert skip["action"] == "skip" and f"new risk halted: {why}" in skip["reason"]
        assert not tws.messages(In.PLACE_ORDER)

        # the manage job's reconciliation is answered: the halt is lifted, the entry trades
        assert await daemon.job(JobName.MANAGE)
        assert daemon.halt is None
        assert len(decision_rows(path, "reconcile")) == 1
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        assert order_row(path, ref)["status"] == "filled"

        # unanswered again at a later manage job: halted again, the held condor is
        # still managed (a hold at 14 DTE), and nothing fails
        tws.scenario.mute_rules.append(MuteRule(In.REQ_ALL_OPEN_ORDERS, times=1))
        assert await daemon.job(JobName.MANAGE)
        assert daemon.halt == why
        assert decision_rows(path, "condor_exit")[-1]["action"] == "hold"
        assert await daemon.job(JobName.ENTRY)
        assert f"new risk halted: {why}" in decision_rows(path, "condor_entry")[-1]["reason"]
        assert len(opened(path)) == 1
        assert await daemon.job(JobName.MANAGE)
        assert daemon.halt is None
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
        assert not daemon.failures()
        assert_agree(daemon)
        await daemon.stop()
