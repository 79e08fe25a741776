"""Audit a replay journal against issue 9's acceptance: what the method did, and what it never did.

Prints, for the last run of the journal (or ``--run ID``):

* every (rule, action) pair of the journal's decisions with its count, and a
  checklist of the moves the method must make at least once over a long
  replay: rung add, rung roll, harvest-and-recycle, wing shift, condor roll,
  and a SKIP from every risk gate (a decision whose inputs carry
  ``gate_<name>_passed = 0``);
* naked shorts: after every order's fills, the net contracts per
  (underlying, trading class, expiry, right) across the whole book; a negative
  count is a short option without a long of the same kind (a naked short);
* new positions below the net-liquidation floor and condors opened with a
  maximum loss above the configured share of net liquidation, read from the
  entry decisions' inputs (``net_liquidation``, ``max_loss_dollars`` and the
  ``[risk]`` section of the run's config).

Exit status 0 when every check holds, 1 otherwise.

Usage::

    .venv/bin/python scripts/method_audit.py JOURNAL [--run ID]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path

#: The moves issue 9 wants to see at least once: label -> predicate on (rule, action, tag).
MOVES = {
    "rung add": lambda rule, action, tag: action == "open" and (tag or "").startswith("rung-"),
    "rung roll": lambda rule, action, tag: action == "roll" and (tag or "").startswith("rung-"),
    "harvest and recycle": lambda rule, action, tag: action == "open" and tag == "recycle",
    "wing shift": lambda rule, action, tag: action == "adjust",
    "condor roll": lambda rule, action, tag: action == "roll" and rule.startswith("condor"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("journal", type=Path)
    parser.add_argument("--run", type=int, default=None)
    args = parser.parse_args(argv)
    db = sqlite3.connect(f"file:{args.journal}?mode=ro", uri=True)
    run_id = args.run or db.execute("SELECT max(id) FROM runs").fetchone()[0]
    config = json.loads(
        db.execute("SELECT config_json FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    )
    ok = True

    decisions = db.execute(
        "SELECT d.id, d.session, d.rule, d.action, d.structure, d.inputs_json, p.tag "
        "FROM decisions d LEFT JOIN positions p ON p.id = d.id WHERE d.run_id = ? ORDER BY d.time",
        (run_id,),
    ).fetchall()
    pairs = Counter((rule, action) for _, _, rule, action, *_ in decisions)
    print(f"run {run_id}: {len(decisions)} decisions")
    for (rule, action), n in sorted(pairs.items()):
        print(f"  {rule:32s} {action:8s} {n:8d}")

    print("moves (at least once each):")
    filled = {
        r[0] for r in db.execute("SELECT DISTINCT order_ref FROM fills WHERE run_id = ?", (run_id,))
    }
    for label, pred in MOVES.items():
        n = sum(1 for d in decisions if pred(d[2], d[3], d[6]) and d[0] in filled)
        ok &= n > 0
        print(f"  {'ok ' if n else 'MISSING'} {label:24s} {n:6d} filled")

    gates: Counter[str] = Counter()
    seen_gates: set[str] = set()
    for _, _, _, action, _, inputs_json, _ in decisions:
        inputs = json.loads(inputs_json or "{}")
        for key, value in inputs.items():
            if key.startswith("gate_") and key.endswith("_passed"):
                name = key[len("gate_") : -len("_passed")]
                seen_gates.add(name)
                if action == "skip" and value in (0, False):
                    gates[name] += 1
    print("risk gate skips (at least once each):")
    if not seen_gates:
        print("  MISSING no decision carries gate results")
        ok = False
    for name in sorted(seen_gates):
        ok &= gates[name] > 0
        print(f"  {'ok ' if gates[name] else 'MISSING'} {name:24s} {gates[name]:6d}")

    book: dict[tuple[str, str, str, str], int] = defaultdict(int)
    naked = 0
    events = db.execute(
        "SELECT time, order_ref, symbol, trading_class, expiry, right, quantity FROM fills "
        "WHERE run_id = ? UNION ALL SELECT time, '~settle', symbol, trading_class, expiry, right, "
        "-quantity FROM settlements WHERE run_id = ? ORDER BY 1, 2",
        (run_id, run_id),
    ).fetchall()
    i = 0
    while i < len(events):
        j = i
        while j < len(events) and events[j][:2] == events[i][:2]:
            _, _, symbol, tclass, expiry, right, qty = events[j]
            book[(symbol, tclass, expiry, right)] += qty
            j += 1
        short = [k for k, v in book.items() if v < 0]
        if short:
            naked += 1
            if naked <= 5:
                print(f"  NAKED after {events[i][1]} at {events[i][0]}: {short}")
        i = j
    ok &= naked == 0
    print(f"naked shorts after an order: {naked} {'ok' if naked == 0 else 'FAIL'}")

    risk = config.get("risk", {})
    pct = risk.get("max_loss_pct")
    floor_breaches = loss_breaches = entries = 0
    for d_id, _session, _rule, action, structure, inputs_json, _ in decisions:
        if action not in ("open", "roll") or d_id not in filled:
            continue
        inputs = json.loads(inputs_json or "{}")
        nl = inputs.get("net_liquidation")
        floor = inputs.get("gate_net_liq_floor_floor")
        if nl is not None and floor is not None and nl < floor:
            floor_breaches += 1
        if structure == "condor":
            entries += 1
            loss = inputs.get("max_loss_dollars")
            if pct is not None and nl and loss is not None and loss > pct / 100.0 * nl + 1e-6:
                loss_breaches += 1
    ok &= floor_breaches == 0 and loss_breaches == 0
    print(f"new positions below the net-liquidation floor: {floor_breaches}")
    print(f"condors ({entries}) with max loss above {pct}% of net liquidation: {loss_breaches}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
