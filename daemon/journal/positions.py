"""The journal's position writes: open, resize, close and reopen, with realized P&L per run.

:class:`PositionWriter` is the part of :class:`~daemon.journal.writer.JournalWriter`
that keeps the ``positions`` table: a position is journaled once under its
structure's id (the exactly-once key), changed while open, closed with its
realized P&L and, when a fill arrives after the close, reopened. It also keeps
each run's cumulative realized P&L per structure, which
:meth:`~daemon.journal.writer.JournalWriter.record_daily` adds to the open P&L.
Rows are queued through the writer's buffer (:meth:`_queue`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils

from daemon.journal.codec import legs_to_json
from daemon.journal.errors import JournalError
from daemon.journal.keys import UniqueKeys
from daemon.journal.read import JournalReader
from daemon.journal.schema import insert_sql
from strategies.domain import Leg
from strategies.positions import OpenStructure

__all__ = ["PositionWriter"]

_SQL_POSITION = insert_sql("positions")
_SQL_POSITION_CLOSE = (
    "UPDATE positions SET closed_session = ?, close_price = ?, realized_pnl = ?, "
    "close_reason = ? WHERE id = ?"
)


class PositionWriter(JournalReader):
    """Exactly-once writes of positions and the realized P&L of the closed ones.

    :class:`~daemon.journal.writer.JournalWriter` provides the buffer
    (:meth:`_queue`, :meth:`flush`) and commits :attr:`_position_ids` with the
    other exactly-once keys.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
        super().__init__(db, path)
        self._position_ids = UniqueKeys(db, "positions", ("id",))
        # positions opened or seen open by this process: id -> (run_id, structure)
        self._open_positions: dict[str, tuple[int, str]] = {}
        # cumulative realized P&L per run and structure (dollars)
        self._realized: dict[int, dict[str, float]] = {}

    def _queue(self, sql: str, params: tuple[Any, ...]) -> None:
        """Queue one row write; the writer overrides this with its buffer."""
        raise NotImplementedError

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

    def reopen_position(self, position_id: str) -> None:
        """Mark a closed position open again (a fill arrived after it closed).

        Raises:
            JournalError: no closed position ``position_id``.
        """
        self.flush(force=True)
        found = list(
            self._db.query(
                "SELECT run_id, structure, realized_pnl FROM positions"
                " WHERE id = ? AND closed_session IS NOT NULL",
                [position_id],
            )
        )
        if not found:
            raise JournalError(f"no closed position {position_id!r}")
        key = (int(found[0]["run_id"]), str(found[0]["structure"]))
        realized = self._realized_for(key[0])
        realized[key[1]] = realized.get(key[1], 0.0) - float(found[0]["realized_pnl"] or 0.0)
        self._queue(_SQL_POSITION_CLOSE, (None, None, None, None, position_id))
        self._open_positions[position_id] = key

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
        """Cumulative realized P&L (dollars) of ``run_id``'s closed positions, per structure."""
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
