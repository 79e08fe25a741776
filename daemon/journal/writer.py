"""The journal's write side: buffered records, group commit and the exactly-once keys.

Records are queued in memory, in submission order, and committed by
:meth:`JournalWriter.flush` in one transaction; consecutive rows of the same
statement go to SQLite in one ``executemany``. A failed flush is rolled back
entirely and stays pending. A buffered journal commits at most every
``min_commit_interval_s`` wall seconds unless forced; an unbuffered one
commits every record at once.

Exactly-once, also across restarts: :class:`~daemon.journal.keys.UniqueKeys`
knows the unique keys of a table (pending plus committed), so
:meth:`~JournalWriter.record_fill` skips a known ``exec_id``,
:meth:`~JournalWriter.record_settlement` a contract already settled for the
run and structure, and :meth:`~JournalWriter.order_exists` tells the engine
that a decision's order was already journaled.

The position writes (open, update, close, reopen) and the realized P&L per
run and structure come from :class:`~daemon.journal.positions.PositionWriter`.
"""

from __future__ import annotations

import math
import sqlite3
import time as _time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon.brokers.base import ComboOrder, OrderResult
from daemon.brokers.interest import InterestCredit
from daemon.journal.codec import legs_to_json, strict_json, utc_now
from daemon.journal.errors import JournalError
from daemon.journal.keys import UniqueKeys
from daemon.journal.market import SQL_UPSERT as _SQL_MARKET_DAY
from daemon.journal.market import MarketDayRecord, market_day_params
from daemon.journal.positions import PositionWriter
from daemon.journal.schema import insert_sql
from strategies.domain import Decision, OptionContract, Structure
from strategies.execution import Fill, OrderIntent, OrderState, Settlement

__all__ = ["JournalWriter"]

#: ``meta`` key of the last systemd watchdog beat (ISO time, UTC offset included).
WATCHDOG_BEAT_KEY = "watchdog_beat"
_SQL_WATCHDOG_BEAT = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)

_SQL_DECISION = insert_sql("decisions")
_SQL_ORDER = insert_sql("orders")
_SQL_FILL = insert_sql("fills")
_SQL_SETTLEMENT = insert_sql("settlements")
_SQL_MARK = insert_sql("marks", replace=True)
_SQL_DAILY = insert_sql("daily", replace=True)
_SQL_INTEREST = insert_sql("interest")
_SQL_ORDER_EVENT = insert_sql("order_events")
_SQL_ORDER_UPDATE = (
    "UPDATE orders SET status = ?, filled_quantity = COALESCE(?, filled_quantity), "
    "avg_price = COALESCE(?, avg_price), reason = ?, updated_at = ? WHERE order_ref = ?"
)


