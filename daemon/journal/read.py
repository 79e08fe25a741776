"""The journal's read models: a record type per table, tallies, and the queries that build them.

:class:`JournalReader` holds the query methods of :class:`~daemon.journal.Journal`.
Every read first commits what the writer side has pending (``flush(force=True)``),
so a read sees every record made before it. Records are frozen; prices are
index points (net combo prices + debit / - credit), money is dollars, sessions
are dates (America/New_York) and times ISO 8601 text with their UTC offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon.journal.codec import contract_from_row, date_or_none, legs_from_json
from daemon.journal.errors import JournalError
from daemon.journal.market import SQL_SELECT as _SQL_MARKET_DAYS
from daemon.journal.market import MarketDayRecord, market_day_record
from daemon.journal.schema import TABLES
from strategies.domain import Action, Decision, Leg, Structure
from strategies.execution import LIVE_STATES, Fill, OrderState, Settlement
from strategies.positions import OpenStructure

__all__ = [
    "DailyRecord",
    "DecisionRecord",
    "JournalReader",
    "MarkRecord",
    "OrderRecord",
    "PositionRecord",
    "RunInfo",
    "TallyRecord",
]


# --------------------------------------------------------------------------- records


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
    ``drawdown`` is dollars below the running peak of ``net_liquidation``;
    ``interest`` is the interest credited to cash so far (schema v4; 0 in
    older journals). ``cash`` and ``net_liquidation`` include it.
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
    interest: float = 0.0


@dataclass(frozen=True, slots=True)
class InterestRecord:
    """One row of ``interest``: cash interest credited at a session (dollars).

    ``days`` calendar days from ``accrued_from`` at ``rate`` (annual decimal,
    actual/365) on ``balance`` dollars earned ``amount`` dollars
    (:mod:`daemon.brokers.interest`).
    """

    run_id: int
    session: date
    time: datetime
    accrued_from: date
    days: int
    balance: float
    rate: float
    amount: float


@dataclass(frozen=True, slots=True)
class TallyRecord:
    """How many decisions, orders or fills of a run belong to one structure.

    Attributes:
        kind: ``"decision"``, ``"order"`` or ``"fill"``.
        structure: the structure value (``"condor"``, ``"hedge_layer"``) of
            the decision the rows belong to (their own, their order's, their
            fill's order's); ``None`` for rows tied to no journaled decision
            (e.g. fills of a manual trade).
        rows: how many rows.
        filled: how many of those orders have a fill (``filled_quantity > 0``);
            0 for decisions and fills.
        commission: dollars of commissions and fees of those fills; 0 for
            decisions and orders.
    """

    kind: str
    structure: str | None
    rows: int
    filled: int = 0
    commission: float = 0.0


# --------------------------------------------------------------------------- queries


class JournalReader:
    """The query methods of a journal; :class:`~daemon.journal.Journal` adds the writes."""

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        self._db = db
        self.path = path

    def flush(self, *, force: bool = False) -> int:
        """Commit pending writes before a read; a reader has none (the writer overrides)."""
        return 0

    # -- health ---------------------------------------------------------------
    def watchdog_beat(self) -> str | None:
        """ISO time of the last systemd watchdog beat a daemon journaled, or ``None``."""
        row = self._db.conn.execute(
            "SELECT value FROM meta WHERE key = ?", ("watchdog_beat",)
        ).fetchone()
        return str(row[0]) if row else None

    # -- runs -----------------------------------------------------------------
    def runs(self) -> list[RunInfo]:
        """Every run, oldest first."""
        self.flush(force=True)
        return [_run_info(row) for row in self._db.query("SELECT * FROM runs ORDER BY id")]

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
        return _run_info(rows[0])

    # -- decisions and orders -------------------------------------------------
    def get_decision(self, decision_id: str) -> DecisionRecord:
        """The journaled decision ``decision_id``, rebuilt as a domain object.

        Raises:
            JournalError: no such decision.
        """
        self.flush(force=True)
        rows = list(self._db.query("SELECT * FROM decisions WHERE id = ?", [decision_id]))
        if not rows:
            raise JournalError(f"no decision {decision_id!r}")
        return _decision_record(rows[0])

    def decisions(self, run_id: int) -> list[DecisionRecord]:
        """Every decision of ``run_id`` in journal order."""
        self.flush(force=True)
        return [
            _decision_record(row)
            for row in self._db.query(
                "SELECT * FROM decisions WHERE run_id = ? ORDER BY rowid", [run_id]
            )
        ]

    def decision_ids(self, run_ids: Iterable[int], action: Action) -> set[str]:
        """Ids of the decisions of the given runs with ``action`` (e.g. every ADJUST)."""
        self.flush(force=True)
        ids = sorted(set(run_ids))
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        return {
            row["id"]
            for row in self._db.query(
                f"SELECT id FROM decisions WHERE run_id IN ({marks}) AND action = ?",
                [*ids, action.value],
            )
        }

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
            _order_record(row)
            for row in self._db.query(
                f"SELECT * FROM orders WHERE run_id IN ({marks}) ORDER BY rowid", ids
            )
        ]

    def live_orders(self, run_ids: Iterable[int]) -> list[OrderRecord]:
        """Orders of the given runs whose fate is not final (intent ... unknown)."""
        return [o for o in self.orders(run_ids) if o.state in LIVE_STATES]

    def get_order(self, order_ref: str) -> OrderRecord:
        """The journaled order ``order_ref``.

        Raises:
            JournalError: no such order.
        """
        self.flush(force=True)
        rows = list(self._db.query("SELECT * FROM orders WHERE order_ref = ?", [order_ref]))
        if not rows:
            raise JournalError(f"no order {order_ref!r}")
        return _order_record(rows[0])

    # -- fills and settlements ------------------------------------------------
    def fills(self, run_id: int) -> list[Fill]:
        """Every fill of ``run_id`` in journal order, as domain objects."""
        self.flush(force=True)
        return [
            _fill(row)
            for row in self._db.query(
                "SELECT * FROM fills WHERE run_id = ? ORDER BY rowid", [run_id]
            )
        ]

    def fills_for_order(self, order_ref: str) -> list[Fill]:
        """Every journaled fill of ``order_ref`` (any run), in journal order."""
        self.flush(force=True)
        return [
            _fill(row)
            for row in self._db.query(
                "SELECT * FROM fills WHERE order_ref = ? ORDER BY rowid", [order_ref]
            )
        ]

    def settlements(self, run_id: int) -> list[Settlement]:
        """Every settlement of ``run_id`` in journal order, as domain objects."""
        self.flush(force=True)
        return [
            Settlement(
                contract=contract_from_row(row),
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

    # -- positions, marks and daily P&L ---------------------------------------
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
                closed_session=date_or_none(row["closed_session"]),
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

    def daily(self, run_id: int) -> list[DailyRecord]:
        """The ``daily`` rows of ``run_id`` by session."""
        self.flush(force=True)
        return [
            DailyRecord(
                rid,
                date.fromisoformat(session),
                cash,
                nl,
                realized,
                unrealized,
                condor,
                hedge,
                drawdown,
                interest or 0.0,  # NULL: an older journal read-only
            )
            for rid, session, cash, nl, realized, unrealized, condor, hedge, drawdown, interest in (
                self._db.conn.execute(
                    f"SELECT {_DAILY_COLUMNS} FROM daily WHERE run_id = ? ORDER BY session",
                    (run_id,),
                )
            )
        ]

    def interest(self, run_id: int) -> list[InterestRecord]:
        """The interest credits of ``run_id`` by session (none before schema v4)."""
        self.flush(force=True)
        return [
            InterestRecord(
                rid,
                date.fromisoformat(session),
                datetime.fromisoformat(when),
                date.fromisoformat(since),
                int(days),
                float(balance),
                float(rate),
                float(amount),
            )
            for rid, session, when, since, days, balance, rate, amount in self._db.conn.execute(
                f"SELECT {_INTEREST_COLUMNS} FROM interest WHERE run_id = ? ORDER BY session",
                (run_id,),
            )
        ]

    def market_days(self, start: date, end: date) -> list[MarketDayRecord]:
        """The ``market_daily`` rows of sessions ``start..end`` (inclusive), by session.

        An older journal opened read-only has no such table and reads as empty.
        """
        self.flush(force=True)
        return [
            market_day_record(tuple(row))
            for row in self._db.conn.execute(_SQL_MARKET_DAYS, (start.isoformat(), end.isoformat()))
        ]

    # -- tallies -------------------------------------------------------------
    def tally(self, run_id: int) -> list[TallyRecord]:
        """The decisions, orders and fills of ``run_id``, tallied by the structure they belong to.

        An order or fill belongs to the decision whose id is its
        ``order_ref``, in any run (a restarted daemon journals fills of
        orders an earlier run sent). Decisions first, then orders, then
        fills; within a kind by structure value, ``None`` first.
        """
        self.flush(force=True)
        return [
            TallyRecord(kind, structure, rows, int(filled), float(commission))
            for _, kind, structure, rows, filled, commission in self._db.conn.execute(
                _SQL_TALLY, (run_id, run_id, run_id)
            )
        ]


# --------------------------------------------------------------------------- SQL, row -> record


_DAILY_COLUMNS = ", ".join(f"[{c}]" for c in TABLES["daily"]["columns"])
_INTEREST_COLUMNS = ", ".join(f"[{c}]" for c in TABLES["interest"]["columns"])

# (order of kind, kind, structure, rows, filled orders, commission) per kind and structure
_SQL_TALLY = """
SELECT 0, 'decision', structure, COUNT(*), 0, 0.0
  FROM decisions WHERE run_id = ? GROUP BY structure
UNION ALL
SELECT 1, 'order', d.structure, COUNT(*), COALESCE(SUM(o.filled_quantity > 0), 0), 0.0
  FROM orders o LEFT JOIN decisions d ON d.id = o.order_ref WHERE o.run_id = ? GROUP BY 3
UNION ALL
SELECT 2, 'fill', d.structure, COUNT(*), 0, COALESCE(SUM(f.commission), 0.0)
  FROM fills f LEFT JOIN decisions d ON d.id = f.order_ref WHERE f.run_id = ? GROUP BY 3
ORDER BY 1, 3
"""


def _run_info(row: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"],
        mode=row["mode"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        replay_start=date_or_none(row["replay_start"]),
        replay_end=date_or_none(row["replay_end"]),
        config=json.loads(row["config_json"] or "{}"),
        summary=json.loads(row["summary_json"]) if row["summary_json"] else None,
        account=row["account"],
    )


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


def _fill(row: Mapping[str, Any]) -> Fill:
    return Fill(
        exec_id=row["exec_id"],
        order_ref=row["order_ref"] or "",
        contract=contract_from_row(row),
        quantity=row["quantity"],
        price=row["price"],
        commission=row["commission"],
        time=datetime.fromisoformat(row["time"]),
    )
