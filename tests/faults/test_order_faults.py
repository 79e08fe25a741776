"""Order faults, daemon level: the real engine, IBBroker and journal file against the fake TWS.

Every test asserts what the gateway holds (positions, open orders, orders,
executions) and what the journal says (orders and their events, fills once,
positions, decisions and their reasons), ending with :func:`assert_agree`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from daemon.scheduling.jobs import JobName
from strategies.rules import HedgeRules
from tests.fake_tws import CancelPolicy, DropRule, FillPolicy, In, MuteRule
from tests.fake_tws.protocol import parse_place_order
from tests.faults.rig import (
    FLOOR_TIME,
    assert_agree,
    decision_rows,
    entry_ref,
    events,
    fill_rows,
    gateway,
    gateway_orders,
    gateway_positions,
    holding,
    leg_executions,
    legs_of,
    opened,
    order_row,
    position_rows,
    start,
    until,
)


@pytest.mark.parametrize("restart", [False, True], ids=["same-run", "after-a-restart"])
async def test_partial_close_then_the_next_manage_closes_only_the_rest(
    tmp_path: Path, restart: bool
) -> None:
    path = tmp_path / "alvh.sqlite"
    # the entry fills; the DTE-floor close fills 3 of 6 and rests; the next close fills
    policies = [FillPolicy.immediate(), FillPolicy.partial(3)]
    async with gateway(order_policies=policies) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)

        clock.set(FLOOR_TIME)
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert close["action"] == "close" and close["quantity"] == 6
        assert "DTE floor" in close["reason"]
        first = order_row(path, close["id"])
        assert (first["status"], first["quantity"], first["filled_quantity"]) == ("cancelled", 6, 3)
        assert first["reason"].startswith("filled 3 of 6")
        assert events(path, close["id"]) == ["intent", "submitted", "cancelled"]
        # the gateway: 3 of each leg left, the close's rest cancelled, nothing working
        assert gateway_positions(tws) == holding(legs_of(path, ref), 3)
        [gw_close] = gateway_orders(tws, close["id"])
        assert (gw_close.status, gw_close.filled, gw_close.req.total_quantity) == (
            "Cancelled",
            3.0,
            6.0,
        )
        [row] = position_rows(path)
        assert row["id"] == ref and row["closed_session"] is None and row["quantity"] == 6
        assert len(fill_rows(path, close["id"])) == 4
        assert daemon.halt is None
        assert_agree(daemon)

        # the next manage job (the next day) closes exactly the 3 held
        clock.set(FLOOR_TIME.replace(day=3))
        if restart:
            await daemon.stop()
            daemon = await start(path, tws, clock)
            assert daemon.report is not None and daemon.report.halt_reason is None
        assert await daemon.job(JobName.MANAGE)
        [_, second] = decision_rows(path, "condor_exit")
        assert second["action"] == "close" and second["quantity"] == 3
        assert order_row(path, second["id"])["status"] == "filled"
        assert order_row(path, second["id"])["filled_quantity"] == 3
        [gw_second] = gateway_orders(tws, second["id"])
        assert gw_second.req.total_quantity == 3.0 and gw_second.status == "Filled"
        assert gateway_positions(tws) == {}
        [row] = position_rows(path)
        assert row["closed_session"] == "2026-12-03"
        assert row["close_reason"] == f"closed by order {second['id']}"
        assert sorted(abs(f["quantity"]) for f in fill_rows(path, second["id"])) == [3, 3, 3, 3]
        assert_agree(daemon)
        await daemon.stop()


async def test_partial_close_of_a_vix_layer_then_only_the_rest_is_sold(tmp_path: Path) -> None:
    """The issue's 19-lot VIX layer: a close that sells part of it must not be re-sent
    for 19 (which left 10 naked short calls)."""
    path = tmp_path / "alvh.sqlite"
    # condor and layer fill; the layer's first close sells 9 and rests; then fills
    policies = [FillPolicy.immediate(), FillPolicy.immediate(), FillPolicy.partial(9)]
    # due for its close at once; sized as the one-layer hedge was (more than 9 calls)
    rules = HedgeRules(close_dte=90, share=1.0, base_weight=1.0, condor_iv_beta=2.0)
    async with gateway(order_policies=policies) as (tws, clock):
        daemon = await start(path, tws, clock, hedge_rules=rules)
        assert await daemon.job(JobName.ENTRY)
        assert await daemon.job(JobName.HEDGE_CHECK)
        [layer] = opened(path, "hedge_ladder")
        [call] = [leg.contract for leg in legs_of(path, layer)]
        bought = order_row(path, layer)["filled_quantity"]
        assert bought > 9 and gateway_positions(tws)[call] == bought

        assert await daemon.job(JobName.MANAGE)
        [first] = [d for d in decision_rows(path, "hedge_exit") if d["action"] == "close"]
        assert first["quantity"] == bought
        row = order_row(path, first["id"])
        assert (row["status"], row["filled_quantity"]) == ("cancelled", 9)
        assert gateway_positions(tws)[call] == bought - 9
        [gw] = gateway_orders(tws, first["id"])
        assert (gw.req.action, gw.req.total_quantity, gw.filled) == ("SELL", bought, 9.0)
        assert_agree(daemon)

        assert await daemon.job(JobName.MANAGE)
        closes = [d for d in decision_rows(path, "hedge_exit") if d["action"] == "close"]
        assert [d["quantity"] for d in closes] == [bought, bought - 9]
        assert order_row(path, closes[1]["id"])["status"] == "filled"
        [gw] = gateway_orders(tws, closes[1]["id"])
        assert (gw.req.action, gw.req.total_quantity) == ("SELL", bought - 9)
        assert call not in gateway_positions(tws)  # flat, not short
        layer_row = next(r for r in position_rows(path) if r["id"] == layer)
        assert layer_row["closed_session"] == "2026-11-20"
        assert_agree(daemon)
        await daemon.stop()


async def test_partial_open_holds_what_filled_and_closes_exactly_that(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway(order_policies=[FillPolicy.partial(2)]) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        row = order_row(path, ref)
        assert (row["status"], row["quantity"], row["filled_quantity"]) == ("cancelled", 6, 2)
        assert events(path, ref) == ["intent", "submitted", "cancelled"]
        [gw] = gateway_orders(tws, ref)
        assert (gw.status, gw.filled) == ("Cancelled", 2.0)
        assert gateway_positions(tws) == holding(legs_of(path, ref), 2)
        # the journal's structure holds what filled: quantity 2 at the filled price
        [pos] = position_rows(path)
        assert (pos["id"], pos["quantity"], pos["closed_session"]) == (ref, 2, None)
        assert pos["open_price"] == pytest.approx(row["avg_price"])
        assert sorted(abs(f["quantity"]) for f in fill_rows(path, ref)) == [2, 2, 2, 2]
        assert daemon.halt is None
        assert_agree(daemon)

        # a held condor counts against the limit: the next entry skips, sending nothing
        sent = len(tws.messages(In.PLACE_ORDER))
        assert await daemon.job(JobName.ENTRY)
        skip = decision_rows(path, "condor_entry")[-1]
        assert skip["action"] == "skip" and "already open" in skip["reason"]
        assert len(tws.messages(In.PLACE_ORDER)) == sent

        clock.set(FLOOR_TIME)
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert close["action"] == "close" and close["quantity"] == 2
        assert order_row(path, close["id"])["status"] == "filled"
        assert gateway_positions(tws) == {}
        assert position_rows(path)[0]["closed_session"] == "2026-12-02"
        assert_agree(daemon)
        await daemon.stop()


async def test_reject_201_closes_the_structure_unfilled_and_halts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    policies = [FillPolicy.reject("Insufficient margin")]
    async with gateway(order_policies=policies) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        row = order_row(path, ref)
        assert (row["status"], row["filled_quantity"]) == ("rejected", 0)
        assert "Insufficient margin" in row["reason"]
        assert events(path, ref) == ["intent", "submitted", "rejected"]
        [gw] = gateway_orders(tws, ref)
        assert (gw.status, gw.filled) == ("Inactive", 0.0)
        assert len(tws.messages(In.PLACE_ORDER)) == 1  # no walking after a reject
        assert any(e["code"] == 201 for e in daemon.log.events("ib_error"))
        [pos] = position_rows(path)
        assert pos["closed_session"] == "2026-11-20"
        assert pos["close_reason"].startswith("not filled: rejected by IB")
        assert gateway_positions(tws) == {} and fill_rows(path) == []
        assert daemon.halt is None
        assert_agree(daemon)

        # nothing is in doubt: the next entry trades (the rejected one does not count)
        assert await daemon.job(JobName.ENTRY)
        opened = [d for d in decision_rows(path, "condor_entry") if d["action"] == "open"]
        assert len(opened) == 2
        assert order_row(path, opened[1]["id"])["status"] == "filled"
        assert gateway_positions(tws) == holding(legs_of(path, opened[1]["id"]), 6)
        assert_agree(daemon)
        await daemon.stop()


@pytest.mark.parametrize("restart", [False, True], ids=["same-run", "killed-while-unknown"])
async def test_cancel_never_confirmed_then_filled_is_unknown_until_reconciled(
    tmp_path: Path, restart: bool
) -> None:
    path = tmp_path / "alvh.sqlite"
    # rests unfilled; the cancel at the walk's timeout is never confirmed, and the
    # order fills 1.5 s later
    policy = FillPolicy.never().with_cancel(CancelPolicy.fill_later(1.5))
    async with gateway(order_policies=[policy]) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        row = order_row(path, ref)
        assert (row["status"], row["filled_quantity"]) == ("unknown", 0)
        assert "did not confirm the cancel" in row["reason"]
        assert len(tws.messages(In.CANCEL_ORDER)) == 1
        assert daemon.halt == f"order fate unknown: {ref}"
        assert any(f["reason"] == daemon.halt for f in daemon.log.events("entry_halted"))

        if restart:
            # killed now; the order fills while the daemon is down; the next start
            # reads the executions, folds them into the book and settles the order
            await daemon.kill()
            await until(lambda: len(leg_executions(tws, ref)) == 4)
            daemon = await start(path, tws, clock)
            assert len(fill_rows(path, ref)) == 4
            row = order_row(path, ref)
            assert (row["status"], row["filled_quantity"]) == ("filled", 6)
            net = sum(f["quantity"] * f["price"] for f in fill_rows(path, ref)) / 6
            assert row["avg_price"] == pytest.approx(net)
            assert position_rows(path)[0]["open_price"] == pytest.approx(net)
            assert events(path, ref) == ["intent", "submitted", "unknown", "filled"]
            assert daemon.halt is None
            assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
            assert_agree(daemon)
            await daemon.stop()
            return

        # the fill arrives after the order was given up on: journaled once, booked
        await until(lambda: len(fill_rows(path, ref)) == 4)
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
        assert daemon.engine.portfolio.net_contracts() == gateway_positions(tws)
        assert order_row(path, ref)["status"] == "unknown"  # not assumed filled

        # an entry meanwhile is a journaled skip naming the order in doubt
        assert await daemon.job(JobName.ENTRY)
        skip = decision_rows(path, "condor_entry")[-1]
        assert skip["action"] == "skip"
        assert f"new risk halted: order fate unknown: {ref}" in skip["reason"]
        assert len(gateway_orders(tws, skip["id"])) == 0

        # the manage job's reconciliation settles it from the gateway's executions
        assert await daemon.job(JobName.MANAGE)
        row = order_row(path, ref)
        assert (row["status"], row["filled_quantity"]) == ("filled", 6)
        assert "executions show 6 of 6 filled" in row["reason"]
        assert events(path, ref) == ["intent", "submitted", "unknown", "filled"]
        net = sum(f["quantity"] * f["price"] for f in fill_rows(path, ref)) / 6
        assert row["avg_price"] == pytest.approx(net) and net < 0  # a credit
        [pos] = position_rows(path)
        assert (pos["quantity"], pos["closed_session"]) == (6, None)
        assert pos["open_price"] == pytest.approx(net)
        assert daemon.halt is None
        [hold] = decision_rows(path, "condor_exit")
        assert hold["action"] == "hold"  # 14 DTE, no target or stop
        assert_agree(daemon)
        await daemon.stop()


@pytest.mark.parametrize("reaches", [True, False], ids=["reaches-gateway", "never-arrives"])
async def test_timeout_inside_place_order_is_unknown_then_settled_from_the_gateway(
    tmp_path: Path, reaches: bool
) -> None:
    """placeOrder gets no answer: the order fills silently at the gateway (IB then
    answers the walk's modification with 104), or it never arrives at all."""
    path = tmp_path / "alvh.sqlite"
    mute = (
        MuteRule(In.PLACE_ORDER) if reaches else MuteRule(In.PLACE_ORDER, times=None, handle=False)
    )
    async with gateway(mute_rules=[mute]) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)  # no traceback: the job ends normally
        ref = entry_ref(path)
        row = order_row(path, ref)
        assert (row["status"], row["filled_quantity"]) == ("unknown", 0)
        assert events(path, ref) == ["intent", "submitted", "unknown"]
        assert daemon.halt == f"order fate unknown: {ref}"
        assert not daemon.failures()
        if reaches:
            assert "104" in row["reason"] or "Cannot modify" in row["reason"]
            assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
            assert fill_rows(path) == []  # IB never told this client
        else:
            assert tws.orders == [] and gateway_positions(tws) == {}

        # new risk waits: the entry is a journaled skip naming the order, the hedge
        # job buys nothing for a condor the journal does not know it holds
        assert await daemon.job(JobName.ENTRY)
        skip = decision_rows(path, "condor_entry")[-1]
        assert skip["action"] == "skip"
        assert f"order fate unknown: {ref}" in skip["reason"]
        assert await daemon.job(JobName.HEDGE_CHECK)
        assert not [o for o in tws.orders if o.order_ref != ref]
        assert decision_rows(path, "hedge_ladder") == []

        # reconciliation (the manage job's) settles it from the gateway
        tws.scenario.mute_rules.clear()
        assert await daemon.job(JobName.MANAGE)
        row = order_row(path, ref)
        [pos] = position_rows(path)
        if reaches:
            assert (row["status"], row["filled_quantity"]) == ("filled", 6)
            assert len(fill_rows(path, ref)) == 4
            net = sum(f["quantity"] * f["price"] for f in fill_rows(path, ref)) / 6
            assert row["avg_price"] == pytest.approx(net)
            assert net == pytest.approx(row["limit_price"])  # filled at the first limit
            assert (pos["quantity"], pos["closed_session"]) == (6, None)
            assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
        else:
            assert (row["status"], row["filled_quantity"]) == ("cancelled", 0)
            assert "executions show 0 of 6 filled" in row["reason"]
            assert pos["closed_session"] == "2026-11-20"
            assert pos["close_reason"] == "not filled (reconciled)"
            assert gateway_positions(tws) == {}
        assert events(path, ref)[-2:] == ["unknown", row["status"]]
        assert daemon.halt is None
        assert_agree(daemon)
        await daemon.stop()