class JournalWriter(PositionWriter):
    """Buffered, exactly-once writes of decisions, orders, fills, settlements, positions, P&L."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        path: Path,
        *,
        buffered: bool,
        read_only: bool,
        min_commit_interval_s: float,
    ) -> None:
        super().__init__(db, path)
        self.buffered = buffered
        self.read_only = read_only
        self.min_commit_interval_s = min_commit_interval_s
        self._last_commit = -math.inf
        self._groups: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._pending_rows = 0
        self._decision_ids = UniqueKeys(db, "decisions", ("id",))
        self._order_refs = UniqueKeys(db, "orders", ("order_ref",))
        self._exec_ids = UniqueKeys(db, "fills", ("exec_id",))
        self._settled = UniqueKeys(db, "settlements", ("run_id", "local_symbol", "structure_id"))
        self._credited = UniqueKeys(db, "interest", ("run_id", "session"))
        #: Interest credited so far per run, dollars (loaded on first use).
        self._interest: dict[int, float] = {}
        self._keys = (
            self._decision_ids,
            self._order_refs,
            self._exec_ids,
            self._settled,
            self._position_ids,
            self._credited,
        )
        self._closed = False

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
        :meth:`~daemon.journal.Journal.open`); the rows stay pending and are
        committed by a later flush, any read method, ``start_run``,
        ``finish_run`` or ``close``.

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
        self._interest.clear()
        self._open_positions.clear()
        return dropped

    def _clear_pending(self) -> None:
        self._groups = []
        self._pending_rows = 0
        for keys in self._keys:
            keys.pending.clear()

    # -- decisions and orders -------------------------------------------------
    def record_watchdog_beat(self, when: datetime) -> None:
        """Journal the time of the last systemd watchdog beat (one ``meta`` row, replaced).

        The dashboard and ``alvh status`` read it (:meth:`watchdog_beat`);
        committed at once, so a reader sees a beat within one period.
        """
        self._queue(_SQL_WATCHDOG_BEAT, (WATCHDOG_BEAT_KEY, when.isoformat()))
        self.flush(force=True)

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
                strict_json(decision.inputs),
                legs_to_json(decision.legs),
                decision.quantity,
                decision.limit_price,
                decision.position_id,
            ),
        )

    def decision_exists(self, decision_id: str) -> bool:
        """Whether ``decision_id`` is journaled (committed or pending)."""
        return decision_id in self._decision_ids

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
        intent = OrderIntent(
            order_ref=order_ref,
            decision_id=order_ref,
            structure_id=order_ref,
            legs=order.legs,
            quantity=order.quantity,
            limit_price=order.limit_price,
            worst_price=order.worst_price,
        )
        self._queue_order(intent, run_id, time.isoformat(), OrderState.SUBMITTED)

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
        ref, stamp = intent.order_ref, time.isoformat()
        self._queue_order(intent, run_id, stamp, OrderState.INTENT)
        self._queue(_SQL_ORDER_EVENT, (ref, run_id, stamp, OrderState.INTENT.value, 0, None, ""))

    def _queue_order(self, intent: OrderIntent, run_id: int, stamp: str, state: OrderState) -> None:
        """Queue a new ``orders`` row in ``state``, nothing filled yet, after checking its keys."""
        ref = intent.order_ref
        if not self.decision_exists(intent.decision_id):
            raise JournalError(f"order {ref!r} has no journaled decision")
        if self.order_exists(ref):
            raise JournalError(f"order {ref!r} is already journaled")
        self._order_refs.pending.add(ref)
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
                state.value,
                0,
                None,
                "",
                stamp,
                intent.structure_id,
            ),
        )

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

    # -- fills and settlements ------------------------------------------------
    def record_fill(self, fill: Fill, run_id: int) -> bool:
        """Journal ``fill`` exactly once (quantity signed contracts, price per share).

        Returns:
            ``True`` if written; ``False`` (and nothing written) when its
            ``exec_id`` is already journaled, committed or pending.
        """
        if fill.exec_id in self._exec_ids:
            return False
        self._exec_ids.pending.add(fill.exec_id)
        self._queue(
            _SQL_FILL,
            (
                fill.exec_id,
                fill.order_ref,
                run_id,
                fill.time.isoformat(),
                *_contract_columns(fill.contract),
                fill.quantity,
                fill.price,
                fill.commission,
            ),
        )
        return True

    def fill_exists(self, exec_id: str) -> bool:
        """Whether a fill with ``exec_id`` is journaled (committed or pending)."""
        return exec_id in self._exec_ids

    def record_settlement(self, settlement: Settlement, run_id: int) -> bool:
        """Journal a cash settlement (dollars) once per contract, structure and run.

        Returns:
            ``True`` if written; ``False`` when that contract's settlement is
            already journaled for ``run_id`` and ``settlement.structure_id``.
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
                *_contract_columns(c),
                settlement.quantity,
                settlement.settlement_price,
                settlement.cash,
                settlement.structure_id or "",
            ),
        )
        return True

    # -- interest on cash (schema version 4) -----------------------------------
    def record_interest(self, credit: InterestCredit, run_id: int) -> bool:
        """Journal interest credited to the cash balance, once per run and session.

        Returns:
            ``True`` if written; ``False`` when ``run_id`` already has a credit
            on ``credit.session``.
        """
        key = (run_id, credit.session.isoformat())
        if key in self._credited:
            return False
        total = self._interest_for(run_id)
        self._credited.pending.add(key)
        self._queue(
            _SQL_INTEREST,
            (
                run_id,
                credit.session.isoformat(),
                credit.time.isoformat(),
                credit.accrued_from.isoformat(),
                credit.days,
                credit.balance,
                credit.rate,
                credit.amount,
            ),
        )
        self._interest[run_id] = total + credit.amount
        return True

    def _interest_for(self, run_id: int) -> float:
        """Interest (dollars) credited to ``run_id`` so far, committed and pending."""
        total = self._interest.get(run_id)
        if total is None:
            row = self._db.execute(
                "SELECT COALESCE(SUM(amount), 0.0) FROM interest WHERE run_id = ?", [run_id]
            ).fetchone()
            total = self._interest[run_id] = float(row[0])
        return total

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

        Units as in :class:`~daemon.journal.MarkRecord`.
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
        (see :meth:`close_position`) to the open P&L given here, and the
        interest credited so far (:meth:`record_interest`) as ``interest``.

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
                self._interest_for(run_id),
            ),
        )

    # -- market days (schema version 3) ---------------------------------------
    def record_market_day(self, row: MarketDayRecord, recorded_at: datetime | None = None) -> None:
        """Journal one session's end-of-day market values (``market_daily``).

        A session already journaled keeps each value ``row`` lacks (NaN); the
        source and ``recorded_at`` (default: now, UTC) are the new row's.
        """
        self._queue(_SQL_MARKET_DAY, market_day_params(row, recorded_at or utc_now()))

    def record_market_days(
        self, rows: list[MarketDayRecord], recorded_at: datetime | None = None
    ) -> None:
        """Journal several sessions' rows (as :meth:`record_market_day`) in one transaction.

        An unbuffered journal commits them together (a back-fill of a year of
        sessions is one commit, not 250).
        """
        stamp = recorded_at or utc_now()
        buffered, self.buffered = self.buffered, True
        try:
            for row in rows:
                self._queue(_SQL_MARKET_DAY, market_day_params(row, stamp))
        finally:
            self.buffered = buffered
        if not buffered:
            self.flush(force=True)


def _contract_columns(c: OptionContract) -> tuple[Any, ...]:
    """The contract columns of ``fills`` and ``settlements``, in schema order."""
    return (
        c.local_symbol,
        c.symbol,
        c.trading_class,
        c.expiry.isoformat(),
        c.strike,
        c.right.value,
        c.multiplier,
    )
