"""Condor adjustments through the engine, on a journal file and the scripted broker.

A wing shift journals an ADJUST whose fills change the condor's legs (book and
position row); a roll journals CLOSE then ROLL with the parent's id; a partial
adjustment leaves uneven legs that the next manage job flattens; a restart's
fold rebuilds the same legs. Every test reads the journal through a separate
connection (what a crash would leave).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.brokers.base import OrderStatus
from daemon.journal import legs_from_json, legs_to_json
from daemon.scheduling.jobs import JobName
from strategies.domain import Leg, LegQuote, MarketContext, OptionContract, Right
from tests.daemon.rig import (
    CONDOR,
    EXPIRY,
    LC,
    LP,
    SC,
    SESSION,
    SP,
    Rig,
    decisions,
    order,
    position_row,
    start,
)
from tests.daemon.scripted_broker import Outcome, condor_chain

NEW_SP = OptionContract("SPX", "SPXW", EXPIRY, 3890.0, Right.PUT)
NEW_LP = OptionContract("SPX", "SPXW", EXPIRY, 3840.0, Right.PUT)
SHIFTED = (Leg(NEW_LP, 1), Leg(NEW_SP, -1), Leg(SC, -1), Leg(LC, 1))
#: Fill prices of the shift: buy back 7.00, sell 4.00, sell 6.00, buy 3.50: a 0.50 debit.
SHIFT_PRICES = {SP: 7.0, LP: 4.0, NEW_SP: 6.0, NEW_LP: 3.5}


def _q(contract: OptionContract, mid: float, delta: float) -> LegQuote:
    return LegQuote(contract, mid - 0.05, mid + 0.05, 0.2, delta, 0.001, 1.0, -0.1)


def threatened_market(rig: Rig) -> None:
    """The short put at |delta| 0.35 (debit 3.70 vs the 2.90 credit: no exit, no roll)."""
    rig.broker.quotes.update(
        {
            LP: _q(LP, 4.0, -0.15),
            SP: _q(SP, 7.0, -0.35),
            SC: _q(SC, 1.0, 0.08),
            LC: _q(LC, 0.3, 0.03),
            NEW_SP: _q(NEW_SP, 6.0, -0.31),
            NEW_LP: _q(NEW_LP, 3.5, -0.14),
        }
    )


def calm_market(rig: Rig) -> None:
    """Debit 2.90 on the shifted condor, shorts near 16 delta: the manage rule holds."""
    rig.broker.quotes.update(
        {
            NEW_LP: _q(NEW_LP, 2.0, -0.08),
            NEW_SP: _q(NEW_SP, 3.5, -0.16),
            SC: _q(SC, 3.0, 0.16),
            LC: _q(LC, 1.6, 0.08),
        }
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


async def test_a_wing_shift_journals_an_adjust_and_the_row_shows_the_new_legs(
    path: Path,
) -> None:
    rig = await start(path)
    sid = await rig.open(6)
    threatened_market(rig)
    rig.broker.script(Outcome(prices=SHIFT_PRICES))
    await rig.engine.run_job(JobName.MANAGE)

    adjust = decisions(path, rig.run_id)[-1]
    assert (adjust["rule"], adjust["action"], adjust["position_id"]) == (
        "wing_shift",
        "adjust",
        sid,
    )
    assert adjust["quantity"] == 6 and adjust["limit_price"] == pytest.approx(0.50)
    assert legs_from_json(adjust["legs_json"]) == (
        Leg(SP, 1), Leg(LP, -1), Leg(NEW_SP, -1), Leg(NEW_LP, 1),
    )  # fmt: skip
    inputs = json.loads(adjust["inputs_json"])
    assert inputs["side"] == "put" and inputs["short_abs_delta"] == pytest.approx(0.35)
    sent = order(path, adjust["id"])
    assert (sent["structure_id"], sent["status"]) == (sid, "filled")
    # the book and the journal's row show the current legs
    position = rig.position(sid)
    assert position.legs == SHIFTED and position.held_units == 6 and position.adjustments == 1
    row = position_row(path, sid)
    assert legs_from_json(row["legs_json"]) == SHIFTED
    assert row["quantity"] == 6
    assert row["open_price"] == pytest.approx(-2.90 + 0.50)
    assert row["closed_session"] is None
    assert rig.log.of("position_adjusted")
    # the gateway agrees with the book
    assert rig.broker.gateway.net() == rig.portfolio.net_contracts()

    # A restart folds the journal to the same legs, prices and count.
    rig.close()
    again = await start(path, gateway=rig.broker.gateway, clock=rig.clock)
    restored = again.position(sid)
    assert restored.legs == SHIFTED and restored.held_units == 6
    assert restored.adjustments == 1
    assert restored.open_price == pytest.approx(position.open_price)
    assert again.report is not None and again.report.halt_reason is None

    # The next manage job prices the new legs and holds.
    calm_market(again)
    await again.engine.run_job(JobName.MANAGE)
    last = decisions(path, again.run_id)[-1]
    assert (last["rule"], last["action"]) == ("condor_exit", "hold")
    assert "adjustments 0.50" in last["reason"]


async def test_a_partly_filled_shift_is_flattened_leg_by_leg_and_restart_agrees(
    path: Path,
) -> None:
    rig = await start(path)
    sid = await rig.open(6)
    threatened_market(rig)
    rig.broker.script(
        Outcome(OrderStatus.PARTIAL, filled=2, prices=SHIFT_PRICES, reason="walk ended")
    )
    await rig.engine.run_job(JobName.MANAGE)
    adjust_ref = rig.broker.placed[-1].order_ref
    assert order(path, adjust_ref)["status"] == "cancelled"
    assert order(path, adjust_ref)["filled_quantity"] == 2
    position = rig.position(sid)
    assert position.legs == CONDOR and not position.is_balanced
    assert legs_from_json(position_row(path, sid)["legs_json"]) == CONDOR

    # The restart's fold rebuilds the same uneven book.
    rig.close()
    again = await start(path, gateway=rig.broker.gateway, clock=rig.clock)
    restored = again.position(sid)
    assert restored.legs == CONDOR and restored.held == position.held
    assert again.report is not None and again.report.halt_reason is None

    # The next manage job closes exactly what each contract holds, one order each.
    threatened_market(again)
    again.broker.script(*[Outcome() for _ in range(6)])
    await again.engine.run_job(JobName.MANAGE)
    flatten = [d for d in decisions(path, again.run_id) if d["rule"] == "flatten_uneven"]
    assert [d["action"] for d in flatten] == ["close"] * 6
    sent = {o.legs[0].contract: (o.legs[0].ratio, o.quantity) for o in again.broker.placed}
    assert sent == {
        LP: (-1, 4),
        SP: (1, 4),
        NEW_SP: (1, 2),
        NEW_LP: (-1, 2),
        SC: (1, 6),
        LC: (-1, 6),
    }
    assert restored.is_flat and restored.is_closed
    assert again.broker.gateway.net() == {}


async def test_a_roll_journals_close_then_roll_with_the_parent(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(6)
    later = EXPIRY + timedelta(days=7)
    rig.broker.context = MarketContext(SESSION, 4000.0, 18.0)
    rig.broker.chains["SPX"] = condor_chain(SESSION, later)
    # debit 5.70 vs the 2.90 credit: L = $1,680 > 0.9 x C = $1,566, stop at $1,740
    rig.broker.quotes.update(
        {
            LP: _q(LP, 5.0, -0.2),
            SP: _q(SP, 10.0, -0.45),
            SC: _q(SC, 1.0, 0.08),
            LC: _q(LC, 0.3, 0.03),
        }
    )
    rig.broker.script(Outcome(), Outcome())
    await rig.engine.run_job(JobName.MANAGE)

    close, roll = decisions(path, rig.run_id)[-2:]
    assert (close["rule"], close["action"], close["position_id"]) == ("condor_roll", "close", sid)
    assert (roll["rule"], roll["action"], roll["position_id"]) == ("condor_roll", "roll", sid)
    assert close["quantity"] == roll["quantity"] == 6
    assert rig.broker.chain_requests == ["SPX"]  # fetched because the roll needed it
    assert order(path, close["id"])["status"] == "filled"
    successor = roll["id"]
    assert rig.position(sid).is_closed
    assert position_row(path, sid)["close_reason"] == f"closed by order {close['id']}"
    row = position_row(path, successor)
    assert (row["parent_id"], row["quantity"], row["closed_session"]) == (sid, 6, None)
    assert {leg.contract.expiry for leg in legs_from_json(row["legs_json"])} == {later}
    new = rig.position(successor)
    assert (new.parent_id, new.held_units) == (sid, 6)
    assert rig.broker.gateway.net() == rig.portfolio.net_contracts()


async def test_no_chain_is_fetched_when_no_rule_needs_one(path: Path) -> None:
    rig = await start(path)
    await rig.open(6)
    calm = {LP: _q(LP, 2.0, -0.08), SP: _q(SP, 3.5, -0.16), SC: _q(SC, 3.0, 0.16)}
    rig.broker.quotes.update({**calm, LC: _q(LC, 1.6, 0.08)})
    await rig.engine.run_job(JobName.MANAGE)
    assert rig.broker.chain_requests == []
    assert decisions(path, rig.run_id)[-1]["action"] == "hold"


async def test_restart_rewrites_a_row_the_crash_left_with_the_old_legs(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(6)
    threatened_market(rig)
    rig.broker.script(Outcome(prices=SHIFT_PRICES))
    await rig.engine.run_job(JobName.MANAGE)
    rig.close()
    # As if killed between the completing fill and the row's update:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE positions SET legs_json = ?, open_price = -2.9 WHERE id = ?",
            (legs_to_json(CONDOR), sid),
        )
    assert legs_from_json(position_row(path, sid)["legs_json"]) == CONDOR

    again = await start(path, gateway=rig.broker.gateway, clock=rig.clock)
    assert again.position(sid).legs == SHIFTED
    row = position_row(path, sid)
    assert legs_from_json(row["legs_json"]) == SHIFTED
    assert row["open_price"] == pytest.approx(-2.40)
