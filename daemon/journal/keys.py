"""The exactly-once keys: which unique keys a table holds, committed or still pending.

The writer asks :class:`UniqueKeys` before queueing a row whose key must be
unique (a decision id, an order_ref, a fill's exec_id, a settlement's run,
contract and structure, a position id), so a duplicate is refused or skipped
before it reaches SQLite, also across restarts.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

__all__ = ["UniqueKeys"]


class UniqueKeys:
    """The unique keys of one table: pending ones plus a lazily loaded copy of committed ones.

    Membership tests are set lookups once the committed keys are loaded (on
    first use, if the table has at most :attr:`LOAD_LIMIT` rows); bigger tables
    are asked per key. :attr:`kept` holds keys accepted without writing a row
    (a results-only journal, :mod:`daemon.journal.results_only`); they count
    as present for the life of the object. Assumes one writing process per
    journal file.
    """

    LOAD_LIMIT = 1_000_000

    def __init__(self, db: sqlite_utils.Database, table: str, columns: tuple[str, ...]) -> None:
        self._db = db
        self._table = table
        self._columns = columns
        self.pending: set[Any] = set()
        #: keys accepted without a row (a results-only journal's skipped tables)
        self.kept: set[Any] = set()
        self._committed: set[Any] | None = None
        self._load_tried = False

    def __contains__(self, key: Any) -> bool:
        if key in self.pending or key in self.kept:
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
