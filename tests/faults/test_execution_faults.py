"""Execution faults, daemon level: duplicate execDetails, corrections, late commissions.

Every execution IB reports must be journaled exactly once (across restarts
too), the structure must hold what the executions net to, and the gateway and
the journal must agree (:func:`assert_agree`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from daemon.brokers.ib.executions import REVERSAL_SUFFIX, split_exec_id
from daemon.scheduling.jobs import JobName
from strategies.domain import Right
from tests.fake_tws import In, Out
from tests.faults.rig import (
    FLOOR_TIME,
    assert_agree,
    decision_rows,
    entry_ref,
    fill_rows,
    folded_book,
    gateway,
    gateway_orders,
    gateway_positions,
    holding,
    leg_executions,
    legs_of,
    order_row,
    position_rows,
    start,
    until,
)


def live_exec_details(tws: object) -> list[str]:
    """execIds of the live execDetails (reqId -1) the fake sent, duplicates kept."""
    sent = tws.sent_messages(Out.EXECUTION_DATA)  # type: ignore[attr-defined]
    return [m.fields[14] for m in sent if m.fields[1] == "-1"]


async def test_duplicate_exec_details_are_journaled_once_also_after_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway(exec_details_copies=2) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        sent = live_exec_details(tws)
        assert len(sent) == 10 and set(Counter(sent).values()) == {2}  # 4 legs + BAG, twice
        fills = fill_rows(path, ref)
        assert sorted(f["exec_id"] for f in fills) == sorted(
            e.exec_id for e in leg_executions(tws, ref)
        )
        assert sorted(f["quantity"] for f in fills) == [-6, -6, 6, 6]  # not 12
        assert (order_row(path, ref)["status"], order_row(path, ref)["filled_quantity"]) == (
            "filled",
            6,
        )
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)
        assert daemon.engine.portfolio.structures[ref].held_units == 6
        assert_agree(daemon)

        # a restart reads every execution again (reqExecutions): nothing new is journaled
        await daemon.kill()
        clock.set(FLOOR_TIME)
        daemon = await start(path, tws, clock)
        assert len(tws.messages(In.REQ_EXECUTIONS)) >= 2
        assert not daemon.log.events("fill")
        assert len(fill_rows(path)) == 4
        assert daemon.report is not None and daemon.report.halt_reason is None

        # the close's executions come twice too, and are journaled once
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert close["quantity"] == 6 and order_row(path, close["id"])["status"] == "filled"
        assert len(fill_rows(path, close["id"])) == 4
        assert Counter(live_exec_details(tws)).most_common()[-1][1] == 2
        assert gateway_positions(tws) == {}
        assert position_rows(path)[0]["closed_session"] == "2026-12-02"
        assert_agree(daemon)
        await daemon.stop()


@pytest.mark.parametrize("change", ["price", "shares"])
async def test_execution_correction_nets_to_the_corrected_execution(
    tmp_path: Path, change: str
) -> None:
    """IB corrects the short put's execution (same execId up to its last dot): a better
    price, or 5 contracts instead of 6."""
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)
        short_put = next(g.contract for g in legs if g.ratio < 0 and g.contract.right is Right.PUT)
        [original] = [f for f in fill_rows(path, ref) if f["strike"] == short_put.strike]
        assert original["quantity"] == -6
        open_price = position_rows(path)[0]["open_price"]

        shares, price = (6, original["price"] + 0.50) if change == "price" else (5, None)
        corrected = tws.correct_execution(original["exec_id"], shares=shares, price=price)
        prefix, rank = split_exec_id(corrected.exec_id)
        assert (prefix, rank) == (split_exec_id(original["exec_id"])[0], 2)
        await until(lambda: len(fill_rows(path)) == 6)

        rows = {f["exec_id"]: f for f in fill_rows(path, ref)}
        correction = rows[corrected.exec_id]
        reversal = rows[original["exec_id"] + REVERSAL_SUFFIX]
        assert (correction["quantity"], correction["price"]) == (
            -shares,
            pytest.approx(corrected.price),
        )
        assert (reversal["quantity"], reversal["price"]) == (6, original["price"])
        assert reversal["commission"] == pytest.approx(-original["commission"])
        net = sum(f["quantity"] for f in rows.values() if f["strike"] == short_put.strike)
        assert net == -shares
        book = daemon.engine.portfolio.structures[ref]
        assert book.held[short_put] == -shares
        expected = holding(legs, 6) | {short_put: -shares}
        assert gateway_positions(tws) == expected == folded_book(path).net_contracts()
        if change == "price":
            # the structure's opening price follows the correction: 0.50 more credit
            assert position_rows(path)[0]["open_price"] == pytest.approx(open_price - 0.50)
        assert_agree(daemon)

        # the next reconciliation finds nothing to halt on; a restart folds the same book
        report = await daemon.reconcile()
        assert report.halt_reason is None and daemon.halt is None
        await daemon.stop()
        daemon = await start(path, tws, clock)
        assert not daemon.log.events("fill")  # the correction is not journaled twice
        assert daemon.engine.portfolio.structures[ref].held == book.held
        assert daemon.engine.portfolio.structures[ref].cash_flow == pytest.approx(book.cash_flow)
        assert daemon.halt is None

        # the DTE-floor exit closes exactly what is held (leg by leg when uneven)
        clock.set(FLOOR_TIME)
        assert await daemon.job(JobName.MANAGE)
        closes = [d for d in decision_rows(path) if d["action"] == "close"]
        if change == "price":
            assert [(d["rule"], d["quantity"]) for d in closes] == [("condor_exit", 6)]
        else:
            assert sorted((d["rule"], d["quantity"]) for d in closes) == [
                ("flatten_uneven", 5),
                ("flatten_uneven", 6),
                ("flatten_uneven", 6),
                ("flatten_uneven", 6),
            ]
        for close in closes:
            assert order_row(path, close["id"])["status"] == "filled"
            [gw] = gateway_orders(tws, close["id"])
            assert gw.status == "Filled"
        assert gateway_positions(tws) == {}
        assert position_rows(path)[0]["closed_session"] == "2026-12-02"
        assert_agree(daemon)
        await daemon.stop()


async def test_commission_report_after_5s_leaves_one_fill_with_commission_0(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway(commission_delay=5.0) as (tws, clock):
        daemon = await start(path, tws, clock, commission_wait_s=1.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await daemon.job(JobName.ENTRY)
        assert loop.time() - started < 4.0  # the order did not wait for the reports
        ref = entry_ref(path)
        fills = fill_rows(path, ref)
        assert len(fills) == 4 and {f["commission"] for f in fills} == {0.0}
        missing = daemon.log.events("ib_commission_missing")
        assert sorted(m["exec_id"] for m in missing) == sorted(f["exec_id"] for f in fills)
        assert order_row(path, ref)["status"] == "filled"
        assert gateway_positions(tws) == holding(legs_of(path, ref), 6)

        # the reports arrive 5 s after the executions: logged with their amount, not
        # journaled a second time
        await until(lambda: len(daemon.log.events("ib_commission_late")) == 4, timeout=8.0)
        late = daemon.log.events("ib_commission_late")
        assert [x["commission"] for x in late] == [pytest.approx(0.65 * 6)] * 4
        assert sorted(x["exec_id"] for x in late) == sorted(f["exec_id"] for f in fills)
        fills_after = fill_rows(path, ref)
        assert [(f["exec_id"], f["commission"]) for f in fills_after] == [
            (f["exec_id"], 0.0) for f in fills
        ]
        assert daemon.engine.portfolio.structures[ref].commissions == 0.0
        assert_agree(daemon)

        # a restart reads the executions with their reports now: still one row each
        await daemon.stop()
        daemon = await start(path, tws, clock)
        assert not daemon.log.events("fill")
        assert len(fill_rows(path)) == 4
        assert daemon.halt is None
        assert_agree(daemon)
        await daemon.stop()
