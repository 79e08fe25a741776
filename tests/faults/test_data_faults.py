"""Market-data faults and expiry, daemon level: 10197, 162, NaN greeks, no-bid wings, expiry.

A missing or broken quote must never be traded on (a journaled hold or skip
says why), must not stop the daemon, and must not keep it from closing what
it can price; an option reaching expiry while held is settled at the SPX
close, per structure, and leaves nothing in doubt.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest

from daemon.clock import NEW_YORK
from daemon.scheduling.jobs import JobName
from strategies.domain import Right
from tests.fake_tws import ErrorRule, FillPolicy, GreeksFault, In
from tests.faults.rig import (
    AFTER_EXPIRY,
    EXPIRY,
    FLOOR_TIME,
    assert_agree,
    con_id_of,
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
    position_rows,
    rows,
    settlement_rows,
    start,
)

#: The Monday after the expiry Friday, at the entry job's time.
MONDAY_ENTRY = datetime(2026, 12, 7, 15, 30, tzinfo=NEW_YORK)


def spxw_con_ids(tws: object, expiry: date) -> frozenset[int]:
    """Every SPXW option of one expiry at the fake (both rights, all strikes)."""
    chain = tws.scenario.chain("SPXW")  # type: ignore[attr-defined]
    day = expiry.strftime("%Y%m%d")
    return frozenset(chain.con_id(day, k, r) for k in chain.strikes for r in "CP")


async def test_competing_session_10197_skips_or_holds_and_trades_once_it_ends(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        daemon = await start(path, tws, clock)
        # a competing live session: IB refuses every option line of the expiry
        rule = ErrorRule.competing_session(con_ids=spxw_con_ids(tws, EXPIRY), times=None)
        tws.scenario.error_rules.append(rule)
        assert await daemon.job(JobName.ENTRY)
        [skip] = decision_rows(path, "condor_entry")
        assert skip["action"] == "skip" and "no quoted" in skip["reason"]
        assert not tws.messages(In.PLACE_ORDER) and tws.orders == []
        errors = [f for e, f in daemon.log.at("error") if e == "ib_error"]
        assert errors and {f["code"] for f in errors} == {10197}
        assert "competing live session" in errors[0]["meaning"]
        assert not daemon.failures()

        tws.scenario.error_rules.remove(rule)  # the other session logged out
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        assert order_row(path, ref)["status"] == "filled"
        legs = legs_of(path, ref)
        assert gateway_positions(tws) == holding(legs, 6)

        # at the DTE floor the short put's line is refused: no price, no close
        short_put = next(g.contract for g in legs if g.ratio < 0 and g.contract.right is Right.PUT)
        rule = ErrorRule.competing_session(
            con_ids=frozenset({con_id_of(tws, short_put)}), times=None
        )
        tws.scenario.error_rules.append(rule)
        clock.set(FLOOR_TIME)
        sent = len(tws.messages(In.PLACE_ORDER))
        assert await daemon.job(JobName.MANAGE)
        [hold] = decision_rows(path, "condor_exit")
        assert hold["action"] == "hold"
        assert f"Cannot price condor {ref}" in hold["reason"]
        assert short_put.local_symbol in hold["reason"]
        assert len(tws.messages(In.PLACE_ORDER)) == sent
        assert gateway_positions(tws) == holding(legs, 6)
        assert daemon.halt is None

        tws.scenario.error_rules.remove(rule)
        assert await daemon.job(JobName.MANAGE)
        close = decision_rows(path, "condor_exit")[-1]
        assert close["action"] == "close" and "DTE floor" in close["reason"]
        assert order_row(path, close["id"])["status"] == "filled"
        assert gateway_positions(tws) == {}
        assert position_rows(path)[0]["closed_session"] == "2026-12-02"
        assert_agree(daemon)
        await daemon.stop()


async def test_nan_greeks_are_never_traded_on(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        # the 16-delta put the entry would sell has NaN model greeks
        expiry = EXPIRY.strftime("%Y%m%d")
        broken = tws.scenario.option("SPXW", expiry, 4850.0, "P").con_id
        tws.set_greeks_fault(broken, GreeksFault.NAN)
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)
        assert 4850.0 not in {g.contract.strike for g in legs}  # the next-closest delta
        short_put = next(g.contract for g in legs if g.ratio < 0 and g.contract.right is Right.PUT)
        assert abs(short_put.strike - 4850.0) == 5.0
        assert order_row(path, ref)["status"] == "filled"
        assert gateway_positions(tws) == holding(legs, 6)

        # every held leg's greeks turn NaN: the hedge cannot be sized and buys nothing
        for leg in legs:
            tws.set_greeks_fault(con_id_of(tws, leg.contract), GreeksFault.NAN)
        assert await daemon.job(JobName.HEDGE_CHECK)
        [skip] = decision_rows(path, "hedge_ladder")
        assert skip["action"] == "skip" and "no finite model greeks" in skip["reason"]
        assert not [o for o in tws.orders if o.req.contract.symbol == "VIX"]
        assert opened(path, "hedge_ladder") == []

        # the mark keeps the price and leaves the greeks empty; no job fails
        assert await daemon.job(JobName.MARK)
        [mark] = rows(path, "SELECT * FROM marks WHERE position_id = ?", ref)
        assert math.isfinite(mark["mark_price"])
        assert (mark["delta"], mark["vega"]) == (None, None)

        # exits need prices, not greeks: the DTE floor closes
        clock.set(FLOOR_TIME)
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert close["action"] == "close" and close["quantity"] == 6
        assert order_row(path, close["id"])["status"] == "filled"
        assert gateway_positions(tws) == {}
        assert not daemon.failures()
        assert_agree(daemon)
        await daemon.stop()


async def test_no_bid_wings_at_dte_2_do_not_stop_the_dte_floor_exit(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)

        # two days before expiry: the gateway quotes DTE-2 prices, the far wings
        # with no bid at all (IB: bid -1, size 0)
        clock.set(FLOOR_TIME)
        tws.scenario.today = FLOOR_TIME.date()
        wings = [g.contract for g in legs if g.ratio > 0]
        tws.set_no_bid(*(con_id_of(tws, w) for w in wings))
        quotes = await daemon.broker.quote(wings)
        assert all(math.isnan(q.bid) and q.ask > 0 for q in quotes)

        assert await daemon.job(JobName.MANAGE)
        [exit_] = decision_rows(path, "condor_exit")
        assert exit_["action"] == "close", exit_["reason"]
        assert "DTE floor: 2 DTE <= 2" in exit_["reason"] and exit_["quantity"] == 6
        assert 0 < exit_["limit_price"] < 1.0  # the wings count at a bid of 0
        row = order_row(path, exit_["id"])
        assert (row["status"], row["filled_quantity"]) == ("filled", 6)
        [gw] = gateway_orders(tws, exit_["id"])
        assert gw.status == "Filled" and gw.req.total_quantity == 6.0
        assert gateway_positions(tws) == {}
        [pos] = position_rows(path)
        assert (pos["closed_session"], pos["close_reason"]) == (
            "2026-12-02",
            f"closed by order {exit_['id']}",
        )
        assert len(fill_rows(path, exit_["id"])) == 4
        assert_agree(daemon)
        await daemon.stop()


def expected_settlements(legs: object, close: float) -> dict[float, float]:
    """Strike -> settlement cash of a 6-lot condor at an SPX close of ``close``."""
    return {
        g.contract.strike: 6 * g.ratio * g.contract.intrinsic(close) * 100  # type: ignore[attr-defined]
        for g in legs  # type: ignore[attr-defined]
    }


async def test_option_reaching_expiry_while_held_is_settled_at_the_spx_close(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    # the entry fills; every close on expiry day rests unfilled and is cancelled
    policies = [FillPolicy.immediate(), FillPolicy.never()]
    async with gateway(order_policies=policies) as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)
        short_put = next(g.contract for g in legs if g.ratio < 0 and g.contract.right is Right.PUT)
        spx_close = short_put.strike - 20.0  # the short put ends 20 points in the money
        tws.scenario.daily_closes = {"SPX": {EXPIRY: spx_close}}

        # expiry day, 15:45: the close does not fill
        clock.set(datetime(2026, 12, 4, 15, 45, tzinfo=NEW_YORK))
        assert await daemon.job(JobName.MANAGE)
        [close] = decision_rows(path, "condor_exit")
        assert close["action"] == "close" and "0 DTE" in close["reason"]
        assert order_row(path, close["id"])["status"] == "cancelled"
        assert gateway_positions(tws) == holding(legs, 6)

        # 17:00: the gateway dropped the expired options; the mark job settles them
        clock.set(AFTER_EXPIRY)
        tws.process_expiries()
        assert gateway_positions(tws) == {}
        assert {e.contract.con_id for e in tws.expired} == {
            con_id_of(tws, g.contract) for g in legs
        }
        assert await daemon.job(JobName.MARK)
        settled = settlement_rows(path)
        assert {r["strike"]: r["cash"] for r in settled} == expected_settlements(legs, spx_close)
        assert {r["settlement_price"] for r in settled} == {spx_close}
        assert {r["structure_id"] for r in settled} == {ref}
        assert sorted(r["quantity"] for r in settled) == [-6, -6, 6, 6]
        [pos] = position_rows(path)
        assert pos["closed_session"] == "2026-12-04"
        assert pos["close_reason"] == f"expired: settled at {spx_close:.2f}"
        credit = -order_row(path, ref)["avg_price"] * 6 * 100
        commissions = sum(f["commission"] for f in fill_rows(path))
        assert pos["realized_pnl"] == pytest.approx(credit - commissions - 20 * 6 * 100)
        assert_agree(daemon)

        # Monday: nothing in doubt; the entry trades and the manage job's
        # reconciliation agrees
        clock.set(MONDAY_ENTRY)
        assert await daemon.job(JobName.ENTRY)
        assert daemon.halt is None
        assert len(opened(path)) == 2
        assert await daemon.job(JobName.MANAGE)
        assert daemon.halt is None
        assert decision_rows(path, "reconcile") == []
        assert len(settlement_rows(path)) == 4  # settled once
        assert_agree(daemon)
        await daemon.stop()


async def test_restart_after_expiry_with_162_settles_at_the_next_job_and_unhalts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alvh.sqlite"
    async with gateway() as (tws, clock):
        daemon = await start(path, tws, clock)
        assert await daemon.job(JobName.ENTRY)
        ref = entry_ref(path)
        legs = legs_of(path, ref)
        await daemon.stop()

        # the daemon is down over the expiry; IB drops the options; Monday it starts
        # again while IB's historical data service answers 162
        spx_close = 5010.0  # every leg expires worthless
        tws.scenario.daily_closes = {"SPX": {EXPIRY: spx_close}}
        clock.set(MONDAY_ENTRY)
        tws.process_expiries()
        assert gateway_positions(tws) == {}
        error = ErrorRule.historical_data(times=None)
        tws.scenario.error_rules.append(error)
        daemon = await start(path, tws, clock)
        assert daemon.halt is not None and "gateway positions differ" in daemon.halt
        [reconcile] = decision_rows(path, "reconcile")
        for leg in legs:
            assert (
                f"{leg.contract.local_symbol} journal {6 * leg.ratio:+d} gateway +0"
                in (reconcile["reason"])
            )

        # the entry job's settlement attempt gets 162: pending, the job goes on and
        # the entry is a journaled skip naming the difference
        assert await daemon.job(JobName.ENTRY)
        assert settlement_rows(path) == []
        pending = daemon.log.events("settlement_pending")
        assert len(pending) == 4 and all("162" in p["reason"] for p in pending)
        [skip] = [d for d in decision_rows(path, "condor_entry") if d["action"] == "skip"]
        assert "new risk halted: gateway positions differ" in skip["reason"]
        assert not daemon.failures()

        # 162 is over: the next job settles at the SPX close, closes the structure
        # and nothing is in doubt any more; the entry trades
        tws.scenario.error_rules.remove(error)
        assert await daemon.job(JobName.ENTRY)
        settled = settlement_rows(path)
        assert len(settled) == 4 and {r["cash"] for r in settled} == {0.0}
        assert {r["settlement_price"] for r in settled} == {spx_close}
        [pos, _new] = position_rows(path)
        assert (pos["id"], pos["closed_session"]) == (ref, "2026-12-07")
        assert daemon.halt is None
        assert len(opened(path)) == 2
        assert_agree(daemon)
        await daemon.stop()
