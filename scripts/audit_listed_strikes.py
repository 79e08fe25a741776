"""Count the strikes a replay journal traded that the listing model says were not listed.

Usage::

    .venv/bin/python scripts/audit_listed_strikes.py JOURNAL [--run N]

Prints the opening legs, the orders that opened them, and how many legs and
orders used an unlisted strike (see :mod:`daemon.brokers.listing_audit`),
with the first few unlisted legs.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.brokers.listing_audit import unlisted_opening_legs  # noqa: E402
from daemon.calendars.exchange import default_calendar  # noqa: E402
from daemon.calendars.macro import MacroCalendar  # noqa: E402
from daemon.calendars.model_calendar import model_calendar  # noqa: E402
from daemon.marketdata.loader import load_history  # noqa: E402
from strategies.pricing.market_model import MarketModel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("journal", type=Path)
    ap.add_argument("--run", type=int, help="run id (default: the last run)")
    args = ap.parse_args(argv)
    with sqlite3.connect(args.journal) as db:
        run = args.run or db.execute("SELECT MAX(id) FROM runs").fetchone()[0]
    calendar = default_calendar()
    history = load_history(calendar=calendar)
    model = MarketModel(
        calendar=model_calendar(
            calendar, MacroCalendar.load(), history.sessions[0], calendar.last_session
        )
    )
    legs, orders, bad = unlisted_opening_legs(args.journal, run, history, model)
    bad_orders = len({b.order_ref for b in bad})
    bad_days = len({b.session for b in bad})
    print(
        f"run {run}: {legs} opening legs in {orders} orders; unlisted strikes: {len(bad)} legs "
        f"in {bad_orders} orders on {bad_days} sessions"
    )
    for b in bad[:10]:
        print(f"  {b.session} {b.local_symbol} ({b.order_ref})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
