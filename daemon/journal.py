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
contract already settled in the run, and :meth:`Journal.order_exists` tells the
engine whether a decision's order was already sent.

Units: prices are index points (net combo prices + debit / - credit, fill
prices per share, always positive); money is dollars; times are ISO 8601
strings with their UTC offset; sessions are ISO dates (America/New_York).

Implementation note: tables and indexes are created with ``sqlite_utils``;
the buffered batch is written with ``Connection.executemany`` on the
``sqlite_utils.Database``'s connection, because ``Table.insert_all`` costs
about twice as much per row and cannot mix inserts and updates in submission
order. Read-only opening also uses a raw ``sqlite3`` URI connection, which
``sqlite_utils`` cannot create.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon.brokers.base import ComboOrder, OrderResult
from strategies.domain import (
    Action,
    Decision,
    Leg,
    OptionContract,
    Right,
    Structure,
)
from strategies.execution import LIVE_STATES, Fill, OrderIntent, OrderState, Settlement
from strategies.positions import OpenStructure

__all__ = [
    "APPLICATION",
    "RUN_MODES",
    "SCHEMA_VERSION",
    "DailyRecord",
    "DecisionRecord",
    "Journal",
    "JournalError",
    "JournalSummary",
    "MarkRecord",
    "OrderRecord",
    "PositionRecord",
    "RunInfo",
    "legs_from_json",
    "legs_to_json",
]

#: Schema version written to ``meta``; bump with a migration when tables change.
SCHEMA_VERSION = 2
#: Marker in ``meta.application`` that identifies an alvh journal.
APPLICATION = "alvh-journal"
#: Allowed values of ``runs.mode``.
RUN_MODES = ("replay", "paper", "live", "dry-run")
#: ``orders.status`` of an order recorded but not yet terminal.
SUBMITTED = "submitted"


class JournalError(RuntimeError):
    """The journal file cannot be used, or a record would break its invariants."""


# --------------------------------------------------------------------------- schema

_TEXT, _INT, _REAL = str, int, float

_TABLES: dict[str, dict[str, Any]] = {
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
        },
        "pk": ("run_id", "session"),
    },
}

# (table, columns, unique)
_INDEXES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("decisions", ("run_id", "session"), False),
    ("orders", ("run_id", "time"), False),
    ("fills", ("run_id", "time"), False),
    ("settlements", ("run_id", "local_symbol", "structure_id"), True),
    ("order_events", ("order_ref",), False),
    ("positions", ("run_id", "closed_session"), False),
)


def _insert_sql(table: str, *, replace: bool = False) -> str:
    cols = [
        c
        for c in _TABLES[table]["columns"]
        if not (table in ("settlements", "order_events") and c == "id")
    ]
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    return (
        f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)})"
    )


_SQL_DECISION = _insert_sql("decisions")
_SQL_ORDER = _insert_sql("orders")
_SQL_FILL = _insert_sql("fills")
_SQL_SETTLEMENT = _insert_sql("settlements")
_SQL_POSITION = _insert_sql("positions")
_SQL_MARK = _insert_sql("marks", replace=True)
_SQL_DAILY = _insert_sql("daily", replace=True)
_SQL_ORDER_EVENT = _insert_sql("order_events")
_SQL_ORDER_UPDATE = (
    "UPDATE orders SET status = ?, filled_quantity = COALESCE(?, filled_quantity), "
    "avg_price = COALESCE(?, avg_price), reason = ?, updated_at = ? WHERE order_ref = ?"
)
_SQL_POSITION_CLOSE = (
    "UPDATE positions SET closed_session = ?, close_price = ?, realized_pnl = ?, "
    "close_reason = ? WHERE id = ?"
)


# --------------------------------------------------------------------------- JSON helpers


def legs_to_json(legs: Iterable[Leg]) -> str:
    """Serialise legs as a compact JSON array (one object per leg, strike in index points)."""
    legs = tuple(legs)
    try:
        return _legs_json_cached(legs)
    except TypeError:  # an unhashable (mutable) contract: serialise without the cache
        return _legs_json(legs)


@functools.lru_cache(maxsize=4096)
def _legs_json_cached(legs: tuple[Leg, ...]) -> str:
    return _legs_json(legs)


def _legs_json(legs: tuple[Leg, ...]) -> str:
    return json.dumps(
        [
            {
                "symbol": leg.contract.symbol,
                "trading_class": leg.contract.trading_class,
                "expiry": leg.contract.expiry.isoformat(),
                "strike": leg.contract.strike,
                "right": leg.contract.right.value,
                "multiplier": leg.contract.multiplier,
                "ratio": leg.ratio,
            }
            for leg in legs
        ],
        separators=(",", ":"),
    )


def legs_from_json(text: str | None) -> tuple[Leg, ...]:
    """Inverse of :func:`legs_to_json`; ``None`` or ``""`` gives no legs.

    Raises:
        JournalError: the text is not a legs array.
    """
    if not text:
        return ()
    try:
        return tuple(
            Leg(
                OptionContract(
                    item["symbol"],
                    item["trading_class"],
                    date.fromisoformat(item["expiry"]),
                    float(item["strike"]),
                    Right(item["right"]),
                    int(item.get("multiplier", 100)),
                ),
                int(item["ratio"]),
            )
            for item in json.loads(text)
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"malformed legs_json: {exc}") from exc


def _json(value: Any) -> str:
    """Strict JSON (non-finite floats become null); plain mappings take a fast path."""
    if isinstance(value, Mapping):
        try:
            return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            pass
    return json.dumps(_plain(value), separators=(",", ":"), sort_keys=True)


