"""The executor's risk-gate step, through the engine, on a journal file and the scripted broker.

A gate that blocks makes the decision a journaled SKIP naming the gate and its
numbers and nothing is sent; a CLOSE is never gated; the margin gate asks the
broker's what-if for the order the other gates sized.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon import execution as execution_module
from daemon.brokers.base import BrokerError
from daemon.engine import KILL_SWITCH_RULE
from daemon.execution import RiskGate
from daemon.scheduling.jobs import JobName
from strategies.domain import MarketContext
from strategies.gates import DrawdownState
from strategies.margin import MarginImpact
from strategies.plan import Plan
from strategies.rules import CondorRules, RiskRules
from tests.daemon.rig import (
    EXPIRY,
    LC,
    LP,
    SC,
    SESSION,
    SP,
    Rig,
    close_decision,
    decisions,
    rows,
    start,
)
from tests.daemon.scripted_broker import Outcome, condor_chain, leg_quote

#: Margin IB would report for the entry: well inside the account.
ROOMY = MarginImpact(0.0, 25_000.0, 500_000.0, 5.0, "ib-what-if")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


def _gated(rig: Rig, rules: RiskRules) -> None:
    rig.engine.risk_rules = rules
    rig.engine.executor.risk = RiskGate(rules, CondorRules(), rig.engine.risk_snapshot)


def _entry_market(rig: Rig) -> None:
    rig.broker.context = MarketContext(SESSION, 4000.0, 18.0)
    rig.broker.chains["SPX"] = condor_chain(SESSION, EXPIRY)
    rig.broker.quotes.update(
        {
            LP: leg_quote(LP, 1.95, 2.05, vega=20.0),
            SP: leg_quote(SP, 3.45, 3.55, vega=40.0),
            SC: leg_quote(SC, 2.95, 3.05, vega=40.0),
            LC: leg_quote(LC, 1.55, 1.65, vega=20.0),
        }
    )


def _inputs(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(row["inputs_json"]))


async def test_a_blocked_entry_is_a_journaled_skip_naming_the_gate_and_nothing_is_sent(
    path: Path,
) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules(quote_max_width_pct=1.0, quote_min_width_ticks=0))
    await rig.engine.run_job(JobName.ENTRY)

    assert rig.broker.placed == [] and rig.broker.what_ifs == []
    assert rows(path, "SELECT COUNT(*) AS n FROM orders")[0]["n"] == 0
    last = decisions(path, rig.run_id)[-1]
    assert (last["rule"], last["action"], last["quantity"]) == ("condor_entry", "skip", 0)
    assert last["reason"].startswith("risk gate quote_width: SPXW")
    assert "exceeds" in last["reason"] and "1% of mid" in last["reason"]
    inputs = _inputs(last)
    assert inputs["gate_quote_width"] == "block"
    assert inputs["blocked_action"] == "open"
    # every other gate still journaled its numbers
    assert inputs["gate_max_loss"] == "pass" and inputs["gate_scenario"] == "pass"
    assert json.loads(inputs["gate_scenario_grid"])["vol"].keys() == {"+0", "+5", "+10", "+20"}


async def test_an_entry_that_passes_asks_the_what_if_then_sends(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules())
    rig.broker.margin = ROOMY
    rig.broker.script(Outcome())
    await rig.engine.run_job(JobName.ENTRY)

    [asked] = rig.broker.what_ifs
    [sent] = rig.broker.placed
    assert (asked.quantity, asked.legs, asked.limit_price) == (5, sent.legs, -2.90)
    entry = next(d for d in decisions(path, rig.run_id) if d["id"] == sent.order_ref)
    inputs = _inputs(entry)
    assert entry["action"] == "open"
    assert inputs["gate_margin"] == "pass"
    assert inputs["gate_margin_source"] == "ib-what-if"
    assert inputs["gate_max_loss_dollars"] == pytest.approx(5 * (50 - 2.90) * 100)
    assert inputs["gate_parity"] == "n/a"  # the scripted broker quotes no other right


async def test_margin_beyond_equity_with_loan_blocks_the_entry(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules())
    rig.broker.margin = MarginImpact(10_000.0, 60_000.0, 50_000.0, 5.0, "ib-what-if")
    await rig.engine.run_job(JobName.ENTRY)
    assert rig.broker.placed == [] and len(rig.broker.what_ifs) == 1
    last = decisions(path, rig.run_id)[-1]
    assert last["action"] == "skip"
    assert last["reason"].startswith(
        "risk gate margin: initial margin after the order $60,000 exceeds the equity with "
        "loan value after it $50,000 (ib-what-if)"
    )


async def test_a_failed_what_if_blocks_new_risk(path: Path) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules())
    rig.broker.errors["what_if"] = BrokerError("IB did not answer whatIfOrder within 10s")
    await rig.engine.run_job(JobName.ENTRY)
    assert rig.broker.placed == []
    last = decisions(path, rig.run_id)[-1]
    assert last["reason"].startswith("risk gate margin: no margin estimate from the broker (IB")


async def test_a_close_is_never_gated(path: Path) -> None:
    rig = await start(path)
    sid = await rig.open(3)
    # Every gate would refuse new risk now: the kill switch is tripped, quotes
    # count as far too wide, the broker's margin says no and a what-if fails.
    _entry_market(rig)
    _gated(rig, RiskRules(quote_max_width_pct=0.01, quote_min_width_ticks=0))
    rig.engine.drawdown = DrawdownState(1e9, SESSION, 0, SESSION)
    rig.broker.errors["what_if"] = BrokerError("no")
    rig.broker.script(Outcome())
    await rig.executor.execute(Plan.of(close_decision(sid, 3)))

    assert rig.broker.placed[-1].order_ref != sid  # the close was sent
    assert rig.broker.what_ifs == []
    close = decisions(path, rig.run_id)[-1]
    assert close["action"] == "close"
    assert not any(key.startswith("gate_") for key in _inputs(close))
    assert rig.position(sid).is_closed


async def test_the_kill_switch_trips_and_resets_in_the_journal_and_blocks_entries_meanwhile(
    path: Path,
) -> None:
    rig = await start(path)
    _entry_market(rig)
    rules = RiskRules(kill_switch_drawdown_pct=20.0, kill_switch_cooloff_sessions=2)
    _gated(rig, rules)
    rig.broker.margin = ROOMY
    engine = rig.engine
    engine.observe_net_liq(SESSION - timedelta(days=3), 600_000.0)
    engine.observe_net_liq(SESSION - timedelta(days=2), 470_000.0)  # 21.7% below 600k
    await engine.run_job(JobName.ENTRY)  # 500k now: still 16.7% down, but tripped
    assert rig.broker.placed == []
    notes = [d for d in decisions(path, rig.run_id) if d["rule"] == KILL_SWITCH_RULE]
    assert [_inputs(n)["event"] for n in notes] == ["tripped"]
    assert notes[0]["action"] == "hold"
    assert "21.7% below the high-water mark $600,000" in notes[0]["reason"]
    skip = decisions(path, rig.run_id)[-1]
    assert skip["reason"].startswith("risk gate kill_switch: drawdown kill switch tripped on")
    assert "resets in 1 session(s)" in skip["reason"]

    # the second session of the cool-off resets the high-water mark to net liquidation
    rig.clock.set(SESSION + timedelta(days=1))
    rig.broker.context = MarketContext(SESSION + timedelta(days=1), 4000.0, 18.0)
    rig.broker.chains["SPX"] = condor_chain(SESSION + timedelta(days=1), EXPIRY)
    rig.broker.script(Outcome())
    await engine.run_job(JobName.ENTRY)
    notes = [d for d in decisions(path, rig.run_id) if d["rule"] == KILL_SWITCH_RULE]
    assert [_inputs(n)["event"] for n in notes] == ["tripped", "reset"]
    assert _inputs(notes[1])["high_water"] == 500_000.0
    assert len(rig.broker.placed) == 1  # entries resumed


async def test_a_restart_folds_the_journaled_net_liquidation_into_the_kill_switch(
    path: Path,
) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules(kill_switch_drawdown_pct=20.0, kill_switch_cooloff_sessions=5))
    rig.broker.margin = ROOMY
    daily = [
        (SESSION - timedelta(days=4), 400_000.0),  # starting equity
        (SESSION - timedelta(days=3), 640_000.0),  # high-water mark
        (SESSION - timedelta(days=2), 500_000.0),  # 21.9% down: tripped
        (SESSION - timedelta(days=1), 505_000.0),
    ]
    rig.engine.restore_risk(daily)
    state = rig.engine.drawdown
    assert state is not None and state.tripped_on == SESSION - timedelta(days=2)
    assert (state.high_water, state.sessions_tripped) == (640_000.0, 1)
    assert rig.engine.starting_equity == 400_000.0
    await rig.engine.run_job(JobName.ENTRY)
    assert rig.broker.placed == []  # still tripped after the restart
    skip = decisions(path, rig.run_id)[-1]
    assert "risk gate kill_switch" in skip["reason"] and "resets in 3 session(s)" in skip["reason"]
    # the fold journals nothing of its own
    assert not [d for d in decisions(path, rig.run_id) if d["rule"] == KILL_SWITCH_RULE]


async def test_a_gate_that_raises_blocks_the_order_and_the_job_goes_on(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await start(path)
    _entry_market(rig)
    _gated(rig, RiskRules())

    def broken(*_args: object) -> None:
        raise ZeroDivisionError("a gate's bug")

    monkeypatch.setattr(execution_module, "evaluate_gates", broken)
    await rig.engine.run_job(JobName.ENTRY)
    assert rig.broker.placed == []
    last = decisions(path, rig.run_id)[-1]
    assert last["action"] == "skip"
    assert last["reason"].startswith("risk gates failed: ZeroDivisionError: a gate's bug")
    assert rig.log.of("risk_gates_failed", "error")
