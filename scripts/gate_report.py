"""Print, per risk gate, how often it blocked, resized or passed in a journal's run.

Usage: ``python scripts/gate_report.py JOURNAL.sqlite [RUN_ID]`` (default: the last run).

Counts come from the decisions' inputs (keys ``gate_<name>``, see
:mod:`strategies.gates`): ``blocked`` = SKIPs whose reason names the gate
first (``risk gate <name>: ...``). Also printed: condor entries skipped by the
entry rule because fewer than one contract fits the % of net liquidation,
the kill switch's trips and resets, the largest max loss per condor at entry
as a % of net liquidation, and whether any condor opened below the floor.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter
from dataclasses import dataclass

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


def gate_counts(db: sqlite3.Connection, run: int) -> GateCounts:
    """Count, per gate, its statuses and blocks over the decisions of ``run``."""
    rows = db.execute(
        "select rule, action, reason, inputs_json from decisions where run_id = ?", (run,)
    ).fetchall()
    counts = GateCounts(run, len(rows), {g: Counter() for g in GATES}, Counter())
    for rule, action, reason, inputs_json in rows:
        inputs = json.loads(inputs_json or "{}")
        for gate in GATES:
            value = inputs.get(f"gate_{gate}")
            if value is not None:
                counts.status[gate][value] += 1
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


def main(argv: list[str]) -> int:
    db = sqlite3.connect(argv[1])
    run = int(argv[2]) if len(argv) > 2 else db.execute("select max(id) from runs").fetchone()[0]
    print_counts(gate_counts(db, run))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
