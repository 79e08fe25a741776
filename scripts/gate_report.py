"""Print, per risk gate, how often it blocked, resized or passed in a journal's run.

Usage: ``python scripts/gate_report.py JOURNAL.sqlite [RUN_ID]`` (default: the last run).

Counts come from the decisions' inputs (keys ``gate_<name>``, see
:mod:`strategies.gates`): ``blocked`` = SKIPs whose reason names the gate
first (``risk gate <name>: ...``). Also printed: condor entries skipped by the
entry rule because fewer than one contract fits the % of net liquidation,
the kill switch's trips and resets, the largest max loss per condor at entry
as a % of net liquidation, and whether any condor opened below the floor.

Slack: for each gate, the decision that came closest to its limit, as
``use`` = the gated number over its limit (1.00 = at the limit; a block is
above it), read from the gate's journaled numbers: max loss / budget, floor /
net liquidation, drawdown / kill-switch limit (sessions not tripped), hedge
premium (held + order) / cap (VIX at or above the cap's threshold), scenario
loss / budget (condors), required / available cash (liquidity), quote width /
allowed width (widest leg), |parity residual| / (half-spreads + tolerance),
initial margin / equity with loan after the order. The quote-width line also
gives the hedge orders' closest approach.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

GATES = (
    "max_loss",
    "floor",
    "kill_switch",
    "hedge_cap",
    "scenario",
    "liquidity",
    "quote_width",
    "parity",
    "margin",
)


@dataclass
class GateCounts:
    """What the risk gates did in one run (see the module docstring)."""

    run: int
    decisions: int
    status: dict[str, Counter[str]]
    blocked: Counter[str]
    too_small: int = 0
    trips: int = 0
    resets: int = 0
    worst_pct: float = 0.0
    below_floor: int = 0
    slack: dict[str, Closest] = field(default_factory=dict)


@dataclass
class Closest:
    """The decision nearest a gate's limit: ``use`` = number / limit (1 = at the limit)."""

    use: float
    session: str
    rule: str
    text: str


def _num(inputs: Mapping[str, Any], key: str) -> float | None:
    value = inputs.get(key)
    return float(value) if isinstance(value, int | float) else None


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def _usd(x: float | None) -> str:
    return "?" if x is None else f"${x:,.0f}"


def _use_max_loss(i: Mapping[str, Any]) -> tuple[float | None, str]:
    d, b = _num(i, "gate_max_loss_dollars"), _num(i, "gate_max_loss_budget")
    return _ratio(d, b), f"max loss {_usd(d)} vs budget {_usd(b)}"


def _use_floor(i: Mapping[str, Any]) -> tuple[float | None, str]:
    f, n = _num(i, "gate_floor_dollars"), _num(i, "gate_floor_net_liq")
    return _ratio(f, n), f"floor {_usd(f)} vs net liquidation {_usd(n)}"


def _use_kill(i: Mapping[str, Any]) -> tuple[float | None, str]:
    if i.get("gate_kill_switch") != "pass":
        return None, ""
    d, lim = _num(i, "gate_kill_switch_drawdown_pct"), _num(i, "gate_kill_switch_limit_pct")
    return _ratio(d, lim), f"drawdown {d}% vs limit {lim}%"


def _use_hedge_cap(i: Mapping[str, Any]) -> tuple[float | None, str]:
    cap = _num(i, "gate_hedge_cap_cap")
    held, order = _num(i, "gate_hedge_cap_held_premium"), _num(i, "gate_hedge_cap_order_premium")
    if cap is None or held is None or order is None:
        return None, ""
    vix = i.get("gate_hedge_cap_vix")
    text = f"premium {_usd(held)} held + {_usd(order)} order vs cap {_usd(cap)} (VIX {vix})"
    return (held + order) / cap if cap > 0 else float("inf"), text


def _use_scenario(i: Mapping[str, Any]) -> tuple[float | None, str]:
    if i.get("gate_scenario") not in ("pass", "block"):
        return None, ""  # "info": a hedge's grid, no budget
    loss, budget = _num(i, "gate_scenario_budget_loss"), _num(i, "gate_scenario_budget")
    return _ratio(loss, budget), f"loss {_usd(loss)} vs budget {_usd(budget)}"


def _use_liquidity(i: Mapping[str, Any]) -> tuple[float | None, str]:
    need, have = _num(i, "gate_liquidity_required"), _num(i, "gate_liquidity_available")
    return _ratio(need, have), f"required {_usd(need)} vs available {_usd(have)}"


def _use_quote_width(i: Mapping[str, Any]) -> tuple[float | None, str]:
    use = _num(i, "gate_quote_width_widest_use")
    if use is not None:
        return use, f"widest leg {i.get('gate_quote_width_widest_leg')}"
    width, allowed = _num(i, "gate_quote_width_width"), _num(i, "gate_quote_width_allowed")
    return _ratio(width, allowed), f"{i.get('gate_quote_width_leg')} {width} vs {allowed}"