def _plain(value: Any) -> Any:
    """JSON-ready copy: dates as ISO strings, enums as values, dataclasses as dicts."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str | int):
        return value.value
    return value


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One row of ``runs``; ``config`` and ``summary`` are the decoded JSON."""

    id: int
    mode: str
    started_at: str
    finished_at: str | None
    replay_start: date | None
    replay_end: date | None
    config: dict[str, Any]
    summary: dict[str, Any] | None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A journaled decision with its id, run, session and (ISO) time."""

    id: str
    run_id: int
    session: date
    time: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One row of ``orders``; prices net per combo unit, index points (+ debit, - credit)."""

    order_ref: str
    run_id: int
    time: str
    legs: tuple[Leg, ...]
    quantity: int
    limit_price: float
    worst_price: float | None
    status: str
    filled_quantity: int
    avg_price: float | None
    reason: str
    updated_at: str | None
    structure_id: str | None = None

    @property
    def state(self) -> OrderState:
        """The order's lifecycle state (journals of schema 1 said ``submitted``)."""
        try:
            return OrderState(self.status)
        except ValueError:
            return OrderState.UNKNOWN


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One row of ``positions``; prices index points, ``realized_pnl`` dollars net of costs."""

    id: str
    run_id: int
    structure: Structure
    opened_session: date
    closed_session: date | None
    quantity: int
    legs: tuple[Leg, ...]
    open_price: float
    close_price: float | None
    realized_pnl: float | None
    close_reason: str | None
    parent_id: str | None = None
    tag: str | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_session is None

    def to_open_structure(self) -> OpenStructure:
        """The pure-core view of this position (for rebuilding the engine's book)."""
        return OpenStructure(
            self.id, self.structure, self.legs, self.quantity, self.open_price, self.opened_session
        )


@dataclass(frozen=True, slots=True)
class MarkRecord:
    """One row of ``marks``: a position's end-of-day mark.

    ``mark_price`` net per combo unit (index points); ``unrealized_pnl`` dollars;
    greeks are position totals in dollars per unit of the greek's variable
    (delta per index point, gamma per point², vega per vol point, theta per day).
    """

    run_id: int
    session: date
    position_id: str
    mark_price: float
    unrealized_pnl: float
    delta: float
    gamma: float
    vega: float
    theta: float


@dataclass(frozen=True, slots=True)
class DailyRecord:
    """One row of ``daily`` (dollars). P&L columns are cumulative since the run started.

    ``unrealized_pnl`` is the P&L of structures still open; ``condor_pnl`` and
    ``hedge_pnl`` are realized plus open P&L per structure kind;
    ``drawdown`` is dollars below the running peak of ``net_liquidation``.
    """

    run_id: int
    session: date
    cash: float
    net_liquidation: float
    realized_pnl: float
    unrealized_pnl: float
    condor_pnl: float
    hedge_pnl: float
    drawdown: float


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """What ``alvh journal FILE`` prints about one run; money in dollars.

    Counts are keyed by structure (``"condor"``, ``"hedge_layer"``; fills of
    orders the journal does not know are under ``"other"``). P&L is net of
    commissions and fees. ``total_pnl`` is the last session's realized plus
    unrealized P&L (realized only when no session was marked);
    ``max_drawdown`` is the largest fall of net liquidation from its running
    peak, also as ``max_drawdown_pct`` percent of that peak. ``win_rate`` is
    a decimal share of closed positions with positive realized P&L, ``None``
    when nothing closed.
    """

    run_id: int
    mode: str
    started_at: str
    finished_at: str | None
    replay_start: date | None
    replay_end: date | None
    sessions: int
    first_session: date | None
    last_session: date | None
    decisions: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    orders_filled: int = 0
    fills: dict[str, int] = field(default_factory=dict)
    trades_closed: int = 0
    wins: int = 0
    win_rate: float | None = None
    total_pnl: float = 0.0
    realized_pnl: float = 0.0
    unrealized_pnl: float = 0.0
    condor_pnl: float = 0.0
    hedge_pnl: float = 0.0
    commissions: float = 0.0
    starting_net_liquidation: float | None = None
    final_net_liquidation: float | None = None
    max_drawdown: float = 0.0
    max_drawdown_pct: float = 0.0

    def render(self) -> str:
        """A short human-readable report (several lines)."""

        def counts(values: Mapping[str, int]) -> str:
            total = sum(values.values())
            parts = ", ".join(f"{k} {v}" for k, v in sorted(values.items()))
            return f"{total}" + (f" ({parts})" if parts else "")

        period = ""
        if self.first_session is not None:
            period = f", sessions {self.first_session} .. {self.last_session} ({self.sessions})"
        win = "n/a" if self.win_rate is None else f"{self.win_rate * 100:.1f}%"
        lines = [
            f"run {self.run_id} [{self.mode}] started {self.started_at}"
            + (f", finished {self.finished_at}" if self.finished_at else ", not finished")
            + period,
            f"decisions {counts(self.decisions)}; orders {counts(self.orders)}"
            f" ({self.orders_filled} filled); fills {counts(self.fills)}",
            f"trades closed {self.trades_closed}, wins {self.wins}, win rate {win}",
            f"P&L total {self.total_pnl:,.2f} (condor {self.condor_pnl:,.2f},"
            f" hedge {self.hedge_pnl:,.2f}; realized {self.realized_pnl:,.2f},"
            f" open {self.unrealized_pnl:,.2f}) USD",
            f"max drawdown {self.max_drawdown:,.2f} USD ({self.max_drawdown_pct:.2f}%);"
            f" commissions {self.commissions:,.2f} USD",
        ]
        if self.final_net_liquidation is not None:
            lines.append(
                f"net liquidation {self.starting_net_liquidation or 0:,.2f}"
                f" -> {self.final_net_liquidation:,.2f} USD"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- journal


class _Keys:
    """The unique keys of one table: pending ones plus a lazily loaded copy of committed ones.

    Membership tests are set lookups once the committed keys are loaded (on
    first use, if the table has at most :attr:`LOAD_LIMIT` rows); bigger tables
    are asked per key. Assumes one writing process per journal file.
    """

    LOAD_LIMIT = 1_000_000

    def __init__(self, db: sqlite_utils.Database, table: str, columns: tuple[str, ...]) -> None:
        self._db = db
        self._table = table
        self._columns = columns
        self.pending: set[Any] = set()
        self._committed: set[Any] | None = None
        self._load_tried = False

    def __contains__(self, key: Any) -> bool:
        if key in self.pending:
            return True
        if not self._load_tried:
            self._load()
        if self._committed is not None:
            return key in self._committed
        where = " AND ".join(f"[{c}] = ?" for c in self._columns)
        params = key if len(self._columns) > 1 else (key,)
        sql = f"SELECT 1 FROM [{self._table}] WHERE {where} LIMIT 1"
        return self._db.execute(sql, params).fetchone() is not None

    def _load(self) -> None:
        self._load_tried = True
        (count,) = self._db.execute(f"SELECT COUNT(*) FROM [{self._table}]").fetchone()
        if count > self.LOAD_LIMIT:
            return
        cols = ", ".join(f"[{c}]" for c in self._columns)
        cursor = self._db.execute(f"SELECT {cols} FROM [{self._table}]")
        if len(self._columns) == 1:
            self._committed = {row[0] for row in cursor}
        else:
            self._committed = {tuple(row) for row in cursor}

    def committed(self) -> None:
        """The pending keys were committed."""
        if self._committed is not None:
            self._committed |= self.pending
        self.pending = set()


class Journal:
    """An open journal file. Create with :meth:`Journal.open`; not thread-safe.

    Use as a context manager or call :meth:`close`, which flushes.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        path: Path,
        *,
        buffered: bool,
        read_only: bool,
        min_commit_interval_s: float,
    ) -> None:
        self._db = db
        self.path = path
        self.buffered = buffered
        self.read_only = read_only
        self.min_commit_interval_s = min_commit_interval_s
        self._last_commit = -math.inf
        self._groups: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._pending_rows = 0
        self._decision_ids = _Keys(db, "decisions", ("id",))
        self._order_refs = _Keys(db, "orders", ("order_ref",))
        self._exec_ids = _Keys(db, "fills", ("exec_id",))
        self._settled = _Keys(db, "settlements", ("run_id", "local_symbol", "structure_id"))
        self._position_ids = _Keys(db, "positions", ("id",))
        self._keys = (
            self._decision_ids,
            self._order_refs,
            self._exec_ids,
            self._settled,
            self._position_ids,
        )
        # positions opened or seen open by this process: id -> (run_id, structure)
        self._open_positions: dict[str, tuple[int, str]] = {}
        # cumulative realized P&L per run and structure (dollars)
        self._realized: dict[int, dict[str, float]] = {}
        self._closed = False

    # -- lifecycle ------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        buffered: bool = True,
        read_only: bool = False,
        min_commit_interval_s: float = 0.5,
    ) -> Journal:
        """Open (creating if needed) the journal at ``path``.

        Args:
            path: SQLite file; created with the schema when missing or empty.
            buffered: keep writes in memory until :meth:`flush` (fast replay);
                ``False`` commits every record immediately (paper/live).
            read_only: open without write access (``alvh journal``); the file
                must exist and every write method raises :class:`JournalError`.
            min_commit_interval_s: group commit for buffered journals, wall
                seconds: :meth:`flush` commits only if this long has passed
                since the last commit (or when forced), so a fast replay that
                flushes every session commits a few times per second instead
                of thousands. ``0`` commits on every flush. A crash loses at
                most this window of buffered work; committed rows are never
                affected.

        Raises:
            JournalError: the file is not SQLite, is SQLite but not an alvh
                journal, was written by a newer schema version, or cannot be
                opened or created.
        """
        path = Path(path)
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
            db.execute("PRAGMA busy_timeout = 5000")
            cls._check_or_create(db, path, read_only)
            if not read_only:
                db.enable_wal()
                # NORMAL is corruption-safe in WAL mode; the unbuffered (live)
                # journal also makes each commit durable across power loss.
                db.execute(f"PRAGMA synchronous = {'NORMAL' if buffered else 'FULL'}")
            db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise JournalError(f"{path}: not an alvh journal ({exc})") from exc
        except BaseException:
            db.close()
            raise
        return cls(
            db,
            path,
            buffered=buffered,
            read_only=read_only,
            min_commit_interval_s=max(0.0, min_commit_interval_s),
        )

    @staticmethod
    def _check_or_create(db: sqlite_utils.Database, path: Path, read_only: bool) -> None:
        tables = set(db.table_names())
        if not tables:
            if read_only:
                raise JournalError(f"{path}: not an alvh journal (empty database)")
            Journal._create_schema(db)
            return
        if "meta" not in tables:
            raise JournalError(f"{path}: not an alvh journal (no meta table)")
        meta = {row["key"]: row["value"] for row in db.query("SELECT key, value FROM meta")}
        if meta.get("application") != APPLICATION:
            raise JournalError(f"{path}: not an alvh journal (meta.application is missing)")
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            raise JournalError(f"{path}: journal has no valid schema_version") from None
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{path}: journal schema version {version} is newer than this alvh "
                f"supports ({SCHEMA_VERSION}); upgrade alvh"
            )
        if version < SCHEMA_VERSION and not read_only:
            Journal._migrate(db, version)
            tables = set(db.table_names())
        missing = set(_TABLES) - tables
        if version < SCHEMA_VERSION and read_only:
            missing -= {"order_events"}
        if missing:
            raise JournalError(f"{path}: damaged journal, missing tables: {sorted(missing)}")

    @staticmethod
    def _migrate(db: sqlite_utils.Database, version: int) -> None:
        """Bring a journal of an older schema up to :data:`SCHEMA_VERSION` in one transaction.

        1 -> 2: order lifecycle (``orders.structure_id``, ``order_events``),
        ``runs.account``, lineage (``positions.parent_id``, ``positions.tag``),
        per-structure settlements (``settlements.structure_id``).
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            for name, spec in _TABLES.items():
                if name not in db.table_names():
                    db.table(name).create(
                        spec["columns"],
                        pk=spec["pk"],
                        not_null=spec.get("not_null"),
                        foreign_keys=spec.get("foreign_keys"),
                    )
                    continue
                have = {c.name for c in db.table(name).columns}
                for column, kind in spec["columns"].items():
                    if column not in have:
                        sql_type = {str: "TEXT", int: "INTEGER", float: "FLOAT"}[kind]
                        db.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {sql_type}")
            db.execute("DROP INDEX IF EXISTS idx_settlements_run_id_local_symbol")
            for table, columns, unique in _INDEXES:
                db.table(table).create_index(
                    list(columns),
                    index_name=f"idx_{table}_{'_'.join(columns)}",
                    unique=unique,
                    if_not_exists=True,
                )
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)]
            )
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()

    @staticmethod
    def _create_schema(db: sqlite_utils.Database) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for name, spec in _TABLES.items():
                db.table(name).create(
                    spec["columns"],
                    pk=spec["pk"],
                    not_null=spec.get("not_null"),
                    foreign_keys=spec.get("foreign_keys"),
                    if_not_exists=True,
                )
            for table, columns, unique in _INDEXES:
                db.table(table).create_index(
                    list(columns),
                    index_name=f"idx_{table}_{'_'.join(columns)}",
                    unique=unique,
                    if_not_exists=True,
                )
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?), (?, ?), (?, ?)",
                [
                    "application",
                    APPLICATION,
                    "schema_version",
                    str(SCHEMA_VERSION),
                    "created_at",
                    _now().isoformat(),
                ],
            )
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()

    def close(self) -> None:
        """Flush pending writes and close the file. Safe to call twice.

        Raises:
            JournalError: the final flush failed (the file is closed anyway;
                committed rows are intact, the failed batch is lost).
        """
        if self._closed:
            return
        try:
            if not self.read_only:
                self.flush(force=True)
        finally:
            self._closed = True
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite_utils.Database:
        """The underlying ``sqlite_utils.Database`` (for ad-hoc queries)."""
        return self._db

    @property
    def journal_mode(self) -> str:
        """SQLite journal mode (``"wal"`` for a writable journal)."""
        return str(self._db.journal_mode)

    @property
    def pending(self) -> int:
        """Rows (inserts and updates) waiting for :meth:`flush`."""
        return self._pending_rows

    # -- buffering ------------------------------------------------------------
    def _queue(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        if self.read_only:
            raise JournalError(f"{self.path}: journal is open read-only")
        groups = self._groups
        if groups and groups[-1][0] == sql:
            groups[-1][1].append(params)
        else:
            groups.append((sql, [params]))
        self._pending_rows += 1
        if not self.buffered:
            self.flush(force=True)

    def flush(self, *, force: bool = False) -> int:
        """Commit every pending write in one transaction.

        Unless ``force``, a buffered journal defers the commit while less than
        ``min_commit_interval_s`` has passed since its last commit (see
        :meth:`open`); the rows stay pending and are committed by a later
        flush, any read method, :meth:`start_run`, :meth:`finish_run` or
        :meth:`close`.

        Returns:
            The number of rows committed (0 when nothing was pending or the
            commit was deferred).

        Raises:
            JournalError: the batch failed; it was rolled back entirely (no
                row of it is in the file) and stays pending, so the caller may
                fix the cause and flush again or :meth:`discard` it. Rows of
                earlier flushes are never affected.
        """
        if not self._groups:
            return 0
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        now = _time.monotonic()
        if not force and now - self._last_commit < self.min_commit_interval_s:
            return 0
        conn = self._db.conn
        written = self._pending_rows
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in self._groups:
                    self._execute_group(sql, rows)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.Error as exc:
            raise JournalError(
                f"{self.path}: flush of {written} rows failed and was rolled back: {exc}"
            ) from exc
        self._last_commit = _time.monotonic()
        for keys in self._keys:
            keys.committed()
        self._clear_pending()
        return written

    def _execute_group(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Write one group of same-statement rows (inside the flush transaction)."""
        if len(rows) == 1:
            self._db.conn.execute(sql, rows[0])
        else:
            self._db.conn.executemany(sql, rows)

    def discard(self) -> int:
        """Drop every pending write without committing; returns how many were dropped."""
        dropped = self._pending_rows
        self._clear_pending()
        # re-read from committed rows on next use
        self._realized.clear()
        self._open_positions.clear()
        return dropped

    def _clear_pending(self) -> None:
        self._groups = []
        self._pending_rows = 0
        for keys in self._keys:
            keys.pending.clear()

    def _exists(self, sql: str, params: Sequence[Any]) -> bool:
        return self._db.execute(sql, params).fetchone() is not None

    # -- runs -----------------------------------------------------------------
    def start_run(
        self,
        mode: str,
        *,
        config_json: str = "{}",
        replay_start: date | None = None,
        replay_end: date | None = None,
        started_at: datetime | None = None,
        account: str | None = None,
    ) -> int:
        """Create a run and commit it at once (flushing anything pending).

        Args:
            mode: one of :data:`RUN_MODES`.
            config_json: the effective configuration (``AlvhConfig.to_json()``).
            replay_start, replay_end: first and last session replayed.
            started_at: wall-clock start; default now (UTC).

        Returns:
            The new run id.

        Raises:
            JournalError: unknown mode, invalid JSON, or a write failure.
        """
        if mode not in RUN_MODES:
            raise JournalError(f"run mode must be one of {RUN_MODES}, got {mode!r}")
        try:
            json.loads(config_json)
        except ValueError as exc:
            raise JournalError(f"config_json is not JSON: {exc}") from exc
        self.flush(force=True)
        if self.read_only:
            raise JournalError(f"{self.path}: journal is open read-only")
        try:
            with self._db.conn:
                cursor = self._db.conn.execute(
                    "INSERT INTO runs (mode, started_at, config_json, replay_start, replay_end,"
                    " account) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        mode,
                        (started_at or _now()).isoformat(),
                        config_json,
                        _iso(replay_start),
                        _iso(replay_end),
                        account,
                    ),
                )
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot start run: {exc}") from exc
        run_id = cursor.lastrowid
        assert run_id is not None
        return int(run_id)

    def finish_run(
        self,
        run_id: int,
        summary: JournalSummary | Mapping[str, Any] | None = None,
        *,
        finished_at: datetime | None = None,
    ) -> None:
        """Flush, then mark ``run_id`` finished (now, UTC, by default) with its summary.

        Raises:
            JournalError: no such run, or a write failure.
        """
        self.flush(force=True)
        self._require_run(run_id)
        if self.read_only:
            raise JournalError(f"{self.path}: journal is open read-only")
        with self._db.conn:
            self._db.conn.execute(
                "UPDATE runs SET finished_at = ?, summary_json = ? WHERE id = ?",
                (
                    (finished_at or _now()).isoformat(),
                    None if summary is None else _json(summary),
                    run_id,
                ),
            )

    def set_run_account(self, run_id: int, account: str) -> None:
        """Record the broker account a run trades (known once the broker is connected).

        Raises:
            JournalError: no such run.
        """
        self.flush(force=True)
        self._require_run(run_id)
        with self._db.conn:
            self._db.conn.execute("UPDATE runs SET account = ? WHERE id = ?", (account, run_id))

    def _require_run(self, run_id: int) -> None:
        if not self._exists("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise JournalError(f"{self.path}: no run {run_id}")

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first."""
        self.flush(force=True)
        return [self._run_info(row) for row in self._db.query("SELECT * FROM runs ORDER BY id")]

    def run(self, run_id: int | None = None) -> RunInfo:
        """One run (``None`` = the latest).

        Raises:
            JournalError: no such run, or the journal has no runs.
        """
        self.flush(force=True)
        if run_id is None:
            rows = list(self._db.query("SELECT * FROM runs ORDER BY id DESC LIMIT 1"))
            if not rows:
                raise JournalError(f"{self.path}: journal has no runs")
        else:
            rows = list(self._db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
            if not rows:
                raise JournalError(f"{self.path}: no run {run_id}")
        return self._run_info(rows[0])

    @staticmethod
    def _run_info(row: Mapping[str, Any]) -> RunInfo:
        return RunInfo(
            id=row["id"],
            mode=row["mode"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            replay_start=_date(row["replay_start"]),
            replay_end=_date(row["replay_end"]),
            config=json.loads(row["config_json"] or "{}"),
            summary=json.loads(row["summary_json"]) if row["summary_json"] else None,
            account=row["account"],
        )

    # -- decisions and orders -------------------------------------------------
    def record_decision(
        self, decision_id: str, run_id: int, session: date, time: datetime, decision: Decision
    ) -> None:
        """Journal ``decision`` under ``decision_id`` (which becomes its order_ref).

        Raises:
            JournalError: ``decision_id`` is already journaled.
        """
        if self.decision_exists(decision_id):
            raise JournalError(f"decision {decision_id!r} is already journaled")
        self._decision_ids.pending.add(decision_id)
        self._queue(
            _SQL_DECISION,
            (
                decision_id,
                run_id,
                session.isoformat(),
                time.isoformat(),
                decision.rule,
                decision.action.value,
                decision.structure.value,
                decision.reason,
                _json(decision.inputs),
                legs_to_json(decision.legs),
                decision.quantity,
                decision.limit_price,
                decision.position_id,
            ),
        )

    def decision_exists(self, decision_id: str) -> bool:
        """Whether ``decision_id`` is journaled (committed or pending)."""
        return decision_id in self._decision_ids

    def get_decision(self, decision_id: str) -> DecisionRecord:
        """The journaled decision ``decision_id``, rebuilt as a domain object.

        Raises:
            JournalError: no such decision.
        """
        self.flush(force=True)
        rows = list(self._db.query("SELECT * FROM decisions WHERE id = ?", [decision_id]))
        if not rows:
            raise JournalError(f"no decision {decision_id!r}")
        return self._decision_record(rows[0])

    def decisions(self, run_id: int) -> list[DecisionRecord]:
        """Every decision of ``run_id`` in journal order."""
        self.flush(force=True)
        return [
            self._decision_record(row)
            for row in self._db.query(
                "SELECT * FROM decisions WHERE run_id = ? ORDER BY rowid", [run_id]
            )
        ]

    @staticmethod
    def _decision_record(row: Mapping[str, Any]) -> DecisionRecord:
        return DecisionRecord(
            id=row["id"],
            run_id=row["run_id"],
            session=date.fromisoformat(row["session"]),
            time=row["time"],
            decision=Decision(
                rule=row["rule"],
                action=Action(row["action"]),
                structure=Structure(row["structure"]),
                reason=row["reason"] or "",
                inputs=json.loads(row["inputs_json"] or "{}"),
                legs=legs_from_json(row["legs_json"]),
                quantity=row["quantity"],
                limit_price=row["limit_price"],
                position_id=row["position_id"],
            ),
        )

    def record_order(self, order_ref: str, run_id: int, order: ComboOrder, time: datetime) -> None:
        """Journal a combo order (status ``submitted``) for decision ``order_ref``.

        Call it before sending the order; with a buffered journal in paper or
        live mode, :meth:`flush` before sending too.

        Raises:
            JournalError: ``order_ref`` differs from ``order.order_ref``, names no
                journaled decision, or already has an order.
        """
        if order.order_ref != order_ref:
            raise JournalError(f"order_ref {order_ref!r} != order.order_ref {order.order_ref!r}")
        if not self.decision_exists(order_ref):
            raise JournalError(f"order {order_ref!r} has no journaled decision")
        if self.order_exists(order_ref):
            raise JournalError(f"order {order_ref!r} is already journaled")
        self._order_refs.pending.add(order_ref)
        self._queue(
            _SQL_ORDER,
            (
                order_ref,
                run_id,
                time.isoformat(),
                legs_to_json(order.legs),
                order.quantity,
                order.limit_price,
                order.worst_price,
                SUBMITTED,
                0,
                None,
                "",
                time.isoformat(),
                order_ref,
            ),
        )

    def record_order_intent(self, intent: OrderIntent, run_id: int, time: datetime) -> None:
        """Journal an order's intent (state ``intent``) and commit it before it is sent.

        An unbuffered journal (paper, live) commits it at once, so after a
        crash the next start finds every order that may have reached the
        broker. A buffered journal (replay, where no order leaves the
        process) commits it with its batch.

        Raises:
            JournalError: no journaled decision ``intent.decision_id``, or an
                order with that ``order_ref`` already exists.
        """
        ref = intent.order_ref
        if not self.decision_exists(intent.decision_id):
            raise JournalError(f"order {ref!r} has no journaled decision")
        if self.order_exists(ref):
            raise JournalError(f"order {ref!r} is already journaled")
        self._order_refs.pending.add(ref)
        stamp = time.isoformat()
        self._queue(
            _SQL_ORDER,
            (
                ref,
                run_id,
                stamp,
                legs_to_json(intent.legs),
                intent.quantity,
                intent.limit_price,
                intent.worst_price,
                OrderState.INTENT.value,
                0,
                None,
                "",
                stamp,
                intent.structure_id,
            ),
        )
        self._queue(_SQL_ORDER_EVENT, (ref, run_id, stamp, OrderState.INTENT.value, 0, None, ""))

    def transition_order(
        self,
        order_ref: str,
        run_id: int,
        state: OrderState,
        time: datetime,
        *,
        filled_quantity: int | None = None,
        avg_price: float | None = None,
        reason: str = "",
    ) -> None:
        """Journal that ``order_ref`` moved to ``state`` (an ``order_events`` row) and update it.

        ``filled_quantity`` in combo units and ``avg_price`` net per unit
        (index points) keep their previous values when ``None``. ``run_id``
        is the run that observed the transition (it may differ from the run
        that sent the order, after a restart).

        Raises:
            JournalError: no such order.
        """
        if not self.order_exists(order_ref):
            raise JournalError(f"transition of unknown order {order_ref!r}")
        stamp = time.isoformat()
        self._queue(
            _SQL_ORDER_EVENT,
            (order_ref, run_id, stamp, state.value, filled_quantity, avg_price, reason),
        )
        self._queue(
            _SQL_ORDER_UPDATE, (state.value, filled_quantity, avg_price, reason, stamp, order_ref)
        )

    def order_events(self, order_ref: str) -> list[tuple[str, OrderState, str]]:
        """The journaled transitions of ``order_ref``: ``(time, state, reason)``, oldest first."""
        self.flush(force=True)
        return [
            (row["time"], OrderState(row["state"]), row["reason"] or "")
            for row in self._db.query(
                "SELECT time, state, reason FROM order_events WHERE order_ref = ? ORDER BY id",
                [order_ref],
            )
        ]

    def orders(self, run_ids: Iterable[int]) -> list[OrderRecord]:
        """Every order of the given runs, in journal order."""
        self.flush(force=True)
        ids = sorted(set(run_ids))
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        return [
            self._order_record(row)
            for row in self._db.query(
                f"SELECT * FROM orders WHERE run_id IN ({marks}) ORDER BY rowid", ids
            )
        ]

    def live_orders(self, run_ids: Iterable[int]) -> list[OrderRecord]:
        """Orders of the given runs whose fate is not final (intent ... unknown)."""
        return [o for o in self.orders(run_ids) if o.state in LIVE_STATES]

    def order_exists(self, order_ref: str) -> bool:
        """Whether an order for ``order_ref`` was journaled (so it must not be sent again)."""
        return order_ref in self._order_refs

    def update_order(self, result: OrderResult, time: datetime) -> None:
        """Record an order's terminal state (status, filled units, average net price).

        Fills in ``result.fills`` are not written here; the broker's fill
        listener journals them through :meth:`record_fill`.

        Raises:
            JournalError: no order ``result.order_ref`` is journaled.
        """
        if not self.order_exists(result.order_ref):
            raise JournalError(f"update for unknown order {result.order_ref!r}")
        self._queue(
            _SQL_ORDER_UPDATE,
            (
                result.status.value,
                result.filled_quantity,
                result.avg_price,
                result.reason,
                time.isoformat(),
                result.order_ref,
            ),
        )

    def get_order(self, order_ref: str) -> OrderRecord:
        """The journaled order ``order_ref``.

        Raises:
            JournalError: no such order.
        """
        self.flush(force=True)
        rows = list(self._db.query("SELECT * FROM orders WHERE order_ref = ?", [order_ref]))
        if not rows:
            raise JournalError(f"no order {order_ref!r}")
        return self._order_record(rows[0])

    @staticmethod
    def _order_record(row: Mapping[str, Any]) -> OrderRecord:
        return OrderRecord(
            order_ref=row["order_ref"],
            run_id=row["run_id"],
            time=row["time"],
            legs=legs_from_json(row["legs_json"]),
            quantity=row["quantity"],
            limit_price=row["limit_price"],
            worst_price=row["worst_price"],
            status=row["status"],
            filled_quantity=row["filled_quantity"] or 0,
            avg_price=row["avg_price"],
            reason=row["reason"] or "",
            updated_at=row["updated_at"],
            structure_id=row["structure_id"],
        )

    # -- fills and settlements ------------------------------------------------
    def record_fill(self, fill: Fill, run_id: int) -> bool:
        """Journal ``fill`` exactly once.

        Returns:
            ``True`` if written; ``False`` (and nothing written) when its
            ``exec_id`` is already journaled, committed or pending.
        """
        if fill.exec_id in self._exec_ids:
            return False
        self._exec_ids.pending.add(fill.exec_id)
        c = fill.contract
        self._queue(
            _SQL_FILL,
            (
                fill.exec_id,
                fill.order_ref,
                run_id,
                fill.time.isoformat(),
                c.local_symbol,
                c.symbol,
                c.trading_class,
                c.expiry.isoformat(),
                c.strike,
                c.right.value,
                c.multiplier,
                fill.quantity,
                fill.price,
                fill.commission,
            ),
        )
        return True

    def fill_exists(self, exec_id: str) -> bool:
        """Whether a fill with ``exec_id`` is journaled (committed or pending)."""
        return exec_id in self._exec_ids

    def fills(self, run_id: int) -> list[Fill]:
        """Every fill of ``run_id`` in journal order, as domain objects."""
        self.flush(force=True)
        return [
            Fill(
                exec_id=row["exec_id"],
                order_ref=row["order_ref"] or "",
                contract=_contract(row),
                quantity=row["quantity"],
                price=row["price"],
                commission=row["commission"],
                time=datetime.fromisoformat(row["time"]),
            )
            for row in self._db.query(
                "SELECT * FROM fills WHERE run_id = ? ORDER BY rowid", [run_id]
            )
        ]

    def fills_for_order(self, order_ref: str) -> list[Fill]:
        """Every journaled fill of ``order_ref`` (any run), in journal order."""
        self.flush(force=True)
        return [
            Fill(
                exec_id=row["exec_id"],
                order_ref=row["order_ref"] or "",
                contract=_contract(row),
                quantity=row["quantity"],
                price=row["price"],
                commission=row["commission"],
                time=datetime.fromisoformat(row["time"]),
            )
            for row in self._db.query(
                "SELECT * FROM fills WHERE order_ref = ? ORDER BY rowid", [order_ref]
            )
        ]

    def record_settlement(self, settlement: Settlement, run_id: int) -> bool:
        """Journal a cash settlement once per contract and run.

        Returns:
            ``True`` if written; ``False`` when that contract's settlement is
            already journaled for ``run_id``.
        """
        c = settlement.contract
        key = (run_id, c.local_symbol, settlement.structure_id or "")
        if key in self._settled:
            return False
        self._settled.pending.add(key)
        self._queue(
            _SQL_SETTLEMENT,
            (
                run_id,
                settlement.time.isoformat(),
                c.local_symbol,
                c.symbol,
                c.trading_class,
                c.expiry.isoformat(),
                c.strike,
                c.right.value,
                c.multiplier,
                settlement.quantity,
                settlement.settlement_price,
                settlement.cash,
                settlement.structure_id or "",
            ),
        )
        return True

    def settlements(self, run_id: int) -> list[Settlement]:
        """Every settlement of ``run_id`` in journal order, as domain objects."""
        self.flush(force=True)
        return [
            Settlement(
                contract=_contract(row),
                quantity=row["quantity"],
                settlement_price=row["settlement_price"],
                cash=row["cash"],
                time=datetime.fromisoformat(row["time"]),
                structure_id=row["structure_id"] or None,
            )
            for row in self._db.query(
                "SELECT * FROM settlements WHERE run_id = ? ORDER BY id", [run_id]
            )
        ]

    # -- positions ------------------------------------------------------------
    def open_position(
        self,
        run_id: int,
        structure: OpenStructure,
        *,
        parent_id: str | None = None,
        tag: str | None = None,
    ) -> None:
        """Journal a position about to be opened (its id is ``structure.id``).

        ``parent_id`` names the structure it succeeds (roll, adjustment);
        ``tag`` labels it (e.g. a hedge rung).

        Raises:
            JournalError: a position with that id is already journaled.
        """
        if structure.id in self._position_ids:
            raise JournalError(f"position {structure.id!r} is already journaled")
        self._position_ids.pending.add(structure.id)
        self._realized_for(run_id)
        self._open_positions[structure.id] = (run_id, structure.structure.value)
        self._queue(
            _SQL_POSITION,
            (
                structure.id,
                run_id,
                structure.structure.value,
                structure.opened_session.isoformat(),
                None,
                structure.quantity,
                legs_to_json(structure.legs),
                structure.open_price,
                None,
                None,
                None,
                parent_id,
                tag,
            ),
        )

    def update_position(
        self,
        position_id: str,
        *,
        quantity: int | None = None,
        legs: Sequence[Leg] | None = None,
        open_price: float | None = None,
    ) -> None:
        """Change an open position's quantity (combo units), legs or open price (index points).

        Raises:
            JournalError: no open position ``position_id``.
        """
        self._open_position_key(position_id)
        sets: list[str] = []
        params: list[Any] = []
        if quantity is not None:
            sets.append("quantity = ?")
            params.append(quantity)
        if legs is not None:
            sets.append("legs_json = ?")
            params.append(legs_to_json(legs))
        if open_price is not None:
            sets.append("open_price = ?")
            params.append(open_price)
        if not sets:
            return
        self._queue(f"UPDATE positions SET {', '.join(sets)} WHERE id = ?", (*params, position_id))

    def close_position(
        self,
        position_id: str,
        session: date,
        close_price: float | None,
        realized_pnl: float,
        reason: str,
    ) -> None:
        """Mark a position closed.

        Args:
            position_id: the position's id.
            session: session date it closed (or expired).
            close_price: net closing price per combo unit, index points
                (+ debit, - credit); ``None`` if unknown.
            realized_pnl: the position's whole P&L in dollars, net of
                commissions, fees and settlement cash.
            reason: why it closed (the rule's reason or the expiry).

        Raises:
            JournalError: no open position ``position_id``.
        """
        run_id, structure = self._open_position_key(position_id)
        self._queue(
            _SQL_POSITION_CLOSE,
            (session.isoformat(), close_price, realized_pnl, reason, position_id),
        )
        realized = self._realized_for(run_id)
        realized[structure] = realized.get(structure, 0.0) + realized_pnl
        del self._open_positions[position_id]

    def _open_position_key(self, position_id: str) -> tuple[int, str]:
        key = self._open_positions.get(position_id)
        if key is not None:
            return key
        rows = list(
            self._db.query(
                "SELECT run_id, structure FROM positions WHERE id = ? AND closed_session IS NULL",
                [position_id],
            )
        )
        if not rows:
            raise JournalError(f"no open position {position_id!r}")
        key = (int(rows[0]["run_id"]), str(rows[0]["structure"]))
        self._open_positions[position_id] = key
        return key

    def _realized_for(self, run_id: int) -> dict[str, float]:
        realized = self._realized.get(run_id)
        if realized is None:
            realized = {
                row["structure"]: float(row["pnl"] or 0.0)
                for row in self._db.query(
                    "SELECT structure, SUM(realized_pnl) AS pnl FROM positions"
                    " WHERE run_id = ? AND closed_session IS NOT NULL GROUP BY structure",
                    [run_id],
                )
            }
            self._realized[run_id] = realized
        return realized

    def positions(self, run_id: int, *, open_only: bool = False) -> list[PositionRecord]:
        """Positions of ``run_id`` in opening order (only open ones if ``open_only``)."""
        self.flush(force=True)
        where = " AND closed_session IS NULL" if open_only else ""
        return [
            PositionRecord(
                id=row["id"],
                run_id=row["run_id"],
                structure=Structure(row["structure"]),
                opened_session=date.fromisoformat(row["opened_session"]),
                closed_session=_date(row["closed_session"]),
                quantity=row["quantity"],
                legs=legs_from_json(row["legs_json"]),
                open_price=row["open_price"],
                close_price=row["close_price"],
                realized_pnl=row["realized_pnl"],
                close_reason=row["close_reason"],
                parent_id=row["parent_id"],
                tag=row["tag"],
            )
            for row in self._db.query(
                f"SELECT * FROM positions WHERE run_id = ?{where} ORDER BY rowid", [run_id]
            )
        ]

    # -- marks and daily P&L --------------------------------------------------
    def record_mark(
        self,
        run_id: int,
        session: date,
        position_id: str,
        *,
        mark_price: float,
        unrealized_pnl: float,
        delta: float,
        gamma: float,
        vega: float,
        theta: float,
    ) -> None:
        """Journal a position's end-of-day mark (replaces one for the same session).

        Units as in :class:`MarkRecord`.
        """
        self._queue(
            _SQL_MARK,
            (
                run_id,
                session.isoformat(),
                position_id,
                mark_price,
                unrealized_pnl,
                delta,
                gamma,
                vega,
                theta,
            ),
        )

    def marks(self, run_id: int, position_id: str | None = None) -> list[MarkRecord]:
        """Marks of ``run_id`` (optionally one position), by session."""
        self.flush(force=True)
        sql = "SELECT * FROM marks WHERE run_id = ?"
        params: list[Any] = [run_id]
        if position_id is not None:
            sql += " AND position_id = ?"
            params.append(position_id)
        return [
            MarkRecord(**{**row, "session": date.fromisoformat(row["session"])})
            for row in self._db.query(sql + " ORDER BY session, position_id", params)
        ]

    def record_daily(
        self,
        run_id: int,
        session: date,
        *,
        cash: float,
        net_liquidation: float,
        open_condor_pnl: float,
        open_hedge_pnl: float,
        drawdown: float,
    ) -> None:
        """Journal the end-of-session account and P&L (replaces the same session's row).

        The journal adds the cumulative realized P&L of positions closed so far
        (see :meth:`close_position`) to the open P&L given here.

        Args:
            run_id, session: which run and session date.
            cash, net_liquidation: account values, dollars.
            open_condor_pnl, open_hedge_pnl: P&L of the condors and hedge
                layers still open, dollars (cash flows plus mark).
            drawdown: dollars below the run's peak net liquidation (>= 0).
        """
        realized = self._realized_for(run_id)
        realized_condor = realized.get(Structure.CONDOR.value, 0.0)
        realized_hedge = realized.get(Structure.HEDGE_LAYER.value, 0.0)
        self._queue(
            _SQL_DAILY,
            (
                run_id,
                session.isoformat(),
                cash,
                net_liquidation,
                realized_condor + realized_hedge,
                open_condor_pnl + open_hedge_pnl,
                realized_condor + open_condor_pnl,
                realized_hedge + open_hedge_pnl,
                drawdown,
            ),
        )

    def daily(self, run_id: int) -> list[DailyRecord]:
        """The ``daily`` rows of ``run_id`` by session."""
        self.flush(force=True)
        return [
            DailyRecord(**{**row, "session": date.fromisoformat(row["session"])})
            for row in self._db.query(
                "SELECT * FROM daily WHERE run_id = ? ORDER BY session", [run_id]
            )
        ]

    # -- summary --------------------------------------------------------------
    def summary(self, run_id: int | None = None) -> JournalSummary:
        """Counts, P&L and drawdown of one run (``None`` = the latest), from the tables.

        Raises:
            JournalError: no such run / no runs.
        """
        info = self.run(run_id)
        rid = info.id
        db = self._db

        def grouped(sql: str) -> dict[str, int]:
            return {str(k): int(n) for k, n in db.execute(sql, [rid]).fetchall()}

        decisions = grouped(
            "SELECT structure, COUNT(*) FROM decisions WHERE run_id = ? GROUP BY structure"
        )
        orders = grouped(
            "SELECT COALESCE(d.structure, 'other'), COUNT(*) FROM orders o"
            " LEFT JOIN decisions d ON d.id = o.order_ref WHERE o.run_id = ? GROUP BY 1"
        )
        fills = grouped(
            "SELECT COALESCE(d.structure, 'other'), COUNT(*) FROM fills f"
            " LEFT JOIN decisions d ON d.id = f.order_ref WHERE f.run_id = ? GROUP BY 1"
        )
        orders_filled = db.execute(
            "SELECT COUNT(*) FROM orders WHERE run_id = ? AND filled_quantity > 0", [rid]
        ).fetchone()[0]
        commissions = db.execute(
            "SELECT COALESCE(SUM(commission), 0) FROM fills WHERE run_id = ?", [rid]
        ).fetchone()[0]
        closed, wins = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(realized_pnl > 0), 0) FROM positions"
            " WHERE run_id = ? AND closed_session IS NOT NULL",
            [rid],
        ).fetchone()
        realized = {
            str(k): float(v)
            for k, v in db.execute(
                "SELECT structure, COALESCE(SUM(realized_pnl), 0) FROM positions"
                " WHERE run_id = ? AND closed_session IS NOT NULL GROUP BY structure",
                [rid],
            ).fetchall()
        }
        series = db.execute(
            "SELECT session, net_liquidation, realized_pnl, unrealized_pnl, condor_pnl,"
            " hedge_pnl FROM daily WHERE run_id = ? ORDER BY session",
            [rid],
        ).fetchall()
        starting: float | None = None
        if info.mode == "replay":
            cash = info.config.get("replay", {}).get("starting_cash")
            starting = float(cash) if isinstance(cash, int | float) else None
        if starting is None and series:
            starting = float(series[0][1])
        max_dd = max_dd_pct = 0.0
        peak: float | None = starting
        for _, nl, *_rest in series:
            if nl is None:
                continue
            peak = nl if peak is None else max(peak, nl)
            dd = peak - nl
            if dd > max_dd:
                max_dd = dd
            if peak > 0 and dd / peak * 100.0 > max_dd_pct:
                max_dd_pct = dd / peak * 100.0
        if series:
            last = series[-1]
            realized_total, unrealized = float(last[2] or 0.0), float(last[3] or 0.0)
            condor_pnl, hedge_pnl = float(last[4] or 0.0), float(last[5] or 0.0)
        else:
            realized_total, unrealized = sum(realized.values()), 0.0
            condor_pnl = realized.get(Structure.CONDOR.value, 0.0)
            hedge_pnl = realized.get(Structure.HEDGE_LAYER.value, 0.0)
        return JournalSummary(
            run_id=rid,
            mode=info.mode,
            started_at=info.started_at,
            finished_at=info.finished_at,
            replay_start=info.replay_start,
            replay_end=info.replay_end,
            sessions=len(series),
            first_session=date.fromisoformat(series[0][0]) if series else None,
            last_session=date.fromisoformat(series[-1][0]) if series else None,
            decisions=decisions,
            orders=orders,
            orders_filled=int(orders_filled),
            fills=fills,
            trades_closed=int(closed),
            wins=int(wins),
            win_rate=(int(wins) / int(closed)) if closed else None,
            total_pnl=realized_total + unrealized,
            realized_pnl=realized_total,
            unrealized_pnl=unrealized,
            condor_pnl=condor_pnl,
            hedge_pnl=hedge_pnl,
            commissions=float(commissions),
            starting_net_liquidation=starting,
            final_net_liquidation=float(series[-1][1]) if series else None,
            max_drawdown=max_dd,
            max_drawdown_pct=max_dd_pct,
        )


def _contract(row: Mapping[str, Any]) -> OptionContract:
    return OptionContract(
        row["symbol"],
        row["trading_class"],
        date.fromisoformat(row["expiry"]),
        float(row["strike"]),
        Right(row["right"]),
        int(row["multiplier"] or 100),
    )
