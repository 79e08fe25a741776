"""No statement of the journal outlives its call, whoever still refers to its cursor.

Regression: a sweep point (``benchmarks/sweep_benchmark.py --points 64
--workers 2``) failed once with "cannot start run: cannot commit transaction -
SQL statements in progress". ``PRAGMA journal_mode=wal`` returns a row and
counts as a write in SQLite; ``sqlite_utils``' ``enable_wal`` left its
statement to the deallocation of a cursor held in a local variable of
``Database.execute``, and the Dask worker's sampling profiler
(``sys._current_frames()`` every 10 ms) held that frame, so the statement was
still active when ``start_run`` committed (Python 3.11's ``sqlite3`` does not
reset statements on commit). These tests hold every frame, as such a profiler,
a traceback or a reference cycle does, and write through the journal.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from daemon.journal import Journal

NOW = datetime(2020, 2, 3, 20, 30, tzinfo=UTC)


@contextmanager
def _frames_held() -> Iterator[list[FrameType]]:
    """Keep every Python frame entered inside the block alive until the block ends.

    A frame object that outlives its call keeps the call's local variables,
    so a cursor held only in a local of a function that has returned stays
    alive (in the worker, ``Worker.trigger_profile`` holds the task thread's
    frames while it samples them).
    """
    kept: list[FrameType] = []

    def hold(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            kept.append(frame)

    previous = sys.getprofile()
    sys.setprofile(hold)
    try:
        yield kept
    finally:
        sys.setprofile(previous)


def _cursors_kept(frames: list[FrameType]) -> int:
    """How many cursors the held frames keep alive (call it after the block: no new frames)."""
    return sum(isinstance(v, sqlite3.Cursor) for f in frames for v in f.f_locals.values())


@pytest.mark.parametrize("results_only", [True, False])
@pytest.mark.parametrize("buffered", [True, False])
def test_new_journal_commits_while_every_cursor_is_kept_alive(
    tmp_path: Path, results_only: bool, buffered: bool
) -> None:
    path = tmp_path / "point.sqlite"
    with _frames_held() as frames:
        journal = Journal.open(path, results_only=results_only, buffered=buffered)
        try:
            run_id = journal.start_run(
                "replay", replay_start=date(2020, 2, 3), replay_end=date(2020, 2, 3)
            )
            assert journal.journal_mode == "wal"
            journal.record_daily(
                run_id,
                date(2020, 2, 3),
                cash=100_000.0,
                net_liquidation=100_000.0,
                open_condor_pnl=0.0,
                open_hedge_pnl=0.0,
                drawdown=0.0,
            )
            journal.finish_run(run_id, {"note": "done"})
        finally:
            journal.close()
    # the hook really kept cursors alive (else this test would prove nothing)
    assert _cursors_kept(frames) > 0
    with Journal.open(path, read_only=True) as reader:
        (run,) = reader.runs()
        assert (run.id, run.finished_at is not None) == (run_id, True)
        assert [d.net_liquidation for d in reader.daily(run_id)] == [100_000.0]


def test_reopened_journal_starts_a_run_while_every_cursor_is_kept_alive(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        first = journal.start_run("replay")
    with _frames_held() as frames, Journal.open(path, results_only=True) as journal:
        second = journal.start_run("replay", started_at=NOW)
        assert journal.finish_interrupted_runs(second) == [first]
    assert _cursors_kept(frames) > 0
    with Journal.open(path, read_only=True) as reader:
        assert [r.id for r in reader.runs()] == [first, second]
