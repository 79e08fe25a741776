"""``scripts/gate_report.py``: block counts and each gate's closest approach to its limit."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "gate_report", ROOT / "scripts" / "gate_report.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gate_report"] = mod
    spec.loader.exec_module(mod)
    return mod


def _journal(rows: list[tuple[str, str, str, str, dict[str, object]]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("create table runs (id integer primary key)")
    db.execute("create table decisions (run_id, session, rule, action, reason, inputs_json)")
    db.execute("insert into runs (id) values (1)")
    db.executemany(
        "insert into decisions values (1, ?, ?, ?, ?, ?)",
        [(s, r, a, why, json.dumps(i)) for s, r, a, why, i in rows],
    )
    return db


def test_slack_is_the_decision_nearest_each_limit() -> None:
    gr = _script()
    condor = {
        "gate_max_loss": "pass", "gate_max_loss_dollars": 4_000.0,
        "gate_max_loss_budget": 5_000.0,
        "gate_liquidity": "pass", "gate_liquidity_required": 30_000.0,
        "gate_liquidity_available": 100_000.0,
        "gate_quote_width": "pass", "gate_quote_width_widest_use": 0.7,
        "gate_quote_width_widest_leg": "SPXW P",
        "gate_parity": "pass", "gate_parity_worst_residual": -0.3,
        "gate_parity_worst_allowed": 0.6,
        "gate_scenario": "pass", "gate_scenario_budget_loss": 10.0, "gate_scenario_budget": 40.0,
    }  # fmt: skip
    tighter = {**condor, "gate_max_loss_dollars": 4_900.0, "gate_liquidity_available": 40_000.0}
    hedge = {
        "gate_hedge_cap": "pass", "gate_hedge_cap_vix": 12.0,  # below the cap's VIX: no cap
        "gate_quote_width": "block", "gate_quote_width_width": 0.10,
        "gate_quote_width_allowed": 0.0975, "gate_quote_width_leg": "VIX C 16",
        "gate_scenario": "info", "gate_scenario_budget_loss": 99.0, "gate_scenario_budget": 1.0,
    }  # fmt: skip
    capped = {
        "gate_hedge_cap": "resized", "gate_hedge_cap_vix": 35.0, "gate_hedge_cap_cap": 1_000.0,
        "gate_hedge_cap_held_premium": 600.0, "gate_hedge_cap_order_premium": 300.0,
    }  # fmt: skip
    db = _journal([
        ("2020-01-02", "condor_entry", "open", "", condor),
        ("2020-01-03", "condor_entry", "open", "", tighter),
        ("2020-01-06", "hedge_ladder", "skip", "risk gate quote_width: too wide", hedge),
        ("2020-03-16", "hedge_ladder", "open", "", capped),
    ])  # fmt: skip
    c = gr.gate_counts(db, 1)
    assert c.blocked["quote_width"] == 1
    assert c.slack["max_loss"].use == pytest.approx(0.98)
    assert c.slack["max_loss"].session == "2020-01-03"
    assert c.slack["liquidity"].use == pytest.approx(0.75)
    assert c.slack["parity"].use == pytest.approx(0.5)
    assert c.slack["scenario"].use == pytest.approx(0.25)  # the hedge's "info" grid is no budget
    assert c.slack["hedge_cap"].use == pytest.approx(0.9)
    assert c.slack["hedge_cap"].session == "2020-03-16"
    assert c.slack["quote_width"].use == pytest.approx(0.10 / 0.0975)
    assert c.slack["quote_width (hedges)"].rule == "hedge_ladder"
    assert "margin" not in c.slack
