"""Fingerprint of a replay's results: a hash of its journal rows and summary.

Speed work must not change what the replay decides, orders, fills or books.
This replays a range at the default config and hashes, row by row and in a
fixed order, every results table of the run (decisions, orders, order events,
fills, settlements, positions, marks, daily, interest) plus the summary, leaving out
only the run's wall-clock stamps (``runs.started_at``/``finished_at`` and the
summary's copies of them). Floats are hashed by ``repr``, so a difference in
the last bit changes the hash.

Usage::

    .venv/bin/python benchmarks/replay_fingerprint.py --start 2019-01-02 --end 2019-06-28

prints JSON (per-table hashes and row counts, the overall hash, key figures);
``tests/daemon/data/replay_fingerprint_2019h1.json`` is this output from main
before the speed work, and ``tests/daemon/test_replay_fingerprint.py`` checks
the replay still produces it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import sqlite3
import sys
import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

#: The results tables and the columns that order their rows deterministically.
RESULT_TABLES: dict[str, str] = {
    "decisions": "session, time, id",
    "orders": "time, order_ref",
    "order_events": "id",
    "fills": "time, exec_id",
    "settlements": "id",
    "positions": "opened_session, id",
    "marks": "session, position_id",
    "daily": "session",
    "interest": "session",
}

#: Summary fields that are wall-clock stamps, not results.
_CLOCK_FIELDS = ("started_at", "finished_at")


def table_hash(db: sqlite3.Connection, table: str, order: str, run_id: int) -> tuple[str, int]:
    """SHA-256 of ``table``'s rows of ``run_id`` in ``order`` (``repr`` of each row)."""
    digest = hashlib.sha256()
    n = 0
    for row in db.execute(f"SELECT * FROM [{table}] WHERE run_id = ? ORDER BY {order}", (run_id,)):
        digest.update(repr(row).encode())
        digest.update(b"\n")
        n += 1
    return digest.hexdigest(), n


def fingerprint(journal: Path, run_id: int, summary: Any) -> dict[str, Any]:
    """The fingerprint of run ``run_id`` in ``journal`` with its ``summary``."""
    tables: dict[str, dict[str, Any]] = {}
    with sqlite3.connect(journal) as db:
        for table, order in RESULT_TABLES.items():
            h, n = table_hash(db, table, order, run_id)
            tables[table] = {"sha256": h, "rows": n}
    fields = {k: v for k, v in asdict(summary).items() if k not in _CLOCK_FIELDS}
    summary_json = json.dumps(fields, sort_keys=True, default=str)
    overall = hashlib.sha256()
    for table in RESULT_TABLES:
        overall.update(f"{table}:{tables[table]['sha256']}\n".encode())
    overall.update(summary_json.encode())
    return {
        "sha256": overall.hexdigest(),
        "summary_sha256": hashlib.sha256(summary_json.encode()).hexdigest(),
        "tables": tables,
        "figures": {
            "sessions": summary.sessions,
            "total_pnl": round(summary.total_pnl, 2),
            "max_drawdown_pct": round(summary.max_drawdown_pct, 2),
            "trades_closed": summary.trades_closed,
            "commissions": round(summary.commissions, 2),
            "interest": round(summary.interest, 2),
        },
    }


def run(start: date, end: date) -> dict[str, Any]:
    """Replay ``start..end`` at the default config and return its fingerprint."""
    from daemon.config import load_config
    from daemon.logs import configure_logging, get_logger
    from daemon.replay import run_replay

    configure_logging("info", "json", stream=io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "fingerprint.sqlite"
        result = asyncio.run(run_replay(load_config(None), start, end, journal, get_logger("fp")))
        out = fingerprint(journal, result.run_id, result.summary)
    out["range"] = f"{start.isoformat()}..{end.isoformat()}"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--start", default="2019-01-02")
    parser.add_argument("--end", default="2019-06-28")
    args = parser.parse_args()
    out = run(date.fromisoformat(args.start), date.fromisoformat(args.end))
    print(json.dumps(out, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
