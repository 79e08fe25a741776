"""Realised against planned loss of the condor stops of one replay run.

Usage: ``python benchmarks/stop_stats.py JOURNAL [RUN]`` (default: the last run).

For every filled condor CLOSE whose trigger is the stop, the planned loss is
``(stop_multiple - 1) x credit`` per unit (one credit at the default 2.0) and
the realised loss is ``fill debit - credit`` (plus wing-shift payments), both
in index points before commissions. Prints the count, the ratio of the sums,
the median ratio and the median fill debit in credits; also the counts of
profit-target and other closes. Issue 10 measured 118 stops at 1.48x in
2007-2024 with the once-a-day check at the close.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys

KINDS = ("stop", "profit target", "DTE floor")


def main(path: str, run: int | None = None) -> None:
    db = sqlite3.connect(path)
    if run is None:
        run = db.execute("select max(id) from runs").fetchone()[0]
    rows = db.execute(
        "select d.inputs_json, d.reason, o.avg_price from decisions d "
        "join orders o on o.order_ref = d.id "
        "where d.run_id = ? and d.rule = 'condor_exit' and d.action = 'close' "
        "and o.status = 'filled'",
        (run,),
    ).fetchall()
    kinds: dict[str, int] = {}
    ratios, planned, realised, multiples = [], 0.0, 0.0, []
    for inputs_json, reason, avg in rows:
        inputs = json.loads(inputs_json)
        # an event job's decisions carry the job's trigger under "trigger": read the reason
        kind = next((k for k in KINDS if f" on {k}" in reason), "other")
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind != "stop":
            continue
        credit = float(inputs["credit"])
        plan = (float(inputs["stop_multiple"]) - 1.0) * credit
        loss = float(avg) + float(inputs.get("adjusted_price") or 0.0) - credit
        planned += plan
        realised += loss
        ratios.append(loss / plan)
        multiples.append((float(avg) + float(inputs.get("adjusted_price") or 0.0)) / credit)
    print(f"run {run}: condor closes by trigger {kinds}")
    if ratios:
        print(
            f"stops {len(ratios)}: realised/planned loss {realised / planned:.2f}x (sum), "
            f"median {statistics.median(ratios):.2f}x; median debit paid "
            f"{statistics.median(multiples):.2f} x credit"
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
