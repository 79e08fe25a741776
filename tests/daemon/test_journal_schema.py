"""Journal schema versions: creation, migration of a version-1 file, refusal of newer files,
read-only access to older files, and the integrity check."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlite_utils

from daemon.cli import EXIT_USAGE, main
from daemon.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    MarketDayRecord,
    legs_to_json,
    schema,
)
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.execution import Fill, OrderIntent, OrderState, Settlement

NOW = datetime(2020, 2, 3, 20, 30, tzinfo=UTC)
SESSION = date(2020, 2, 3)

# The schema of version 1 exactly as alvh wrote it (commit 689c9f7, daemon/journal.py).
V1_DDL = """
CREATE TABLE "meta" ("key" TEXT PRIMARY KEY, "value" TEXT NOT NULL);
CREATE TABLE "runs" (
   "id" INTEGER PRIMARY KEY, "mode" TEXT NOT NULL, "started_at" TEXT NOT NULL,
   "finished_at" TEXT, "config_json" TEXT NOT NULL, "replay_start" TEXT, "replay_end" TEXT,
   "summary_json" TEXT);
CREATE TABLE "decisions" (
   "id" TEXT PRIMARY KEY, "run_id" INTEGER NOT NULL REFERENCES "runs"("id"),
   "session" TEXT NOT NULL, "time" TEXT NOT NULL, "rule" TEXT NOT NULL, "action" TEXT NOT NULL,
   "structure" TEXT NOT NULL, "reason" TEXT, "inputs_json" TEXT, "legs_json" TEXT,
   "quantity" INTEGER NOT NULL, "limit_price" REAL, "position_id" TEXT);
CREATE TABLE "orders" (
   "order_ref" TEXT PRIMARY KEY REFERENCES "decisions"("id"),
   "run_id" INTEGER NOT NULL REFERENCES "runs"("id"), "time" TEXT NOT NULL,
   "legs_json" TEXT NOT NULL, "quantity" INTEGER NOT NULL, "limit_price" REAL NOT NULL,
   "worst_price" REAL, "status" TEXT NOT NULL, "filled_quantity" INTEGER, "avg_price" REAL,
   "reason" TEXT, "updated_at" TEXT);
CREATE TABLE "fills" (
   "exec_id" TEXT PRIMARY KEY, "order_ref" TEXT, "run_id" INTEGER NOT NULL,
   "time" TEXT NOT NULL, "local_symbol" TEXT NOT NULL, "symbol" TEXT, "trading_class" TEXT,
   "expiry" TEXT, "strike" REAL, "right" TEXT, "multiplier" INTEGER,
   "quantity" INTEGER NOT NULL, "price" REAL NOT NULL, "commission" REAL NOT NULL);
CREATE TABLE "settlements" (
   "id" INTEGER PRIMARY KEY, "run_id" INTEGER NOT NULL, "time" TEXT NOT NULL,
   "local_symbol" TEXT NOT NULL, "symbol" TEXT, "trading_class" TEXT, "expiry" TEXT,
   "strike" REAL, "right" TEXT, "multiplier" INTEGER, "quantity" INTEGER NOT NULL,
   "settlement_price" REAL NOT NULL, "cash" REAL NOT NULL);
CREATE TABLE "positions" (
   "id" TEXT PRIMARY KEY, "run_id" INTEGER NOT NULL, "structure" TEXT NOT NULL,
   "opened_session" TEXT NOT NULL, "closed_session" TEXT, "quantity" INTEGER NOT NULL,
   "legs_json" TEXT NOT NULL, "open_price" REAL, "close_price" REAL, "realized_pnl" REAL,
   "close_reason" TEXT);
CREATE TABLE "marks" (
   "run_id" INTEGER, "session" TEXT, "position_id" TEXT, "mark_price" REAL,
   "unrealized_pnl" REAL, "delta" REAL, "gamma" REAL, "vega" REAL, "theta" REAL,
   PRIMARY KEY ("run_id", "session", "position_id"));
