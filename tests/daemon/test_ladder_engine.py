"""The engine runs the ladder's rung roll as one plan: close, then roll with lineage."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from daemon.scheduling.jobs import JobName
from strategies.domain import Action, Decision, Leg, MarketContext, OptionContract, Right, Structure
from strategies.plan import Plan
from tests.daemon.rig import LC, LP, SC, SESSION, SP, Rig, rows, start
from tests.daemon.scripted_broker import Outcome, ScriptedBroker, leg_quote, vix_call_chain

OLD = OptionContract("VIX", "VIX", SESSION + timedelta(days=25), 22.0, Right.CALL)


async def _condor_with_rung_1(path: Path) -> tuple[Rig, ScriptedBroker, str]:
    """A rig holding a 5-lot condor and a 4-lot rung-1 on ``OLD`` (25 days left); its id."""
    rig = await start(path)
    await rig.open(quantity=5)
    broker = rig.broker
    broker.context = MarketContext(SESSION, 4000.0, 18.0)
    broker.chains["VIX"] = vix_call_chain(SESSION, SESSION + timedelta(days=60))
    broker.quotes.update(
        {
            LP: leg_quote(LP, 1.95, 2.05, vega=20.0),
            SP: leg_quote(SP, 3.45, 3.55, vega=40.0),
            SC: leg_quote(SC, 2.95, 3.05, vega=40.0),
            LC: leg_quote(LC, 1.55, 1.65, vega=20.0),
            OLD: leg_quote(OLD, 0.45, 0.55),
        }
    )
    broker.script(Outcome(prices={OLD: 0.50}))
    await rig.executor.execute(
        Plan.of(
            Decision(
                "hedge_ladder", Action.OPEN, Structure.HEDGE_LAYER, "base rung", {},
                legs=(Leg(OLD, 1),), quantity=4, limit_price=0.50, tag="rung-1",
            )
        )
    )  # fmt: skip
    return rig, broker, broker.placed[-1].order_ref


async def test_rung_roll_journals_close_then_roll_with_lineage(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    # rung-1 held with 25 days left: below the 30-day floor
    rig, broker, old_id = await _condor_with_rung_1(path)
    broker.script(Outcome(prices={OLD: 0.50}), Outcome(prices=None))
    await rig.engine.run_job(JobName.MANAGE)

    decisions = rows(
        path,
        "SELECT id, rule, action, position_id, inputs_json FROM decisions "
        "WHERE rule = 'hedge_roll' ORDER BY rowid",
    )
    assert [(d["action"], d["position_id"]) for d in decisions] == [
        ("close", old_id),
        ("roll", old_id),
    ]
    new_id = decisions[1]["id"]
    assert json.loads(decisions[1]["inputs_json"])["tag"] == "rung-1"
    [old] = rows(path, "SELECT closed_session FROM positions WHERE id = ?", old_id)
    assert old["closed_session"] == SESSION.isoformat()
    [new] = rows(path, "SELECT parent_id, tag, legs_json FROM positions WHERE id = ?", new_id)
    assert new["parent_id"] == old_id and new["tag"] == "rung-1"
    assert (SESSION + timedelta(days=60)).isoformat() in new["legs_json"]
    # the close was sent before the roll
    assert [o.order_ref for o in broker.placed[-2:]] == [decisions[0]["id"], new_id]
    assert rig.position(new_id).parent_id == old_id


async def test_pre_event_hedge_check_adds_a_rung_only_when_configured(tmp_path: Path) -> None:
    path = tmp_path / "alvh.sqlite"
    rig, broker, _ = await _condor_with_rung_1(path)
    placed = len(broker.placed)
    await rig.engine.run_job(JobName.PRE_EVENT_HEDGE_CHECK, "hedge check before CPI")
    [skip] = rows(path, "SELECT action, reason FROM decisions WHERE rule = 'hedge_ladder' "
                  "AND action = 'skip'")  # fmt: skip
    assert "No new rung" in skip["reason"] and skip["reason"].startswith("hedge check before CPI")
    assert len(broker.placed) == placed

    rig.engine.hedge_rules = replace(rig.engine.hedge_rules, pre_event_rung=True)
    broker.script(Outcome(prices=None))
    await rig.engine.run_job(JobName.PRE_EVENT_HEDGE_CHECK, "hedge check before CPI")
    [opened] = rows(path, "SELECT id, reason FROM decisions WHERE rule = 'hedge_ladder' "
                    "AND action = 'open' AND reason LIKE '%Pre-event rung%'")  # fmt: skip
    [position] = rows(path, "SELECT tag FROM positions WHERE id = ?", opened["id"])
    assert position["tag"] == "rung-2"