async def test_disconnect_mid_walk_with_a_fill_during_the_outage(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    # the walk's 2nd price change (3rd placeOrder) is lost with the socket; the
    # gateway refuses connections for 1.5 s and fills the order 0.3 s in, at the
    # limit it had
    drop = DropRule(In.PLACE_ORDER, nth=3, outage=1.5, fill_after=0.3)
    async with gateway(order_policies=[FillPolicy.never()], drop_rules=[drop]) as (tws, clock):
        daemon = await start(path, tws, clock, walk_timeout_s=5.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await daemon.job(JobName.ENTRY)
        # back within moments of the outage's end, not after a connect timeout (5 s)
        assert loop.time() - started < 1.5 + 1.5
        ref = entry_ref(path)
        limits = [parse_place_order(m.fields).lmt_price for m in tws.messages(In.PLACE_ORDER)]
        assert len(limits) == 3  # the lost one was never re-sent
        row = order_row(path, ref)
        assert (row["status"], row["filled_quantity"]) == ("filled", 6)
        assert row["avg_price"] == pytest.approx(limits[1])  # the last limit IB had
        assert events(path, ref) == ["intent", "submitted", "filled"]
        assert daemon.log.events("ib_disconnected") and tws.refused_connections >= 1
        # the fills made while the daemon was away: found by reqExecutions, journaled once
        assert len(leg_executions(tws, ref)) == 4
        assert sorted(f["exec_id"] for f in fill_rows(path, ref)) == sorted(
            e.exec_id for e in leg_executions(tws, ref)
        )
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
        [pos] = position_rows(path)
        assert (pos["quantity"], pos["open_price"]) == (6, pytest.approx(limits[1]))
        assert daemon.halt is None
        assert_agree(daemon)
        await daemon.stop()