CREATE TABLE "daily" (
   "run_id" INTEGER, "session" TEXT, "cash" REAL, "net_liquidation" REAL, "realized_pnl" REAL,
   "unrealized_pnl" REAL, "condor_pnl" REAL, "hedge_pnl" REAL, "drawdown" REAL,
   PRIMARY KEY ("run_id", "session"));
CREATE INDEX "idx_decisions_run_id_session" ON "decisions" ("run_id", "session");
CREATE INDEX "idx_orders_run_id_time" ON "orders" ("run_id", "time");
CREATE INDEX "idx_fills_run_id_time" ON "fills" ("run_id", "time");
CREATE UNIQUE INDEX "idx_settlements_run_id_local_symbol"
    ON "settlements" ("run_id", "local_symbol");
CREATE INDEX "idx_positions_run_id_closed_session" ON "positions" ("run_id", "closed_session");
"""

V1_TABLES = ("runs", "decisions", "orders", "fills", "settlements", "positions", "marks", "daily")


def _contract(strike: float, right: Right) -> OptionContract:
    return OptionContract("SPX", "SPXW", date(2020, 2, 14), strike, right)


CONDOR = (
    Leg(_contract(3100, Right.PUT), 1),
    Leg(_contract(3150, Right.PUT), -1),
    Leg(_contract(3400, Right.CALL), -1),
    Leg(_contract(3450, Right.CALL), 1),
)
HEDGE = (Leg(OptionContract("VIX", "VIX", date(2020, 3, 18), 20.0, Right.CALL), 1),)


def _fill_row(exec_id: str, ref: str, run: int, leg: Leg, qty: int) -> tuple[object, ...]:
    c = leg.contract
    contract = (c.local_symbol, c.symbol, c.trading_class, c.expiry.isoformat(), c.strike)
    return (exec_id, ref, run, NOW.isoformat(), *contract, c.right.value, 100, qty, 1.25, 1.31)


def make_v1_journal(path: Path) -> None:
    """A version-1 journal with rows in every table: a finished replay and an open paper run."""
    condor, hedge, t = legs_to_json(CONDOR), legs_to_json(HEDGE), NOW.isoformat()
    conn = sqlite3.connect(path)
    conn.executescript(V1_DDL)
    conn.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("application", "alvh-journal"), ("schema_version", "1"), ("created_at", t)],
    )
    conn.executemany(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "replay", t, t, '{"replay": {"starting_cash": 100000.0}}', "2020-02-03",
             "2020-02-05", '{"total_pnl": 130.0}'),
            (2, "paper", t, None, "{}", None, None, None),
        ],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("r1-1", 1, "2020-02-03", t, "condor_entry", "open", "condor", "credit 2.35",
             '{"credit": 2.35}', condor, 1, -2.35, None),
            ("r1-2", 1, "2020-02-04", t, "condor_exit", "close", "condor", "target",
             "{}", condor, 1, 1.1, "r1-1"),
            ("r1-3", 1, "2020-02-05", t, "condor_entry", "skip", "condor", "one open",
             "{}", "[]", 0, None, None),
            ("r2-1", 2, "2020-02-05", t, "hedge_layer", "open", "hedge_layer", "layer",
             "{}", hedge, 2, 1.5, None),
        ],
    )  # fmt: skip
    conn.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("r1-1", 1, t, condor, 1, -2.35, -2.2, "filled", 1, -2.35, "", t),
            ("r1-2", 1, t, condor, 1, 1.1, None, "filled", 1, 1.0, "", t),
            ("r2-1", 2, t, hedge, 2, 1.5, 1.6, "submitted", 0, None, "", t),
        ],
    )
    conn.executemany(
        "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_fill_row(f"e{i}", "r1-1", 1, leg, leg.ratio) for i, leg in enumerate(CONDOR)]
        + [_fill_row("manual-1", "tws-9", 1, HEDGE[0], 1)],
    )
    c = CONDOR[1].contract
    conn.execute(
        "INSERT INTO settlements (run_id, time, local_symbol, symbol, trading_class, expiry,"
        " strike, right, multiplier, quantity, settlement_price, cash)"
        " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, -1, 3120.5, -2950.0)",
        (t, c.local_symbol, c.symbol, c.trading_class, c.expiry.isoformat(), c.strike, "P", 100),
    )
    conn.executemany(
        "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("r1-1", 1, "condor", "2020-02-03", "2020-02-04", 1, condor, -2.35, 1.0, 130.0,
             "target"),
            ("r2-1", 2, "hedge_layer", "2020-02-05", None, 2, hedge, 1.5, None, None, None),
        ],
    )  # fmt: skip
    conn.execute(
        "INSERT INTO marks VALUES (1, '2020-02-03', 'r1-1', -2.0, 35.0, 3.0, -0.1, -90.0, 12.0)"
    )
    conn.executemany(
        "INSERT INTO daily VALUES (1, ?, ?, ?, ?, ?, ?, 0.0, ?)",
        [
            ("2020-02-03", 100_035.0, 100_035.0, 0.0, 35.0, 35.0, 0.0),
            ("2020-02-04", 100_130.0, 100_130.0, 130.0, 0.0, 130.0, 0.0),
        ],
    )
    conn.commit()
    conn.close()


def _rows(path: Path, table: str, columns: str = "*") -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT {columns} FROM [{table}] ORDER BY rowid").fetchall()
    finally:
        conn.close()


def _columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
    finally:
        conn.close()


def _pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def _shape(path: Path) -> dict[str, object]:
    """Columns (name, type, not null, pk) and indexes (name, unique, columns) of every table."""
    conn = sqlite3.connect(path)
    try:
        out: dict[str, object] = {}
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = [(r[1], r[2], r[3], r[5]) for r in conn.execute(f"PRAGMA table_info([{table}])")]
            indexes = sorted(
                (r[1], r[2], tuple(c[2] for c in conn.execute(f"PRAGMA index_info([{r[1]}])")))
                for r in conn.execute(f"PRAGMA index_list([{table}])")
            )
            out[table] = (cols, indexes)
        return out
    finally:
        conn.close()


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    path = tmp_path / "v1.sqlite"
    make_v1_journal(path)
    return path


# --------------------------------------------------------------------------- versions


def test_schema_version_follows_the_migrations() -> None:
    assert SCHEMA_VERSION == len(schema.MIGRATIONS) + 1 == 4


def test_new_journal_records_its_version_in_meta_and_user_version(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    Journal.open(path).close()
    assert _pragma(path, "user_version") == SCHEMA_VERSION
    assert dict(_rows(path, "meta", "key, value"))["schema_version"] == str(SCHEMA_VERSION)


def test_journal_written_before_user_version_was_kept_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.commit()
    conn.close()
    Journal.open(path, read_only=True).close()
    assert _pragma(path, "user_version") == 0  # read-only: untouched
    Journal.open(path).close()
    assert _pragma(path, "user_version") == SCHEMA_VERSION


@pytest.mark.parametrize("where", ["meta", "user_version"])
def test_newer_journal_is_refused_with_one_line(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newer.sqlite"
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    if where == "meta":
        conn.execute("PRAGMA user_version = 0")
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    else:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(JournalError) as info:
            Journal.open(path, read_only=read_only)
        message = str(info.value)
        assert "\n" not in message
        assert f"schema version {SCHEMA_VERSION + 1} is newer" in message
    assert path.read_bytes() == before
    assert main(["journal", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "newer" in err


def test_user_version_disagreeing_with_meta_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.sqlite"
    Journal.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"damaged journal.*user_version 1"):
        Journal.open(path)


# --------------------------------------------------------------------------- migration 1 -> 2


def test_version_1_journal_migrates_and_keeps_every_row(v1: Path) -> None:
    before = {t: _rows(v1, t) for t in V1_TABLES}
    old_columns = {t: _columns(v1, t) for t in V1_TABLES}
    with Journal.open(v1) as j:
        assert j.journal_mode == "wal"
    assert _pragma(v1, "user_version") == SCHEMA_VERSION
    assert dict(_rows(v1, "meta", "key, value"))["schema_version"] == str(SCHEMA_VERSION)
    for table in V1_TABLES:
        kept = ", ".join(f"[{c}]" for c in old_columns[table])
        assert _rows(v1, table, kept) == before[table], table
    added = {
        "runs": ["account"],
        "orders": ["structure_id"],
        "settlements": ["structure_id"],
        "positions": ["parent_id", "tag"],
    }
    for table, columns in added.items():
        assert _columns(v1, table) == old_columns[table] + columns
    assert _rows(v1, "runs", "account") == [(None,), (None,)]
    assert _rows(v1, "positions", "parent_id, tag") == [(None, None), (None, None)]
    assert _rows(v1, "settlements", "structure_id") == [("",)]
    assert _rows(v1, "order_events") == []


def test_migrated_schema_equals_a_new_one(v1: Path, tmp_path: Path) -> None:
    Journal.open(v1).close()
    fresh = tmp_path / "fresh.sqlite"
    Journal.open(fresh).close()
    assert _shape(v1) == _shape(fresh)


def test_migrated_journal_is_usable(v1: Path) -> None:
    with Journal.open(v1, buffered=False) as j:
        assert [(r.id, r.mode, r.account) for r in j.runs()] == [
            (1, "replay", None),
            (2, "paper", None),
        ]
        assert j.get_decision("r1-1").decision.legs == CONDOR
        assert j.get_order("r2-1").state is OrderState.SUBMITTED
        assert j.live_orders([2])[0].order_ref == "r2-1"
        (hedge,) = j.positions(2, open_only=True)
        assert hedge.to_open_structure().legs == HEDGE
        assert [m.unrealized_pnl for m in j.marks(1)] == [35.0]
        summary = j.summary(1)
        assert summary.decisions == {"condor": 3}
        assert summary.fills == {"condor": 4, "other": 1}
        assert (summary.trades_closed, summary.total_pnl, summary.sessions) == (1, 130.0, 2)
        # exactly-once holds for rows written by version 1
        assert j.fill_exists("e0")
        assert j.record_fill(Fill("e0", "r1-1", CONDOR[0].contract, 1, 1.0, 1.0, NOW), 1) is False
        old = Settlement(CONDOR[1].contract, -1, 3120.5, -2950.0, NOW)
        assert j.record_settlement(old, 1) is False
        # and version 2 records go in
        run = j.start_run("paper", account="DU123")
        j.set_run_account(2, "DU123")
        entry = Decision("condor_entry", Action.OPEN, Structure.CONDOR, "in", {}, CONDOR, 1, -2.0)
        j.record_decision(f"r{run}-1", run, SESSION, NOW, entry)
        j.record_order_intent(
            OrderIntent(f"r{run}-1", f"r{run}-1", "s1", CONDOR, 1, -2.0, -1.9), run, NOW
        )
        j.transition_order(f"r{run}-1", run, OrderState.FILLED, NOW, filled_quantity=1)
        assert [e[1] for e in j.order_events(f"r{run}-1")] == [
            OrderState.INTENT,
            OrderState.FILLED,
        ]
        assert j.record_settlement(
            Settlement(CONDOR[1].contract, -1, 3120.5, -2950.0, NOW, "s1"), 1
        )
        assert j.run(2).account == "DU123"
        assert j.integrity_check() == "ok"
    shape = _shape(v1)
    Journal.open(v1).close()  # a second open migrates nothing
    assert _shape(v1) == shape


def test_failed_migration_is_rolled_back(v1: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_fail(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE runs ADD COLUMN account TEXT")
        db.execute("ALTER TABLE runs ADD COLUMN account TEXT")  # duplicate column: fails

    before = {t: _rows(v1, t) for t in V1_TABLES}
    columns = {t: _columns(v1, t) for t in V1_TABLES}
    monkeypatch.setattr(schema, "MIGRATIONS", (half_then_fail,))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    with pytest.raises(JournalError, match="from schema version 1 to 2 failed and was rolled back"):
        Journal.open(v1)
    assert dict(_rows(v1, "meta", "key, value"))["schema_version"] == "1"
    assert _pragma(v1, "user_version") == 0
    assert {t: _columns(v1, t) for t in V1_TABLES} == columns
    assert {t: _rows(v1, t) for t in V1_TABLES} == before
    monkeypatch.undo()
    Journal.open(v1).close()  # the real migration still applies afterwards
    assert _pragma(v1, "user_version") == SCHEMA_VERSION


def test_read_only_open_reads_a_version_1_journal_without_changing_it(v1: Path) -> None:
    before = v1.read_bytes()
    with Journal.open(v1, read_only=True) as j:
        assert j.run().id == 2 and j.run(1).account is None
        assert j.summary(1).condor_pnl == 130.0
        assert [o.structure_id for o in j.orders([1, 2])] == [None, None, None]
        assert [p.parent_id for p in j.positions(1)] == [None]
        assert j.settlements(1)[0].structure_id is None
        assert j.order_events("r1-1") == []
        assert [r.id for r in j.decisions(1)] == ["r1-1", "r1-2", "r1-3"]
        assert j.integrity_check() == "ok"
    assert v1.read_bytes() == before
    assert _pragma(v1, "user_version") == 0


# --------------------------------------------------------------------------- migration 2 -> 3


def make_v2_journal(path: Path) -> None:
    """A version-2 journal: the version-1 file brought to 2 by the 1 -> 2 step alone."""
    make_v1_journal(path)
    db = sqlite_utils.Database(path)
    schema._migrate_1_to_2(db)
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.execute("PRAGMA user_version = 2")
    db.conn.commit()
    db.close()


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    path = tmp_path / "v2.sqlite"
    make_v2_journal(path)
    return path


V2_TABLES = (*V1_TABLES, "order_events")


def test_version_2_journal_gains_market_daily_and_keeps_every_row(v2: Path, tmp_path: Path) -> None:
    assert "market_daily" not in _shape(v2)
    before = {t: _rows(v2, t) for t in V2_TABLES}
    Journal.open(v2).close()
    assert _pragma(v2, "user_version") == SCHEMA_VERSION
    assert dict(_rows(v2, "meta", "key, value"))["schema_version"] == str(SCHEMA_VERSION)
    before["daily"] = [(*row, 0.0) for row in before["daily"]]  # version 4's interest column
    assert {t: _rows(v2, t) for t in V2_TABLES} == before
    assert _columns(v2, "market_daily") == [
        "session", "vix", "vvix", "spx", "advancing", "declining", "vix_m1",
        "vix_m1_expiry", "vix_m2", "vix_m2_expiry", "source", "recorded_at",
    ]  # fmt: skip
    assert _rows(v2, "market_daily") == []
    fresh = tmp_path / "fresh3.sqlite"
    Journal.open(fresh).close()
    assert _shape(v2) == _shape(fresh)


def test_market_days_round_trip_and_never_lose_a_value(v2: Path) -> None:
    day = date(2026, 11, 20)
    with Journal.open(v2, buffered=False) as j:
        j.record_market_day(
            MarketDayRecord(day, vix=17.5, spx=5012.3, vix_m1=18.1,
                            vix_m1_expiry=date(2026, 12, 16), source="ib_bars"),
            NOW,
        )  # fmt: skip
        j.record_market_day(MarketDayRecord(day, advancing=1800, declining=1100, source="mark"))
        [row] = j.market_days(day, day)
        assert (row.vix, row.spx, row.vix_m1, row.advancing, row.declining) == (
            17.5, 5012.3, 18.1, 1800.0, 1100.0,
        )  # fmt: skip
        assert row.vix_m1_expiry == date(2026, 12, 16) and row.vix_m2_expiry is None
        assert math.isnan(row.vvix) and math.isnan(row.vix_m2)
        assert row.source == "mark" and row.recorded_at is not None
        assert j.market_days(date(2026, 11, 21), date(2026, 12, 31)) == []
        # a back-fill's rows go in together (one commit on an unbuffered journal)
        days = [date(2026, 11, d) for d in (23, 24, 25)]
        j.record_market_days([MarketDayRecord(d, vix=20.0 + d.day, source="ib_bars") for d in days])
        assert j.pending == 0
        assert [r.vix for r in j.market_days(days[0], days[-1])] == [43.0, 44.0, 45.0]
    with pytest.raises(ValueError, match="source"):
        MarketDayRecord(day, source="guess")


def test_read_only_open_of_a_version_2_journal_reads_no_market_days(v2: Path) -> None:
    before = v2.read_bytes()
    with Journal.open(v2, read_only=True) as j:
        assert j.market_days(date(2000, 1, 1), date(2030, 1, 1)) == []
        assert j.run().id == 2
    assert v2.read_bytes() == before


def test_failed_2_to_3_migration_is_rolled_back(v2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(db: sqlite_utils.Database) -> None:
        schema._migrate_2_to_3(db)
        db.execute("CREATE TABLE market_daily (x TEXT)")  # exists: fails after the table

    monkeypatch.setattr(schema, "MIGRATIONS", (schema._migrate_1_to_2, fail))
    with pytest.raises(JournalError, match="from schema version 2 to 4 failed"):
        Journal.open(v2)
    assert "market_daily" not in _shape(v2)
    assert _pragma(v2, "user_version") == 2
    monkeypatch.undo()
    Journal.open(v2).close()
    assert "market_daily" in _shape(v2)


# --------------------------------------------------------------------------- migration 3 -> 4


def make_v3_journal(path: Path) -> None:
    """A version-3 journal: the version-2 file brought to 3 by the 2 -> 3 step alone."""
    make_v2_journal(path)
    db = sqlite_utils.Database(path)
    schema._migrate_2_to_3(db)
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.execute("PRAGMA user_version = 3")
    db.conn.commit()
    db.close()


@pytest.fixture
def v3(tmp_path: Path) -> Path:
    path = tmp_path / "v3.sqlite"
    make_v3_journal(path)
    return path


def test_version_3_journal_gains_interest_and_keeps_every_row(v3: Path, tmp_path: Path) -> None:
    assert "interest" not in _shape(v3)
    before = {t: _rows(v3, t) for t in (*V2_TABLES, "market_daily")}
    assert before["daily"], "the fixture must have daily rows to migrate"
    Journal.open(v3).close()
    assert _pragma(v3, "user_version") == 4
    assert dict(_rows(v3, "meta", "key, value"))["schema_version"] == "4"
    before["daily"] = [(*row, 0.0) for row in before["daily"]]
    assert {t: _rows(v3, t) for t in before} == before
    assert _columns(v3, "interest") == [
        "run_id", "session", "time", "accrued_from", "days", "balance", "rate", "amount",
    ]  # fmt: skip
    fresh = tmp_path / "fresh4.sqlite"
    Journal.open(fresh).close()
    assert _shape(v3) == _shape(fresh)


def test_interest_is_journaled_once_and_carried_into_the_daily_rows(v3: Path) -> None:
    from daemon.brokers.interest import InterestCredit

    with Journal.open(v3) as j:
        run = j.start_run(mode="replay", config_json="{}")
        day1, day2 = date(2020, 2, 4), date(2020, 2, 7)
        c1 = InterestCredit(day1, NOW, SESSION, 1, 1_000_000.0, 0.0155, 42.47)
        c2 = InterestCredit(day2, NOW, day1, 3, 1_000_042.47, 0.0155, 127.4)
        assert j.record_interest(c1, run)
        assert not j.record_interest(c1, run)  # once per run and session
        j.record_daily(run, day1, cash=1.0, net_liquidation=1.0, open_condor_pnl=0.0,
                       open_hedge_pnl=0.0, drawdown=0.0)  # fmt: skip
        j.flush(force=True)
        assert j.record_interest(c2, run)
        j.record_daily(run, day2, cash=1.0, net_liquidation=1.0, open_condor_pnl=0.0,
                       open_hedge_pnl=0.0, drawdown=0.0)  # fmt: skip
        assert [d.interest for d in j.daily(run)] == [42.47, pytest.approx(169.87)]
        rows = j.interest(run)
        assert [(r.session, r.accrued_from, r.days, r.amount) for r in rows] == [
            (day1, SESSION, 1, 42.47), (day2, day1, 3, 127.4),
        ]  # fmt: skip
        assert j.summary(run).interest == pytest.approx(169.87)
    with Journal.open(v3) as j:  # a reopened journal keeps counting from the committed rows
        assert not j.record_interest(c2, run)
        assert j._interest_for(run) == pytest.approx(169.87)


def test_read_only_open_of_a_version_3_journal_reads_no_interest(v3: Path) -> None:
    before = v3.read_bytes()
    with Journal.open(v3, read_only=True) as j:
        assert j.interest(j.run().id) == [] and j.interest(1) == []
        daily = j.daily(1)  # the fixture's run with daily rows
        assert daily and all(d.interest == 0.0 for d in daily)
    assert v3.read_bytes() == before


def test_failed_3_to_4_migration_is_rolled_back(v3: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(db: sqlite_utils.Database) -> None:
        schema._migrate_3_to_4(db)
        db.execute("CREATE TABLE interest (x TEXT)")  # exists: fails after the table

    monkeypatch.setattr(
        schema, "MIGRATIONS", (schema._migrate_1_to_2, schema._migrate_2_to_3, fail)
    )
    with pytest.raises(JournalError, match="from schema version 3 to 4 failed"):
        Journal.open(v3)
    assert "interest" not in _shape(v3)
    assert "interest" not in _columns(v3, "daily")
    assert _pragma(v3, "user_version") == 3
    monkeypatch.undo()
    Journal.open(v3).close()
    assert "interest" in _shape(v3)


# --------------------------------------------------------------------------- integrity


def test_integrity_check_of_a_good_journal_is_ok(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "good.sqlite") as j:
        run = j.start_run("replay")
        j.record_decision(
            "r1-1", run, SESSION, NOW, Decision("r", Action.SKIP, Structure.CONDOR, "x", {})
        )
        assert j.pending == 1
        assert j.integrity_check() == "ok"
        assert j.pending == 0  # it commits what was pending first
    with pytest.raises(JournalError, match="closed"):
        j.integrity_check()


def test_integrity_check_names_the_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sqlite"
    with Journal.open(path) as j:
        run = j.start_run("replay")
        skip = Decision("r", Action.SKIP, Structure.CONDOR, "x", {})
        for i in range(3000):
            j.record_decision(f"r1-{i}", run, SESSION, NOW, skip)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    root = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'idx_decisions_run_id_session'"
    ).fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    offset = (root - 1) * page_size  # the index's root page: scribble over its cell pointers
    data[offset + 12 : offset + 200] = b"\x07" * 188
    path.write_bytes(bytes(data))
    with Journal.open(path, read_only=True) as j:
        problem = j.integrity_check()
    assert problem != "ok"
    assert "\n" not in problem and not problem.startswith("***")


def test_a_killed_run_is_marked_interrupted_by_the_next_one(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j.sqlite", buffered=False) as journal:
        killed = journal.start_run("paper")
        done = journal.start_run("paper")
        journal.finish_run(done, {"ok": True})
        current = journal.start_run("paper")
        assert journal.finish_interrupted_runs(current) == [killed]
        runs = {r.id: r for r in journal.runs()}
    assert runs[killed].finished_at is not None and runs[killed].summary is not None
    assert runs[killed].summary["interrupted"] is True
    assert runs[done].summary == {"ok": True}
    assert runs[current].finished_at is None
