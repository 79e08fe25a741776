"""The journal's schema: tables, indexes, version, creation and migrations.

:data:`TABLES` and :data:`INDEXES` describe the newest schema, version
:data:`SCHEMA_VERSION`, which a new file gets. The version is kept twice in
the file, in ``meta.schema_version`` (documented, readable with any SQLite
tool) and in SQLite's ``PRAGMA user_version``; both change in the same
transaction.

An older file is brought up to date when it is opened writable: the steps of
:data:`MIGRATIONS` (``MIGRATIONS[0]`` takes version 1 to 2, ``MIGRATIONS[1]``
2 to 3, ...) run in order in **one** transaction together with the version
bump, so a failure leaves the file as it was. A migration is history: it
spells out its own DDL instead of deriving it from :data:`TABLES`, which only
describes the newest version. To change the schema, change :data:`TABLES`
(and :data:`INDEXES`) and append a migration that makes an old file equal;
:data:`SCHEMA_VERSION` follows from the length of :data:`MIGRATIONS`.

A file opened read-only is never changed. If it is older, temporary views
(in the connection's own ``temp`` schema) show the missing columns as NULL
and empty temporary tables stand in for missing tables, so every read works.
A file newer than this code is refused with a one-line :class:`JournalError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon.journal.codec import utc_now
from daemon.journal.errors import JournalError

__all__ = [
    "APPLICATION",
    "INDEXES",
    "MIGRATIONS",
    "RUN_MODES",
    "SCHEMA_VERSION",
    "TABLES",
    "connect",
    "insert_sql",
    "pragma",
]

#: Marker in ``meta.application`` that identifies an alvh journal.
APPLICATION = "alvh-journal"
#: Allowed values of ``runs.mode``.
RUN_MODES = ("replay", "paper", "live", "dry-run")

_TEXT, _INT, _REAL = str, int, float
_SQL_TYPES = {str: "TEXT", int: "INTEGER", float: "REAL"}

#: The newest schema: table -> ``sqlite_utils`` create arguments.
TABLES: dict[str, dict[str, Any]] = {
    "meta": {
        "columns": {"key": _TEXT, "value": _TEXT},
        "pk": "key",
        "not_null": ["value"],
    },
    "runs": {
        "columns": {
            "id": _INT,
            "mode": _TEXT,
            "started_at": _TEXT,
            "finished_at": _TEXT,
            "config_json": _TEXT,
            "replay_start": _TEXT,
            "replay_end": _TEXT,
            "summary_json": _TEXT,
            "account": _TEXT,
        },
        "pk": "id",
        "not_null": ["mode", "started_at", "config_json"],
    },
    "decisions": {
        "columns": {
            "id": _TEXT,
            "run_id": _INT,
            "session": _TEXT,
            "time": _TEXT,
            "rule": _TEXT,
            "action": _TEXT,
            "structure": _TEXT,
            "reason": _TEXT,
            "inputs_json": _TEXT,
            "legs_json": _TEXT,
            "quantity": _INT,
            "limit_price": _REAL,
            "position_id": _TEXT,
        },
        "pk": "id",
        "not_null": ["run_id", "session", "time", "rule", "action", "structure", "quantity"],
        "foreign_keys": [("run_id", "runs", "id")],
    },
    "orders": {
        "columns": {
            "order_ref": _TEXT,
            "run_id": _INT,
            "time": _TEXT,
            "legs_json": _TEXT,
            "quantity": _INT,
            "limit_price": _REAL,
            "worst_price": _REAL,
            "status": _TEXT,
            "filled_quantity": _INT,
            "avg_price": _REAL,
            "reason": _TEXT,
            "updated_at": _TEXT,
            "structure_id": _TEXT,
        },
        "pk": "order_ref",
        "not_null": ["run_id", "time", "legs_json", "quantity", "limit_price", "status"],
        "foreign_keys": [("order_ref", "decisions", "id"), ("run_id", "runs", "id")],
    },
    "order_events": {
        "columns": {
            "id": _INT,
            "order_ref": _TEXT,
            "run_id": _INT,
            "time": _TEXT,
            "state": _TEXT,
            "filled_quantity": _INT,
            "avg_price": _REAL,
            "reason": _TEXT,
        },
        "pk": "id",
        "not_null": ["order_ref", "run_id", "time", "state"],
        "foreign_keys": [("order_ref", "orders", "order_ref")],
    },
    "fills": {
        "columns": {
            "exec_id": _TEXT,
            "order_ref": _TEXT,
            "run_id": _INT,
            "time": _TEXT,
            "local_symbol": _TEXT,
            "symbol": _TEXT,
            "trading_class": _TEXT,
            "expiry": _TEXT,
            "strike": _REAL,
            "right": _TEXT,
            "multiplier": _INT,
            "quantity": _INT,
            "price": _REAL,
            "commission": _REAL,
        },
        "pk": "exec_id",
        "not_null": ["run_id", "time", "local_symbol", "quantity", "price", "commission"],
    },
    "settlements": {
        "columns": {
            "id": _INT,
            "run_id": _INT,
            "time": _TEXT,
            "local_symbol": _TEXT,
            "symbol": _TEXT,
            "trading_class": _TEXT,
            "expiry": _TEXT,
            "strike": _REAL,
            "right": _TEXT,
            "multiplier": _INT,
            "quantity": _INT,
            "settlement_price": _REAL,
            "cash": _REAL,
            "structure_id": _TEXT,
        },
        "pk": "id",
        "not_null": ["run_id", "time", "local_symbol", "quantity", "settlement_price", "cash"],
    },
    "positions": {
        "columns": {
            "id": _TEXT,
            "run_id": _INT,
            "structure": _TEXT,
            "opened_session": _TEXT,
            "closed_session": _TEXT,
            "quantity": _INT,
            "legs_json": _TEXT,
            "open_price": _REAL,
            "close_price": _REAL,
            "realized_pnl": _REAL,
            "close_reason": _TEXT,
            "parent_id": _TEXT,
            "tag": _TEXT,
        },
        "pk": "id",
        "not_null": ["run_id", "structure", "opened_session", "quantity", "legs_json"],
    },
    "marks": {
        "columns": {
            "run_id": _INT,
            "session": _TEXT,
            "position_id": _TEXT,
            "mark_price": _REAL,
            "unrealized_pnl": _REAL,
            "delta": _REAL,
            "gamma": _REAL,
            "vega": _REAL,
            "theta": _REAL,
        },
        "pk": ("run_id", "session", "position_id"),
    },
    "daily": {
        "columns": {
            "run_id": _INT,
            "session": _TEXT,
            "cash": _REAL,
            "net_liquidation": _REAL,
            "realized_pnl": _REAL,
            "unrealized_pnl": _REAL,
            "condor_pnl": _REAL,
            "hedge_pnl": _REAL,
            "drawdown": _REAL,
            "interest": _REAL,
        },
        "pk": ("run_id", "session"),
    },
    "interest": {
        "columns": {
            "run_id": _INT,
            "session": _TEXT,
            "time": _TEXT,
            "accrued_from": _TEXT,
            "days": _INT,
            "balance": _REAL,
            "rate": _REAL,
            "amount": _REAL,
        },
        "pk": ("run_id", "session"),
        "not_null": ["time", "accrued_from", "days", "balance", "rate", "amount"],
        "foreign_keys": [("run_id", "runs", "id")],
    },
    "market_daily": {
        "columns": {
            "session": _TEXT,
            "vix": _REAL,
            "vvix": _REAL,
            "spx": _REAL,
            "advancing": _REAL,
            "declining": _REAL,
            "vix_m1": _REAL,
            "vix_m1_expiry": _TEXT,
            "vix_m2": _REAL,
            "vix_m2_expiry": _TEXT,
            "source": _TEXT,
            "recorded_at": _TEXT,
        },
        "pk": "session",
        "not_null": ["source", "recorded_at"],
    },
}

#: The newest indexes: (table, columns, unique), named ``idx_{table}_{columns}``.
INDEXES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("decisions", ("run_id", "session"), False),
    ("orders", ("run_id", "time"), False),
    ("fills", ("run_id", "time"), False),
    ("settlements", ("run_id", "local_symbol", "structure_id"), True),
    ("order_events", ("order_ref",), False),
    ("positions", ("run_id", "closed_session"), False),
)

# tables whose integer ``id`` is assigned by SQLite (left out of inserts)
_AUTO_ID = frozenset({"settlements", "order_events"})


def insert_sql(table: str, *, replace: bool = False) -> str:
    """``INSERT`` (or ``INSERT OR REPLACE``) of one row of ``table``, columns in schema order.

    Auto-assigned ``id`` columns are left out; the parameters are the other
    columns in the order of :data:`TABLES`.
    """
    cols = [c for c in TABLES[table]["columns"] if not (table in _AUTO_ID and c == "id")]
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    return (
        f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)})"
    )


# --------------------------------------------------------------------------- migrations


def _create_table(db: sqlite_utils.Database, name: str, spec: dict[str, Any]) -> None:
    db.table(name).create(
        spec["columns"],
        pk=spec["pk"],
        not_null=spec.get("not_null"),
        foreign_keys=spec.get("foreign_keys"),
        if_not_exists=True,
    )


def _create_index(
    db: sqlite_utils.Database, table: str, columns: tuple[str, ...], unique: bool
) -> None:
    db.table(table).create_index(
        list(columns),
        index_name=f"idx_{table}_{'_'.join(columns)}",
        unique=unique,
        if_not_exists=True,
    )


def _migrate_1_to_2(db: sqlite_utils.Database) -> None:
    """Version 1 -> 2: order lifecycle, run accounts, lineage, per-structure settlements.

    Adds ``runs.account``; ``orders.structure_id`` and the ``order_events``
    table (one row per order state transition); ``positions.parent_id`` and
    ``positions.tag``; ``settlements.structure_id``, whose unique key becomes
    ``(run_id, local_symbol, structure_id)``. Settlements of version 1 get the
    empty ``structure_id`` that version 2 writes for a settlement of no
    particular structure.
    """
    for table, column, sql_type in (
        ("runs", "account", "TEXT"),
        ("orders", "structure_id", "TEXT"),
        ("settlements", "structure_id", "TEXT"),
        ("positions", "parent_id", "TEXT"),
        ("positions", "tag", "TEXT"),
    ):
        db.execute(f"ALTER TABLE [{table}] ADD COLUMN [{column}] {sql_type}")
    db.execute("UPDATE settlements SET structure_id = '' WHERE structure_id IS NULL")
    _create_table(
        db,
        "order_events",
        {
            "columns": {
                "id": int,
                "order_ref": str,
                "run_id": int,
                "time": str,
                "state": str,
                "filled_quantity": int,
                "avg_price": float,
                "reason": str,
            },
            "pk": "id",
            "not_null": ["order_ref", "run_id", "time", "state"],
            "foreign_keys": [("order_ref", "orders", "order_ref")],
        },
    )
    db.execute("DROP INDEX IF EXISTS idx_settlements_run_id_local_symbol")
    _create_index(db, "settlements", ("run_id", "local_symbol", "structure_id"), True)
    _create_index(db, "order_events", ("order_ref",), False)


#: Columns of ``market_daily`` (version 3), spelled out for the migration (history).
_MARKET_DAILY_V3: dict[str, Any] = {
    "columns": {
        "session": str,
        "vix": float,
        "vvix": float,
        "spx": float,
        "advancing": float,
        "declining": float,
        "vix_m1": float,
        "vix_m1_expiry": str,
        "vix_m2": float,
        "vix_m2_expiry": str,
        "source": str,
        "recorded_at": str,
    },
    "pk": "session",
    "not_null": ["source", "recorded_at"],
}


def _migrate_2_to_3(db: sqlite_utils.Database) -> None:
    """Version 2 -> 3: the ``market_daily`` table of end-of-day market values.

    One row per exchange session (not per run: the market is the same for
    every run): VIX, VVIX and SPX closes, NYSE advancing and declining
    issues, the front and second VIX futures' closes with their expiries,
    where the row came from and when it was written. The live signal source
    (:mod:`daemon.marketdata.live_signals`) reads it and fills it; replay
    never touches it. No existing row changes.
    """
    _create_table(db, "market_daily", _MARKET_DAILY_V3)


#: The ``interest`` table (version 4), spelled out for the migration (history).
_INTEREST_V4: dict[str, Any] = {
    "columns": {
        "run_id": int,
        "session": str,
        "time": str,
        "accrued_from": str,
        "days": int,
        "balance": float,
        "rate": float,
        "amount": float,
    },
    "pk": ("run_id", "session"),
    "not_null": ["time", "accrued_from", "days", "balance", "rate", "amount"],
    "foreign_keys": [("run_id", "runs", "id")],
}


def _migrate_3_to_4(db: sqlite_utils.Database) -> None:
    """Version 3 -> 4: interest on cash (replay's T-bill rate).

    Adds the ``interest`` table (one row per run and session that credited
    interest to the cash balance: the calendar days and previous session it
    covers, the balance and annual rate it accrued at, dollars credited) and
    ``daily.interest``, the run's interest credited so far (dollars,
    cumulative). Earlier daily rows get 0: no interest was paid before.
    """
    db.execute("ALTER TABLE [daily] ADD COLUMN [interest] REAL")
    db.execute("UPDATE daily SET interest = 0.0")
    _create_table(db, "interest", _INTEREST_V4)


#: ``MIGRATIONS[v - 1]`` takes a journal of version ``v`` to ``v + 1``, inside the
#: transaction that :func:`connect` opens; append, never edit.
MIGRATIONS: tuple[Callable[[sqlite_utils.Database], None], ...] = (
    _migrate_1_to_2,
    _migrate_2_to_3,
    _migrate_3_to_4,
)

#: Version of the schema this code writes (``meta.schema_version`` and ``PRAGMA user_version``).
SCHEMA_VERSION = len(MIGRATIONS) + 1


# --------------------------------------------------------------------------- opening


def pragma(db: sqlite_utils.Database, sql: str) -> list[Any]:
    """Run the ``PRAGMA`` statement ``sql`` and return all its rows, its cursor closed.

    Every ``PRAGMA`` of the journal goes through here, not through
    ``db.execute``, because a ``PRAGMA`` that returns a row leaves its
    statement *active* until its cursor is exhausted, closed or freed, and
    ``PRAGMA journal_mode`` (with or without ``=wal``) counts as a writing
    statement in SQLite. While such a statement is active, every ``COMMIT``
    of the connection fails with "cannot commit transaction - SQL statements
    in progress" (Python 3.11's ``sqlite3`` no longer resets statements on
    commit). ``sqlite_utils.Database.execute`` (and its ``enable_wal``) keeps
    the cursor in a local variable and leaves the statement to the cursor's
    deallocation; anything still holding that frame keeps the cursor, hence
    the statement, alive: the Dask worker's sampling profiler
    (``Worker.trigger_profile``, ``sys._current_frames()`` every 10 ms), a
    traceback, a reference cycle. A sweep point failed that way at its
    ``start_run``. Fetching every row finishes the statement and closing the
    cursor releases it, whoever else refers to the cursor or the frame.

    Raises:
        sqlite3.Error: as SQLite does for ``sql``.
    """
    with closing(db.conn.execute(sql)) as cursor:
        return cursor.fetchall()


def _enable_wal(db: sqlite_utils.Database) -> None:
    """Switch ``db`` (outside any transaction) to WAL mode (``sqlite_utils``' ``enable_wal``).

    Done with :func:`pragma`: ``PRAGMA journal_mode=wal`` returns a row and
    counts as a write, so its statement must not outlive this call.
    """
    if pragma(db, "PRAGMA journal_mode")[0][0] != "wal":
        pragma(db, "PRAGMA journal_mode=wal")


def connect(
    path: Path, *, read_only: bool, buffered: bool, busy_timeout_ms: int = 5000
) -> sqlite_utils.Database:
    """Open the journal file ``path``: create, check, migrate, and set the pragmas.

    A missing or empty file is created with the newest schema (unless
    ``read_only``); an older one is migrated (see the module docstring). A
    writable file runs in WAL mode, with ``synchronous=NORMAL`` when
    ``buffered`` and ``FULL`` otherwise. ``busy_timeout_ms`` is how long a
    statement waits for a lock another connection holds (milliseconds).

    Raises:
        JournalError: the file is not SQLite, is SQLite but not an alvh
            journal, was written by a newer schema version, or cannot be
            opened, created or migrated.
    """
    try:
        if read_only:
            if not path.is_file():
                raise JournalError(f"{path}: no such journal file")
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            db = sqlite_utils.Database(conn)
        else:
            if path.exists() and not path.is_file():
                raise JournalError(f"{path}: not a file")
            db = sqlite_utils.Database(path)
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot open journal: {exc}") from exc
    try:
        pragma(db, f"PRAGMA busy_timeout = {max(0, int(busy_timeout_ms))}")
        _check_or_create(db, path, read_only)
        if not read_only:
            _enable_wal(db)
            # NORMAL is corruption-safe in WAL mode; the unbuffered (live)
            # journal also makes each commit durable across power loss.
            pragma(db, f"PRAGMA synchronous = {'NORMAL' if buffered else 'FULL'}")
        pragma(db, "PRAGMA foreign_keys = ON")
    except (sqlite3.DatabaseError, ValueError) as exc:  # ValueError: text that is not UTF-8
        db.close()
        detail = " ".join(str(exc).split())[:200]
        raise JournalError(f"{path}: not an alvh journal ({detail})") from exc
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def _immediate(db: sqlite_utils.Database) -> Iterator[None]:
    """One write transaction (``BEGIN IMMEDIATE``): committed on success, else rolled back."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def _check_or_create(db: sqlite_utils.Database, path: Path, read_only: bool) -> None:
    """Create an empty file, or check a journal's version and bring it to the newest."""
    if not db.table_names():
        if read_only:
            raise JournalError(f"{path}: not an alvh journal (empty database)")
        with _immediate(db):
            if not db.table_names():  # (re-read under the lock: another process may be first)
                _create_schema(db)
                return
    version = _stored_version(db, path)
    if version < SCHEMA_VERSION:
        if read_only:
            _compatibility_views(db)
            return
        _migrate(db, path)
    elif not read_only and _user_version(db) != SCHEMA_VERSION:
        # a journal of this version written before PRAGMA user_version was kept
        with _immediate(db):
            _set_version(db, SCHEMA_VERSION)
    missing = set(TABLES) - set(db.table_names())
    if missing:
        raise JournalError(f"{path}: damaged journal, missing tables: {sorted(missing)}")


def _migrate(db: sqlite_utils.Database, path: Path) -> None:
    """Apply the pending :data:`MIGRATIONS` and the version bump in one transaction."""
    with _immediate(db):
        version = _stored_version(db, path)  # under the lock: another process may be first
        try:
            for step in MIGRATIONS[version - 1 :]:
                step(db)
            _set_version(db, SCHEMA_VERSION)
        except sqlite3.Error as exc:
            raise JournalError(
                f"{path}: migrating the journal from schema version {version} to"
                f" {SCHEMA_VERSION} failed and was rolled back: {exc}"
            ) from exc


def _user_version(db: sqlite_utils.Database) -> int:
    return int(pragma(db, "PRAGMA user_version")[0][0])


def _stored_version(db: sqlite_utils.Database, path: Path) -> int:
    """The file's schema version, checked: an alvh journal, not newer than this code.

    ``meta.schema_version`` is authoritative; ``PRAGMA user_version`` must
    agree with it, or be 0 (files written before it was kept).
    """
    if "meta" not in db.table_names():
        raise JournalError(f"{path}: not an alvh journal (no meta table)")
    meta = {row["key"]: row["value"] for row in db.query("SELECT key, value FROM meta")}
    if meta.get("application") != APPLICATION:
        raise JournalError(f"{path}: not an alvh journal (meta.application is missing)")
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        raise JournalError(f"{path}: journal has no valid schema_version") from None
    user_version = _user_version(db)
    newest = max(version, user_version)
    if newest > SCHEMA_VERSION:
        raise JournalError(
            f"{path}: journal schema version {newest} is newer than this alvh "
            f"supports ({SCHEMA_VERSION}); upgrade alvh"
        )
    if version < 1 or user_version not in (0, version):
        raise JournalError(
            f"{path}: damaged journal, meta.schema_version {version} but PRAGMA user_version"
            f" {user_version}"
        )
    return version


def _set_version(db: sqlite_utils.Database, version: int) -> None:
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    pragma(db, f"PRAGMA user_version = {int(version)}")


def _create_schema(db: sqlite_utils.Database) -> None:
    """The newest schema in an empty file (inside the caller's transaction)."""
    for name, spec in TABLES.items():
        _create_table(db, name, spec)
    for table, columns, unique in INDEXES:
        _create_index(db, table, columns, unique)
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)",
        [
            "application",
            APPLICATION,
            "schema_version",
            str(SCHEMA_VERSION),
            "created_at",
            utc_now().isoformat(),
        ],
    )
    pragma(db, f"PRAGMA user_version = {SCHEMA_VERSION}")


def _compatibility_views(db: sqlite_utils.Database) -> None:
    """Let a read-only connection read an older journal with the newest queries.

    Objects in the ``temp`` schema shadow those of the file for this
    connection only: a view adds each missing column as NULL (and keeps
    ``rowid``, which reads order by), an empty table stands in for a missing
    table. The file itself is not touched.
    """
    present = set(db.table_names())
    for name, spec in TABLES.items():
        columns: dict[str, type] = spec["columns"]
        if name not in present:
            ddl = ", ".join(f"[{c}] {_SQL_TYPES[kind]}" for c, kind in columns.items())
            db.execute(f"CREATE TEMP TABLE [{name}] ({ddl})")
            continue
        have = {c.name for c in db.table(name).columns}
        nulls = "".join(f", NULL AS [{c}]" for c in columns if c not in have)
        if nulls:
            db.execute(
                f"CREATE TEMP VIEW [{name}] AS SELECT rowid AS rowid, *{nulls} FROM main.[{name}]"
            )
