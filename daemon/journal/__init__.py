"""The SQLite journal: every run, decision, order, fill, settlement, position and mark.

One file holds any number of runs (replay, paper, live, dry-run). The schema is
documented table by table in the README (Journal schema).

Writes are buffered in memory and committed by :meth:`Journal.flush` in one
transaction, so a replay of thousands of sessions costs one commit per flush
rather than one per row. SQLite runs in WAL mode: a crash (or an exception in
the middle of a flush) loses at most the unflushed batch and never damages
rows already committed. Paper and live trading should open the journal with
``buffered=False`` (every record commits at once) or call :meth:`Journal.flush`
before sending an order, so a decision is on disk before its order exists.

Exactly-once guarantees, also across restarts: :meth:`Journal.record_fill`
ignores an ``exec_id`` it has seen, :meth:`Journal.record_settlement` ignores a
contract already settled in the run for the same structure, and
:meth:`Journal.order_exists` tells the engine whether a decision's order was
already journaled.

Units: prices are index points (net combo prices + debit / - credit, fill
prices per share, always positive); money is dollars; times are ISO 8601
strings with their UTC offset; sessions are ISO dates (America/New_York).

Modules:

* :mod:`~daemon.journal.schema`: tables, indexes, ``SCHEMA_VERSION``,
  creation, and the migrations applied in one transaction at open.
* :mod:`~daemon.journal.writer`: buffering, group commit and every record
  method, with the exactly-once keys of :mod:`~daemon.journal.keys`;
  :mod:`~daemon.journal.positions` holds the position writes and the
  realized P&L per run.
* :mod:`~daemon.journal.read`: the read models (a record type per table,
  and tallies per structure) and the queries that build them.
* :mod:`~daemon.journal.file`: :class:`Journal` itself (open, close, runs,
  integrity check).
* :mod:`~daemon.journal.codec`: legs JSON, strict JSON, ISO dates;
  :mod:`~daemon.journal.errors`: :class:`JournalError`.

Analytics over a run (drawdown, win rate, P&L per structure, counts) live in
:mod:`daemon.analytics`; :meth:`Journal.summary` is a shortcut to it.

Implementation note: tables and indexes are created with ``sqlite_utils``;
the buffered batch is written with ``Connection.executemany`` on the
``sqlite_utils.Database``'s connection, because ``Table.insert_all`` costs
about twice as much per row and cannot mix inserts and updates in submission
order. Read-only opening also uses a raw ``sqlite3`` URI connection, which
``sqlite_utils`` cannot create.
"""

from daemon.journal.codec import legs_from_json, legs_to_json
from daemon.journal.errors import JournalError
from daemon.journal.file import Journal
from daemon.journal.market import MARKET_SOURCES, MarketDayRecord
from daemon.journal.read import (
    DailyRecord,
    DecisionRecord,
    InterestRecord,
    MarkRecord,
    OrderRecord,
    PositionRecord,
    RunInfo,
    TallyRecord,
)
from daemon.journal.schema import APPLICATION, RUN_MODES, SCHEMA_VERSION

__all__ = [
    "APPLICATION",
    "MARKET_SOURCES",
    "RUN_MODES",
    "SCHEMA_VERSION",
    "DailyRecord",
    "DecisionRecord",
    "InterestRecord",
    "Journal",
    "JournalError",
    "MarkRecord",
    "MarketDayRecord",
    "OrderRecord",
    "PositionRecord",
    "RunInfo",
    "TallyRecord",
    "legs_from_json",
    "legs_to_json",
]
