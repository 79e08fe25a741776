"""The results-only journal: the same results as the full journal, without per-decision rows."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.config import load_config
from daemon.journal import Journal, JournalError
from daemon.journal.results_only import SKIPPED_TABLES, ResultsOnlyJournal
from daemon.logs import bind_clock, configure_logging, get_logger
from daemon.replay import ReplayResult, run_replay
from strategies.domain import OptionContract, Right
from strategies.execution import Fill, OrderState
from tests.daemon.rig import rows

START, END = date(2019, 1, 2), date(2019, 3, 29)

Pair = tuple[Path, ReplayResult, Path, ReplayResult]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """The same replay into a full journal and into a results-only one."""
    tmp = tmp_path_factory.mktemp("results_only")
    configure_logging("info", "json", stream=io.StringIO())
    config = load_config(None)
    full_path, ro_path = tmp / "full.sqlite", tmp / "results.sqlite"
    full = asyncio.run(run_replay(config, START, END, full_path, get_logger("t")))
    ro = asyncio.run(run_replay(config, START, END, ro_path, get_logger("t"), results_only=True))
    return full_path, full, ro_path, ro


def _comparable(summary_json: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in summary_json.items() if k not in ("started_at", "finished_at")}


def test_summary_is_the_full_journals(pair: Pair) -> None:
    _, full, _, ro = pair
    assert full.summary.trades_closed > 0 and sum(full.summary.fills.values()) > 0
    assert _comparable(ro.summary.as_json()) == _comparable(full.summary.as_json())
    assert ro.summary.commissions == pytest.approx(full.summary.commissions, abs=1e-9)


def test_daily_rows_and_positions_are_identical(pair: Pair) -> None:
    full_path, _, ro_path, _ = pair
    for sql in (
        "SELECT session, cash, net_liquidation, realized_pnl, unrealized_pnl, condor_pnl,"
        " hedge_pnl, drawdown FROM daily ORDER BY session",
        "SELECT id, structure, opened_session, closed_session, quantity, legs_json,"
        " open_price, close_price, realized_pnl, close_reason, parent_id, tag"
        " FROM positions ORDER BY rowid",
    ):
        expected = rows(full_path, sql)
        assert expected and rows(ro_path, sql) == expected


def test_no_per_decision_rows(pair: Pair) -> None:
    full_path, _, ro_path, _ = pair
    for table in SKIPPED_TABLES:
        if table != "settlements":  # nothing of this range is held to expiry
            assert rows(full_path, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] > 0, table
        assert rows(ro_path, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table
    assert ro_path.stat().st_size < full_path.stat().st_size / 3


def test_a_later_reader_gets_the_counts_from_the_stored_summary(pair: Pair) -> None:
    _, full, ro_path, ro = pair
    with Journal.open(ro_path, read_only=True) as journal:
        again = journal.summary(ro.run_id)
        assert journal.tally(ro.run_id) == []
    assert _comparable(again.as_json()) == _comparable(full.summary.as_json())


def test_in_memory_tally_matches_the_sql_tally(pair: Pair) -> None:
    """The tally a results-only journal keeps equals what SQL counts over the full rows."""
    full_path, full, _, _ = pair
    config = load_config(None)
    path = full_path.parent / "tally.sqlite"
    seen: list[object] = []

    async def replay_and_tally() -> None:
        original = Journal.finish_run

        def capture(self: Journal, run_id: int, summary: object = None, **kw: object) -> None:
            seen.append(self.tally(run_id))
            original(self, run_id, summary, **kw)  # type: ignore[arg-type]

        Journal.finish_run = capture  # type: ignore[method-assign]
        try:
            await run_replay(config, START, END, path, get_logger("t"), results_only=True)
        finally:
            Journal.finish_run = original  # type: ignore[method-assign]

    asyncio.run(replay_and_tally())
    with Journal.open(full_path, read_only=True) as journal:
        expected = journal.tally(full.run_id)
    (got,) = seen
    assert [(t.kind, t.structure, t.rows, t.filled) for t in got] == [  # type: ignore[attr-defined]
        (t.kind, t.structure, t.rows, t.filled) for t in expected
    ]
    for a, b in zip(got, expected, strict=True):  # type: ignore[call-overload]
        assert a.commission == pytest.approx(b.commission, abs=1e-9)


def _fill(exec_id: str, order_ref: str) -> Fill:
    contract = OptionContract("SPX", "SPXW", date(2019, 2, 15), 2500.0, Right.PUT)
    return Fill(exec_id, order_ref, contract, -1, 2.5, 1.1, datetime(2019, 2, 1, tzinfo=UTC))


def test_exactly_once_keys_hold_in_memory(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite", results_only=True) as journal:
        assert isinstance(journal, ResultsOnlyJournal) and journal.results_only
        run = journal.start_run("replay")
        assert journal.record_fill(_fill("e1", "r1-1"), run) is True
        journal.flush(force=True)
        assert journal.record_fill(_fill("e1", "r1-1"), run) is False  # after a commit too
        assert journal.fill_exists("e1")
        with pytest.raises(JournalError, match="unknown order"):
            journal.transition_order("nope", run, OrderState.FILLED, datetime.now(UTC))
        journal.finish_run(run, journal.summary(run))
        assert rows(tmp_path / "j.sqlite", "SELECT COUNT(*) AS n FROM fills")[0]["n"] == 0
        assert journal.summary(run).fills == {"other": 1}


def test_only_replay_runs(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite", results_only=True) as journal:
        with pytest.raises(JournalError, match="replays only"):
            journal.start_run("paper")
        assert journal.runs() == []


def test_cli_replay_results_only(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            rc = main(
                [
                    "replay",
                    "--start",
                    "2019-03-01",
                    "--end",
                    "2019-03-29",
                    "--journal",
                    str(journal),
                    "--log-file",
                    str(tmp_path / "events.log"),
                    "--no-progress",
                    "--results-only",
                ]
            )
    finally:
        bind_clock(None)
        configure_logging("info", "json", io.StringIO())
    assert rc == 0
    assert rows(journal, "SELECT COUNT(*) AS n FROM decisions")[0]["n"] == 0
    assert rows(journal, "SELECT COUNT(*) AS n FROM daily")[0]["n"] == 21  # sessions of March 2019
    stored = json.loads(rows(journal, "SELECT summary_json FROM runs")[0]["summary_json"])
    assert sum(stored["decisions"].values()) > 0
    assert "decisions " in out.getvalue()
