"""Tests for daemon.journal: round trips, exactly-once, WAL, atomic flushes, summary."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from daemon.brokers.base import ComboOrder, Fill, OrderResult, OrderStatus, Settlement
from daemon.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    legs_from_json,
    legs_to_json,
)
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.positions import OpenStructure

REPO = Path(__file__).resolve().parents[2]
SESSION = date(2020, 2, 3)
NOW = datetime(2020, 2, 3, 20, 30, tzinfo=UTC)
EXPIRY = date(2020, 2, 14)


def _condor_legs(expiry: date = EXPIRY) -> tuple[Leg, ...]:
    def c(strike: float, right: Right) -> OptionContract:
        return OptionContract("SPX", "SPXW", expiry, strike, right)

    return (
        Leg(c(3100, Right.PUT), 1),
        Leg(c(3150, Right.PUT), -1),
        Leg(c(3400, Right.CALL), -1),
        Leg(c(3450, Right.CALL), 1),
    )


def _hedge_legs() -> tuple[Leg, ...]:
    return (Leg(OptionContract("VIX", "VIX", date(2020, 3, 18), 20.0, Right.CALL), 1),)


def _open_decision(legs: tuple[Leg, ...] = _condor_legs(), qty: int = 2) -> Decision:
    return Decision(
        rule="condor_entry",
        action=Action.OPEN,
        structure=Structure.CONDOR,
        reason="16-delta condor, 14 DTE, credit 2.35 >= 1.00",
        inputs={"spx": 3248.9, "vix": 17.97, "dte": 11, "credit": 2.35, "note": None},
        legs=legs,
        quantity=qty,
        limit_price=-2.35,
    )


def _skip_decision(structure: Structure = Structure.CONDOR) -> Decision:
    return Decision("condor_entry", Action.SKIP, structure, "one condor already open", {"open": 1})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alvh.sqlite"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    j = Journal.open(path, min_commit_interval_s=0)
    yield j
    j.close()


def _other_connection_count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


# --------------------------------------------------------------------------- file handling


def test_new_journal_is_wal_with_schema_version(journal: Journal, path: Path) -> None:
    assert journal.journal_mode == "wal"
    meta = {r["key"]: r["value"] for r in journal.db.query("SELECT * FROM meta")}
    assert meta["application"] == "alvh-journal"
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert {
        "meta",
        "runs",
        "decisions",
        "orders",
        "fills",
        "settlements",
        "positions",
        "marks",
        "daily",
    } <= set(journal.db.table_names())


def test_reopen_keeps_data_and_is_idempotent(path: Path) -> None:
    with Journal.open(path) as j:
        run = j.start_run("replay", config_json='{"a": 1}')
        j.record_decision("r1-1", run, SESSION, NOW, _skip_decision())
    schema_before = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master").fetchall()
    with Journal.open(path) as j:
        assert [r.id for r in j.runs()] == [run]
        assert j.runs()[0].config == {"a": 1}
        assert j.decision_exists("r1-1")
        assert j.get_decision("r1-1").decision == _skip_decision()
        run2 = j.start_run("paper")
        assert run2 == run + 1
    schema_after = sqlite3.connect(path).execute("SELECT sql FROM sqlite_master").fetchall()
    assert schema_before == schema_after


def test_foreign_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database, just text\n" * 200)
    with pytest.raises(JournalError, match="not an alvh journal"):
        Journal.open(garbage)
    assert garbage.read_bytes().startswith(b"this is not")  # left untouched

    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="not an alvh journal"):
        Journal.open(foreign)
    tables = sqlite3.connect(foreign).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("customers",)]

    with pytest.raises(JournalError):
        Journal.open(tmp_path)  # a directory


def test_truncated_journal_is_refused(path: Path) -> None:
    with Journal.open(path) as j:
        run = j.start_run("replay")
        for i in range(200):
            j.record_decision(f"d{i}", run, SESSION, NOW, _skip_decision())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b"\x00" * 100 + data[len(data) // 2 + 100 :])
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 84 + data[100:])
    with pytest.raises(JournalError):
        j = Journal.open(path)
        j.summary()


def test_newer_schema_is_refused(path: Path) -> None:
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        Journal.open(path)


def test_read_only_open(path: Path) -> None:
    with Journal.open(path) as j:
        run = j.start_run("replay")
        j.record_decision("r1-1", run, SESSION, NOW, _skip_decision())
    ro = Journal.open(path, read_only=True)
    try:
        assert ro.summary().decisions == {"condor": 1}
        with pytest.raises(JournalError, match="read-only"):
            ro.record_decision("r1-2", run, SESSION, NOW, _skip_decision())
        with pytest.raises(JournalError, match="read-only"):
            ro.start_run("replay")
    finally:
        ro.close()
    with pytest.raises(JournalError, match="no such"):
        Journal.open(path.with_name("missing.sqlite"), read_only=True)


# --------------------------------------------------------------------------- round trips


def test_run_round_trip(journal: Journal) -> None:
    run = journal.start_run(
        "replay",
        config_json='{"condor": {"short_delta": 0.16}}',
        replay_start=date(2018, 1, 2),
        replay_end=date(2018, 12, 31),
        started_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    )
    journal.finish_run(
        run, {"total_pnl": 12.5}, finished_at=datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    )
    info = journal.run(run)
    assert info.mode == "replay"
    assert info.started_at == "2024-05-01T12:00:00+00:00"
    assert info.finished_at == "2024-05-01T12:05:00+00:00"
    assert (info.replay_start, info.replay_end) == (date(2018, 1, 2), date(2018, 12, 31))
    assert info.config == {"condor": {"short_delta": 0.16}}
    assert info.summary == {"total_pnl": 12.5}
    with pytest.raises(JournalError, match="run mode"):
        journal.start_run("backtest")
    with pytest.raises(JournalError, match="no run 99"):
        journal.run(99)


def test_decision_round_trip(journal: Journal) -> None:
    run = journal.start_run("replay")
    decision = _open_decision()
    journal.record_decision("r1-1", run, SESSION, NOW, decision)
    close = Decision(
        "condor_exit",
        Action.CLOSE,
        Structure.CONDOR,
        "profit target",
        {"debit": 1.1},
        tuple(Leg(leg.contract, -leg.ratio) for leg in _condor_legs()),
        2,
        1.1,
        "r1-1",
    )
    journal.record_decision("r1-2", run, SESSION, NOW, close)
    assert journal.decision_exists("r1-1")
    with pytest.raises(JournalError, match="already journaled"):
        journal.record_decision("r1-1", run, SESSION, NOW, decision)
    record = journal.get_decision("r1-1")
    assert record.decision == decision
    assert (record.run_id, record.session, record.time) == (run, SESSION, NOW.isoformat())
    assert [r.decision for r in journal.decisions(run)] == [decision, close]
    row = journal.db.execute("SELECT inputs_json FROM decisions WHERE id='r1-1'").fetchone()
    assert json.loads(row[0])["credit"] == 2.35


def test_legs_json_round_trip() -> None:
    legs = _condor_legs() + _hedge_legs()
    assert legs_from_json(legs_to_json(legs)) == legs
    assert legs_from_json(None) == ()
    with pytest.raises(JournalError):
        legs_from_json('[{"symbol": "SPX"}]')


def test_order_round_trip_and_order_exists(journal: Journal) -> None:
    run = journal.start_run("paper")
    legs = _condor_legs()
    with pytest.raises(JournalError, match="no journaled decision"):
        journal.record_order("r1-1", run, ComboOrder("r1-1", legs, 2, -2.35, -2.10), NOW)
    journal.record_decision("r1-1", run, SESSION, NOW, _open_decision())
    assert not journal.order_exists("r1-1")
    order = ComboOrder("r1-1", legs, 2, -2.35, -2.10)
    journal.record_order("r1-1", run, order, NOW)
    assert journal.order_exists("r1-1")
    with pytest.raises(JournalError, match="already journaled"):
        journal.record_order("r1-1", run, order, NOW)
    with pytest.raises(JournalError, match="order_ref"):
        journal.record_order("r1-1", run, ComboOrder("other", legs, 2, -2.35), NOW)
    submitted = journal.get_order("r1-1")
    assert submitted.status == "submitted"
    assert submitted.legs == legs
    assert (submitted.quantity, submitted.limit_price, submitted.worst_price) == (2, -2.35, -2.10)
    later = NOW + timedelta(seconds=30)
    journal.update_order(OrderResult("r1-1", OrderStatus.PARTIAL, 1, -2.30, (), "timeout"), later)
    done = journal.get_order("r1-1")
    assert (done.status, done.filled_quantity, done.avg_price) == ("partially_filled", 1, -2.30)
    assert (done.reason, done.updated_at) == ("timeout", later.isoformat())
    with pytest.raises(JournalError, match="unknown order"):
        journal.update_order(OrderResult("zz", OrderStatus.CANCELLED, 0, None, ()), later)
    # survives a restart: the engine must not submit r1-1 again
    journal.close()
    with Journal.open(journal.path) as again:
        assert again.order_exists("r1-1")
        assert not again.order_exists("r1-2")


def test_fills_are_journaled_exactly_once(journal: Journal, path: Path) -> None:
    run = journal.start_run("live")
    leg = _condor_legs()[1]
    fill = Fill("0001.abc", "r1-1", leg.contract, -2, 3.4, 2.62, NOW)
    assert journal.record_fill(fill, run) is True
    assert journal.record_fill(fill, run) is False  # pending duplicate
    journal.flush()
    assert journal.record_fill(fill, run) is False  # committed duplicate
    assert journal.pending == 0
    journal.close()
    with Journal.open(path) as j:
        assert j.record_fill(fill, run) is False  # duplicate after restart
        other = Fill("0002.abc", "r1-1", leg.contract, -1, 3.5, 1.31, NOW)
        assert j.record_fill(other, run) is True
        assert j.fills(run) == [fill, other]
    assert _other_connection_count(path, "fills") == 2


def test_settlement_round_trip_once_per_contract(journal: Journal) -> None:
    run = journal.start_run("replay")
    contract = _condor_legs()[1].contract
    settlement = Settlement(contract, -2, 3120.55, -5890.0, NOW)
    assert journal.record_settlement(settlement, run) is True
    assert journal.record_settlement(settlement, run) is False
    assert journal.settlements(run) == [settlement]
    assert journal.record_settlement(settlement, run) is False


def test_positions_open_update_close(journal: Journal) -> None:
    run = journal.start_run("replay")
    condor = OpenStructure("r1-1", Structure.CONDOR, _condor_legs(), 2, -2.35, SESSION)
    journal.open_position(run, condor)
    with pytest.raises(JournalError, match="already journaled"):
        journal.open_position(run, condor)
    (record,) = journal.positions(run, open_only=True)
    assert record.is_open
    assert record.to_open_structure() == condor
    journal.update_position("r1-1", quantity=1, open_price=-2.40)
    assert journal.positions(run)[0].quantity == 1
    assert journal.positions(run)[0].open_price == -2.40
    journal.close_position("r1-1", SESSION + timedelta(days=5), 1.10, 120.5, "profit target")
    (closed,) = journal.positions(run)
    assert (closed.closed_session, closed.close_price) == (SESSION + timedelta(days=5), 1.10)
    assert (closed.realized_pnl, closed.close_reason) == (120.5, "profit target")
    assert journal.positions(run, open_only=True) == []
    with pytest.raises(JournalError, match="no open position"):
        journal.close_position("r1-1", SESSION, 0.0, 0.0, "again")
    with pytest.raises(JournalError, match="no open position"):
        journal.update_position("nope", quantity=3)


def test_marks_and_daily_round_trip(journal: Journal) -> None:
    run = journal.start_run("replay")
    journal.open_position(
        run, OpenStructure("p1", Structure.CONDOR, _condor_legs(), 1, -2.0, SESSION)
    )
    journal.open_position(
        run, OpenStructure("h1", Structure.HEDGE_LAYER, _hedge_legs(), 3, 1.5, SESSION)
    )
    journal.record_mark(
        run,
        SESSION,
        "p1",
        mark_price=-1.8,
        unrealized_pnl=20.0,
        delta=3.0,
        gamma=-0.1,
        vega=-90.0,
        theta=12.0,
    )
    # re-marking the same session replaces the row
    journal.record_mark(
        run,
        SESSION,
        "p1",
        mark_price=-1.7,
        unrealized_pnl=30.0,
        delta=3.0,
        gamma=-0.1,
        vega=-90.0,
        theta=12.0,
    )
    (mark,) = journal.marks(run)
    assert (mark.session, mark.position_id, mark.mark_price, mark.unrealized_pnl) == (
        SESSION,
        "p1",
        -1.7,
        30.0,
    )
    journal.close_position("h1", SESSION, 1.0, -160.0, "hedge expired")
    journal.record_daily(
        run,
        SESSION,
        cash=100_200.0,
        net_liquidation=99_950.0,
        open_condor_pnl=30.0,
        open_hedge_pnl=0.0,
        drawdown=50.0,
    )
    (day,) = journal.daily(run)
    assert day.session == SESSION
    assert (day.cash, day.net_liquidation, day.drawdown) == (100_200.0, 99_950.0, 50.0)
    assert day.realized_pnl == -160.0
    assert day.unrealized_pnl == 30.0
    assert day.condor_pnl == 30.0
    assert day.hedge_pnl == -160.0


# --------------------------------------------------------------------------- atomicity


def test_failed_flush_writes_nothing_of_its_batch(
    journal: Journal, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = journal.start_run("replay")
    journal.record_decision("a1", run, SESSION, NOW, _skip_decision())
    journal.record_fill(Fill("x1", "a1", _condor_legs()[0].contract, 1, 1.0, 1.3, NOW), run)
    assert journal.flush() == 2

    journal.record_decision("b1", run, SESSION, NOW, _open_decision())
    journal.record_order("b1", run, ComboOrder("b1", _condor_legs(), 2, -2.35), NOW)
    journal.record_fill(Fill("x2", "b1", _condor_legs()[1].contract, -2, 3.0, 2.6, NOW), run)
    journal.record_daily(
        run, SESSION, cash=1.0, net_liquidation=1.0, open_condor_pnl=0, open_hedge_pnl=0, drawdown=0
    )
    calls = {"n": 0}
    original = Journal._execute_group

    def boom(self: Journal, sql: str, rows: list[tuple[object, ...]]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # decision and order already executed in this transaction
            raise RuntimeError("disk on fire")
        original(self, sql, rows)

    monkeypatch.setattr(Journal, "_execute_group", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        journal.flush()
    assert calls["n"] == 3
    for table, expected in (("decisions", 1), ("orders", 0), ("fills", 1), ("daily", 0)):
        assert _other_connection_count(path, table) == expected, table
    assert journal.pending == 4  # the failed batch is kept, not lost

    monkeypatch.setattr(Journal, "_execute_group", original)
    assert journal.flush() == 4
    for table, expected in (("decisions", 2), ("orders", 1), ("fills", 2), ("daily", 1)):
        assert _other_connection_count(path, table) == expected, table


def test_constraint_violation_rolls_back_whole_batch(journal: Journal, path: Path) -> None:
    run = journal.start_run("replay")
    journal.record_decision("a1", run, SESSION, NOW, _skip_decision())
    contract = _condor_legs()[0].contract
    assert journal.record_fill(Fill("dup", "a1", contract, 1, 1.0, 1.3, NOW), run)
    # another writer sneaks in the same exec_id before our flush
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO fills (exec_id, run_id, time, local_symbol, quantity, price, commission)"
        " VALUES ('dup', ?, 't', 'x', 1, 1.0, 0.0)",
        (run,),
    )
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match="rolled back"):
        journal.flush()
    assert _other_connection_count(path, "decisions") == 0
    assert journal.discard() == 2
    assert journal.pending == 0


def test_crash_keeps_committed_rows(path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from datetime import date, datetime, UTC
        from daemon.journal import Journal
        from strategies.domain import Action, Decision, Structure
        j = Journal.open({str(path)!r}, min_commit_interval_s=0)
        run = j.start_run("replay")
        d = Decision("r", Action.SKIP, Structure.CONDOR, "x", {{}})
        now = datetime(2020, 1, 2, tzinfo=UTC)
        for i in range(50):
            j.record_decision(f"c{{i}}", run, date(2020, 1, 2), now, d)
        j.flush()
        for i in range(50):
            j.record_decision(f"u{{i}}", run, date(2020, 1, 3), now, d)
        os._exit(3)  # crash: no close, no flush
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60)
    assert proc.returncode == 3, proc.stderr.decode()
    with Journal.open(path) as j:
        assert j.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r.id for r in j.decisions(1)]
        assert len(ids) == 50
        assert all(i.startswith("c") for i in ids)


# --------------------------------------------------------------------------- buffering modes


def test_group_commit_defers_until_interval_or_force(path: Path) -> None:
    j = Journal.open(path, min_commit_interval_s=3600)
    try:
        run = j.start_run("replay")  # start_run always commits
        j.record_decision("d1", run, SESSION, NOW, _skip_decision())
        assert j.flush() == 1  # first commit of the session is immediate
        j.record_decision("d2", run, SESSION, NOW, _skip_decision())
        assert j.flush() == 0  # within the interval: deferred
        assert j.pending == 1
        assert _other_connection_count(path, "decisions") == 1
        assert j.decision_exists("d2")
        assert j.flush(force=True) == 1
        assert _other_connection_count(path, "decisions") == 2
        j.record_decision("d3", run, SESSION, NOW, _skip_decision())
    finally:
        j.close()  # close commits what is pending
    assert _other_connection_count(path, "decisions") == 3


def test_unbuffered_journal_commits_every_record(path: Path) -> None:
    with Journal.open(path, buffered=False) as j:
        run = j.start_run("live", config_json="{}")
        j.record_decision("r1-1", run, SESSION, NOW, _open_decision())
        assert j.pending == 0
        assert _other_connection_count(path, "decisions") == 1
        assert j.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


# --------------------------------------------------------------------------- summary


def test_summary_counts_pnl_and_drawdown(journal: Journal) -> None:
    with pytest.raises(JournalError, match="no runs"):
        journal.summary()
    run = journal.start_run(
        "replay",
        config_json='{"replay": {"starting_cash": 100000.0}}',
        replay_start=date(2020, 2, 3),
        replay_end=date(2020, 2, 7),
    )
    condor, hedge = _condor_legs(), _hedge_legs()
    journal.record_decision("r1-1", run, SESSION, NOW, _open_decision(condor, 1))
    journal.record_order("r1-1", run, ComboOrder("r1-1", condor, 1, -2.35), NOW)
    for n, leg in enumerate(condor):
        journal.record_fill(Fill(f"e{n}", "r1-1", leg.contract, leg.ratio, 1.0, 1.31, NOW), run)
    journal.update_order(OrderResult("r1-1", OrderStatus.FILLED, 1, -2.35, ()), NOW)
    journal.open_position(run, OpenStructure("r1-1", Structure.CONDOR, condor, 1, -2.35, SESSION))
    hedge_decision = Decision(
        "hedge_layer", Action.OPEN, Structure.HEDGE_LAYER, "layer", {}, hedge, 2, 1.5
    )
    journal.record_decision("r1-2", run, SESSION, NOW, hedge_decision)
    journal.record_order("r1-2", run, ComboOrder("r1-2", hedge, 2, 1.5), NOW)
    journal.record_fill(Fill("e9", "r1-2", hedge[0].contract, 2, 1.5, 2.1, NOW), run)
    journal.update_order(OrderResult("r1-2", OrderStatus.FILLED, 2, 1.5, ()), NOW)
    journal.open_position(run, OpenStructure("r1-2", Structure.HEDGE_LAYER, hedge, 2, 1.5, SESSION))
    journal.record_decision("r1-3", run, SESSION, NOW, _skip_decision())
    journal.record_fill(Fill("manual", "tws-123", hedge[0].contract, 1, 1.0, 1.0, NOW), run)

    nl = [100_100.0, 99_000.0, 101_000.0, 100_500.0]
    for i, value in enumerate(nl):
        day = SESSION + timedelta(days=i)
        if i == 2:
            journal.close_position("r1-1", day, 1.0, 130.0, "profit target")
        if i == 3:
            journal.close_position("r1-2", day, 0.5, -205.0, "hedge exit")
        journal.record_daily(
            run,
            day,
            cash=value,
            net_liquidation=value,
            open_condor_pnl=10.0 if i < 2 else 0.0,
            open_hedge_pnl=-20.0 if i < 3 else 0.0,
            drawdown=0.0,
        )
    summary = journal.summary()
    assert summary.run_id == run
    assert summary.mode == "replay"
    assert summary.sessions == 4
    assert (summary.first_session, summary.last_session) == (SESSION, SESSION + timedelta(days=3))
    assert summary.decisions == {"condor": 2, "hedge_layer": 1}
    assert summary.orders == {"condor": 1, "hedge_layer": 1}
    assert summary.orders_filled == 2
    assert summary.fills == {"condor": 4, "hedge_layer": 1, "other": 1}
    assert summary.commissions == pytest.approx(4 * 1.31 + 2.1 + 1.0)
    assert (summary.trades_closed, summary.wins, summary.win_rate) == (2, 1, 0.5)
    assert summary.realized_pnl == pytest.approx(-75.0)
    assert summary.unrealized_pnl == 0.0
    assert summary.total_pnl == pytest.approx(-75.0)
    assert summary.condor_pnl == pytest.approx(130.0)
    assert summary.hedge_pnl == pytest.approx(-205.0)
    assert summary.starting_net_liquidation == 100_000.0
    assert summary.final_net_liquidation == 100_500.0
    assert summary.max_drawdown == pytest.approx(1_100.0)  # 100,100 -> 99,000
    assert summary.max_drawdown_pct == pytest.approx(1_100.0 / 100_100.0 * 100.0)
    text = summary.render()
    assert "win rate 50.0%" in text and "max drawdown 1,100.00 USD" in text
    journal.finish_run(run, summary)
    assert journal.run(run).summary is not None
    assert journal.run(run).summary["max_drawdown"] == pytest.approx(1_100.0)  # type: ignore[index]


def test_summary_without_marks_uses_closed_positions(journal: Journal) -> None:
    run = journal.start_run("paper")
    journal.open_position(
        run, OpenStructure("p", Structure.CONDOR, _condor_legs(), 1, -2.0, SESSION)
    )
    journal.close_position("p", SESSION, 0.5, 140.0, "target")
    summary = journal.summary(run)
    assert (summary.total_pnl, summary.condor_pnl, summary.hedge_pnl) == (140.0, 140.0, 0.0)
    assert summary.sessions == 0 and summary.max_drawdown == 0.0
    assert summary.win_rate == 1.0


# --------------------------------------------------------------------------- throughput


def test_replay_sized_workload_is_fast(path: Path) -> None:
    """4,500 sessions x 20 rows, flushed every session (the replay's pattern)."""
    sessions = 4500
    journal_time = 0.0
    j = Journal.open(path)
    run = j.start_run("replay")
    seq = 0
    start = date(2003, 1, 2)
    for k in range(sessions):
        t0 = time.perf_counter()
        session = start + timedelta(days=k)
        now = datetime(session.year, session.month, session.day, 20, 30, tzinfo=UTC)
        legs = _condor_legs(session + timedelta(days=14))
        for n in range(5):
            seq += 1
            did = f"r{run}-{seq}"
            if n == 0 and k % 5 == 0:
                j.record_decision(did, run, session, now, _open_decision(legs, 1))
                j.record_order(did, run, ComboOrder(did, legs, 1, -2.35, -2.2), now)
                for i, leg in enumerate(legs):
                    j.record_fill(
                        Fill(f"{did}.{i}", did, leg.contract, leg.ratio, 1.0, 1.31, now), run
                    )
                j.update_order(OrderResult(did, OrderStatus.FILLED, 1, -2.35, ()), now)
                j.open_position(run, OpenStructure(did, Structure.CONDOR, legs, 1, -2.35, session))
                j.close_position(did, session, -1.0, 135.0, "test")
            else:
                j.record_decision(did, run, session, now, _skip_decision())
        for p in range(12):
            j.record_mark(
                run,
                session,
                f"p{p}",
                mark_price=-1.0,
                unrealized_pnl=1.0,
                delta=1.0,
                gamma=0.0,
                vega=-1.0,
                theta=1.0,
            )
        j.record_daily(
            run,
            session,
            cash=1e5,
            net_liquidation=1e5 + k,
            open_condor_pnl=0.0,
            open_hedge_pnl=0.0,
            drawdown=0.0,
        )
        j.flush()
        journal_time += time.perf_counter() - t0
    t0 = time.perf_counter()
    j.close()
    journal_time += time.perf_counter() - t0
    rows_per_session = (5 + 12 + 1) + (1 + 4 + 1 + 2) / 5
    print(
        f"\njournal: {sessions} sessions, ~{rows_per_session:.1f} rows/session, "
        f"{journal_time:.3f} s total ({sessions * rows_per_session / journal_time:,.0f} rows/s)"
    )
    assert _other_connection_count(path, "decisions") == sessions * 5
    assert _other_connection_count(path, "marks") == sessions * 12
    assert journal_time < 5.0  # target is < 1 s; generous for slow CI machines
