"""The open journal file: :class:`Journal` = lifecycle and runs + writer + read models."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from daemon.journal.codec import iso, strict_json, utc_now
from daemon.journal.errors import JournalError
from daemon.journal.schema import RUN_MODES, connect, pragma
from daemon.journal.writer import JournalWriter

if TYPE_CHECKING:
    from daemon.analytics import JournalSummary

__all__ = ["Journal"]


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (the schema follows).

    Raises:
        JournalError: the directory is missing or not writable, or the path
            is not a valid file name.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except FileNotFoundError:
        raise JournalError(
            f"{path}: cannot create the journal: directory {path.parent} does not exist"
        ) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        raise JournalError(f"{path}: cannot create the journal ({reason})") from None
    os.close(fd)


def _summary_json(summary: Any) -> Any:
    """A :class:`~daemon.analytics.JournalSummary` as its JSON form (money in cents)."""
    as_json = getattr(summary, "as_json", None)
    return as_json() if callable(as_json) else summary


class Journal(JournalWriter):
    """An open journal file. Create with :meth:`Journal.open`; not thread-safe.

    Use as a context manager or call :meth:`close`, which flushes. The write
    methods come from :class:`~daemon.journal.writer.JournalWriter` (positions
    from :class:`~daemon.journal.positions.PositionWriter`), the queries from
    :class:`~daemon.journal.read.JournalReader`.
    """

    #: Whether the journal leaves out the per-decision tables
    #: (:class:`~daemon.journal.results_only.ResultsOnlyJournal`).
    results_only = False

    # -- lifecycle ------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        buffered: bool = True,
        read_only: bool = False,
        min_commit_interval_s: float = 0.5,
        busy_timeout_ms: int = 5000,
        results_only: bool = False,
    ) -> Journal:
        """Open (creating or migrating if needed) the journal at ``path``.

        Args:
            path: SQLite file; created with the schema when missing or empty,
                migrated in one transaction when of an older schema version
                (see :mod:`daemon.journal.schema`).
            buffered: keep writes in memory until :meth:`flush` (fast replay);
                ``False`` commits every record immediately (paper/live).
            read_only: open without write access (``alvh journal``); the file
                must exist, is never changed (not even migrated), and every
                write method raises :class:`JournalError`.
            min_commit_interval_s: group commit for buffered journals, wall
                seconds: :meth:`flush` commits only if this long has passed
                since the last commit (or when forced), so a fast replay that
                flushes every session commits a few times per second instead
                of thousands. ``0`` commits on every flush. A crash loses at
                most this window of buffered work; committed rows are never
                affected.
            busy_timeout_ms: how long a statement waits for a lock another
                connection holds, milliseconds (``alvh web`` reads with a
                short one so that it never waits on the daemon).
            results_only: write only runs, daily rows and positions, no
                decisions, orders, fills, settlements or marks (replay runs
                only; :mod:`daemon.journal.results_only`). Same schema.

        A new file is created with mode 0600 (owner only, whatever the
        umask; SQLite gives its ``-wal`` and ``-shm`` files the same mode):
        a journal holds the account, positions and P&L.

        Raises:
            JournalError: the file is not SQLite, is SQLite but not an alvh
                journal, was written by a newer schema version, or cannot be
                opened, created or migrated (e.g. its directory is missing).
        """
        path = Path(path)
        if not read_only:
            _create_private(path)
        db = connect(path, read_only=read_only, buffered=buffered, busy_timeout_ms=busy_timeout_ms)
        kind: type[Journal] = cls
        if results_only:
            from daemon.journal.results_only import ResultsOnlyJournal  # it subclasses Journal

            kind = ResultsOnlyJournal
        return kind(
            db,
            path,
            buffered=buffered,
            read_only=read_only,
            min_commit_interval_s=max(0.0, min_commit_interval_s),
        )

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
        return str(pragma(self._db, "PRAGMA journal_mode")[0][0])

    @classmethod
    def check_before_writing(cls, path: Path | str) -> None:
        """Refuse to write to a damaged or foreign journal (``alvh run``/``replay`` call it).

        A missing or empty file passes (it will be created). Otherwise the file
        is opened read-only (an alvh journal of a known schema version) and
        SQLite's ``PRAGMA integrity_check`` must answer ``ok``.

        Raises:
            JournalError: one line naming the file and the first problem.
        """
        path = Path(path)
        if not path.parent.is_dir() and str(path.parent):
            raise JournalError(f"{path}: directory {path.parent} does not exist")
        try:
            if not path.exists() or (path.is_file() and path.stat().st_size == 0):
                return
        except (OSError, ValueError) as exc:
            raise JournalError(f"{path}: cannot use the journal ({exc})") from None
        journal = cls.open(path, read_only=True)
        try:
            rows = journal.db.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path}: damaged journal: integrity check failed: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # read-only: nothing to lose
                journal.close()
        first = " ".join(str(rows[0][0]).split())[:200] if rows else "no result"
        if first != "ok":
            raise JournalError(
                f"{path}: damaged journal (integrity check: {first}); restore a backup "
                "or start a new journal file"
            )

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` of the file, after committing what is pending.

        Returns:
            ``"ok"``, or the first problem SQLite reports (one line, e.g.
            ``"On tree page 4 cell 12: invalid page number 10619651"``).

        Raises:
            JournalError: the journal is closed, or the file is too damaged
                for SQLite to check.
        """
        if self._closed:
            raise JournalError(f"{self.path}: journal is closed")
        self.flush(force=True)
        try:
            rows = self._db.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: integrity check failed: {exc}") from exc
        for (text,) in rows:
            for line in str(text).splitlines():
                if line.strip() and not line.startswith("*** in database"):
                    return line.strip()
        return "integrity_check gave no result"

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
            mode: one of :data:`~daemon.journal.RUN_MODES`.
            config_json: the effective configuration (``AlvhConfig.to_json()``).
            replay_start, replay_end: first and last session replayed.
            started_at: wall-clock start; default now (UTC).
            account: the broker account the run trades, if known yet.

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
                        (started_at or utc_now()).isoformat(),
                        config_json,
                        iso(replay_start),
                        iso(replay_end),
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
                    (finished_at or utc_now()).isoformat(),
                    None if summary is None else strict_json(_summary_json(summary)),
                    run_id,
                ),
            )

    def finish_interrupted_runs(self, current_run: int) -> list[int]:
        """Mark every other unfinished run finished as interrupted; returns their ids.

        Call it only while holding the journal's lock (:mod:`daemon.locking`):
        then no other process can be writing those runs, so an unfinished one
        was killed. Its rows stay as they are; the summary says it was cut short.
        """
        self.flush(force=True)
        stale = [
            int(row["id"])
            for row in self._db.query(
                "SELECT id FROM runs WHERE finished_at IS NULL AND id != ?", [current_run]
            )
        ]
        for run_id in stale:
            self.finish_run(
                run_id,
                {
                    "interrupted": True,
                    "note": f"process ended without finishing; found by run {current_run}",
                },
            )
        return stale

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
        if self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise JournalError(f"{self.path}: no run {run_id}")

    def summary(self, run_id: int | None = None) -> JournalSummary:
        """Counts, P&L and drawdown of one run (``None`` = the latest).

        A shortcut for :func:`daemon.analytics.summarize`, which computes it
        from this journal's read models.

        Raises:
            JournalError: no such run / no runs.
        """
        from daemon.analytics import summarize  # analytics reads the journal, not vice versa

        return summarize(self, run_id)