def _use_parity(i: Mapping[str, Any]) -> tuple[float | None, str]:
    resid, allowed = _num(i, "gate_parity_worst_residual"), _num(i, "gate_parity_worst_allowed")
    use = _ratio(abs(resid) if resid is not None else None, allowed)
    return use, f"residual {resid} at {i.get('gate_parity_worst_strike')} vs {allowed}"


def _use_margin(i: Mapping[str, Any]) -> tuple[float | None, str]:
    init, ewl = _num(i, "gate_margin_init_after"), _num(i, "gate_margin_equity_with_loan_after")
    return _ratio(init, ewl), f"initial margin {_usd(init)} vs equity with loan {_usd(ewl)}"


SLACK: dict[str, Callable[[Mapping[str, Any]], tuple[float | None, str]]] = {
    "max_loss": _use_max_loss,
    "floor": _use_floor,
    "kill_switch": _use_kill,
    "hedge_cap": _use_hedge_cap,
    "scenario": _use_scenario,
    "liquidity": _use_liquidity,
    "quote_width": _use_quote_width,
    "parity": _use_parity,
    "margin": _use_margin,
}


def _closer(
    slack: dict[str, Closest], key: str, use: float | None, session: str, rule: str, text: str
) -> None:
    if use is not None and (key not in slack or use > slack[key].use):
        slack[key] = Closest(use, session, rule, text)


def gate_counts(db: sqlite3.Connection, run: int) -> GateCounts:
    """Count, per gate, its statuses and blocks over the decisions of ``run``."""
    rows = db.execute(
        "select session, rule, action, reason, inputs_json from decisions where run_id = ?",
        (run,),
    ).fetchall()
    counts = GateCounts(run, len(rows), {g: Counter() for g in GATES}, Counter())
    for session, rule, action, reason, inputs_json in rows:
        inputs = json.loads(inputs_json or "{}")
        for gate in GATES:
            value = inputs.get(f"gate_{gate}")
            if value is not None:
                counts.status[gate][value] += 1
                if value in ("pass", "block", "resized"):
                    use, text = SLACK[gate](inputs)
                    _closer(counts.slack, gate, use, session, rule, text)
                    if gate == "quote_width" and rule.startswith("hedge"):
                        _closer(counts.slack, "quote_width (hedges)", use, session, rule, text)
        if action == "skip" and (reason or "").startswith("risk gate "):
            counts.blocked[reason.split(":", 1)[0].removeprefix("risk gate ")] += 1
        if rule == "condor_entry" and "fewer than one contract fits" in (reason or ""):
            counts.too_small += 1
        if rule == "risk_kill_switch":
            counts.trips += inputs.get("event") == "tripped"
            counts.resets += inputs.get("event") == "reset"
        if rule == "condor_entry" and action == "open":
            loss = inputs.get("gate_max_loss_dollars")
            net_liq = inputs.get("net_liq")
            if loss is not None and net_liq:
                counts.worst_pct = max(counts.worst_pct, 100.0 * loss / net_liq)
            if inputs.get("gate_floor") == "pass" and inputs.get(
                "gate_floor_net_liq", 0
            ) < inputs.get("gate_floor_dollars", 0):
                counts.below_floor += 1
    return counts


def print_counts(c: GateCounts) -> None:
    """Print :func:`gate_counts`' result as the report's table and lines."""
    print(f"run {c.run}: {c.decisions} decisions")
    print(f"{'gate':<12} {'blocked':>8}  statuses")
    for gate in GATES:
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(c.status[gate].items()))
        print(f"{gate:<12} {c.blocked.get(gate, 0):>8}  {statuses}")
    print(f"condor entries skipped by sizing (< 1 contract at the % of net liq): {c.too_small}")
    print(f"kill switch: tripped {c.trips}, reset {c.resets}")
    print(f"largest condor max loss at entry: {c.worst_pct:.2f}% of net liquidation")
    print(f"condors opened below the floor: {c.below_floor}")
    print("closest approach to each limit (use = number / limit; above 1.00 blocks):")
    for key in (*GATES[:7], "quote_width (hedges)", *GATES[7:]):
        near = c.slack.get(key)
        if near is None:
            print(f"  {key:<21} -")
            continue
        print(f"  {key:<21} {near.use:6.3f}  {near.session} {near.rule}: {near.text}")


def main(argv: list[str]) -> int:
    db = sqlite3.connect(argv[1])
    run = int(argv[2]) if len(argv) > 2 else db.execute("select max(id) from runs").fetchone()[0]
    print_counts(gate_counts(db, run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
