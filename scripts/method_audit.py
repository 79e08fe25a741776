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
* new condors below the net-liquidation floor and condors opened with a
  maximum loss above ``[condor] max_loss_pct_of_net_liq`` of net
  liquidation, from the gates' inputs (``scripts/gate_report.py``).

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate_report import GATES, gate_counts, print_counts

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

    gates = gate_counts(db, run_id)
    print_counts(gates)
    print("risk gate skips (at least once each; a skip of the max-loss gate includes an entry")
    print("skipped because fewer than one contract fits):")
    for name in GATES:
        n = gates.blocked.get(name, 0) + (gates.too_small if name == "max_loss" else 0)
        ok &= n > 0
        print(f"  {'ok ' if n else 'MISSING'} {name:24s} {n:6d}")

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

    pct = config.get("condor", {}).get("max_loss_pct_of_net_liq")
    ok &= gates.below_floor == 0 and (pct is None or gates.worst_pct <= pct + 1e-6)
    print(f"new condors below the net-liquidation floor: {gates.below_floor}")
    print(f"largest max loss at entry {gates.worst_pct:.2f}% of net liquidation (limit {pct}%)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
