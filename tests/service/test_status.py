"""Tests for ``alvh status`` (daemon.status) against a replay journal and a hand-built one."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from daemon import status
from daemon.clock import NEW_YORK
from daemon.config import load_config
from daemon.journal import Journal
from daemon.logs import bind_clock, configure_logging, get_logger
from daemon.replay import run_replay
from strategies.domain import Action, Decision, Leg, OptionContract, Right, Structure
from strategies.positions import OpenStructure

DOCUMENTED_KEYS = {
    "journal",
    "generated_at",
    "context",
    "run",
    "replay",
    "last_watchdog_beat",
    "as_of",
    "last_mark_session",
    "positions",
    "greeks",
    "pnl",
    "decisions",
    "schedule_source",
    "next_jobs",
    "macro_events",
    "entry_block",
    "notes",
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield
    bind_clock(None)
    configure_logging("info", "json", io.StringIO())


@pytest.fixture(scope="module")
def replay_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal written by a real replay of March 4-29 2019 (a condor open at the end)."""
    path = tmp_path_factory.mktemp("status") / "replay.sqlite"
    configure_logging("warning", "json", io.StringIO())
    result = asyncio.run(
        run_replay(load_config(None), date(2019, 3, 4), date(2019, 3, 29), path, get_logger("t"))
    )
    assert result.sessions == 20
    bind_clock(None)
    return path


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alvh")
    sub = parser.add_subparsers(dest="command", required=True)
    status.add_parser(sub)
    return parser.parse_args(["status", *argv])


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = _cli(*argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def _ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK)  # type: ignore[misc]


# --------------------------------------------------------------------------- replay journal


def test_replay_report_matches_journal(replay_journal: Path) -> None:
    now = _ny(2019, 3, 29, 17, 0)
    with Journal.open(replay_journal, read_only=True) as journal:
        report = status.collect_status(journal, now=now)
        run_id = journal.run().id
        open_positions = journal.positions(run_id, open_only=True)
        closed = [p for p in journal.positions(run_id) if not p.is_open]
        all_decisions = journal.decisions(run_id)
        last_marks = {p.id: journal.marks(run_id, p.id)[-1] for p in open_positions}

    assert set(report) == DOCUMENTED_KEYS
    assert report["run"]["id"] == run_id and report["run"]["mode"] == "replay"
    assert report["as_of"] == "2019-03-29" == report["last_mark_session"]

    # positions: the journal's open positions, in opening order, with their latest mark
    assert [p["id"] for p in report["positions"]] == [p.id for p in open_positions]
    assert {p["structure"] for p in report["positions"]} == {"condor", "hedge_layer"}
    for p in report["positions"]:
        assert p["mark"]["session"] == "2019-03-29"
        assert p["mark"]["vega"] == pytest.approx(last_marks[p["id"]].vega)
        if p["structure"] == "condor":
            s = p["strikes"]
            assert s["long_put"] < s["short_put"] < s["short_call"] < s["long_call"]
            assert p["open_price"] < 0  # a credit
            assert 0 < p["dte"] <= 21
        else:
            assert p["strikes"] is None
            assert p["legs"][0]["symbol"] == "VIX" and p["legs"][0]["right"] == "C"
            assert p["dte"] >= 7

    # greeks: sums of the latest marks, by structure and total
    g = report["greeks"]
    for greek in ("delta", "gamma", "vega", "theta", "unrealized_pnl"):
        by_kind = {
            kind: sum(
                getattr(last_marks[p.id], greek)
                for p in open_positions
                if p.structure.value == kind
            )
            for kind in ("condor", "hedge_layer")
        }
        assert g["condor"][greek] == pytest.approx(by_kind["condor"])
        assert g["hedge_layer"][greek] == pytest.approx(by_kind["hedge_layer"])
        assert g["total"][greek] == pytest.approx(sum(by_kind.values()))
    assert g["condor"]["vega"] < 0 < g["hedge_layer"]["vega"]  # short vega, hedged
    assert g["total"]["positions"] == g["total"]["marked"] == len(open_positions)

    # P&L: realized from closed positions, unrealized from marks
    realized = sum(p.realized_pnl or 0.0 for p in closed)
    # the report rounds to cents: up to half a cent off, plus float noise
    assert report["pnl"]["realized"] == pytest.approx(realized, abs=0.0051)
    assert report["pnl"]["unrealized"] == pytest.approx(g["total"]["unrealized_pnl"], abs=0.0051)
    unrealized = g["total"]["unrealized_pnl"]
    assert report["pnl"]["total"] == pytest.approx(realized + unrealized, abs=0.01)
    assert report["pnl"]["daily_session"] == "2019-03-29"

    # decisions: the last ten, newest first
    assert [d["id"] for d in report["decisions"]] == [r.id for r in all_decisions[-10:]][::-1]
    assert all(d["reason"] for d in report["decisions"])

    # next jobs from Friday 17:00: Monday 2019-04-01, run config's times
    assert report["schedule_source"] == "run config"
    daily = [j for j in report["next_jobs"] if j["kind"] == "daily"]
    assert [(j["job"], j["fire_time"]) for j in daily] == [
        ("entry", "2019-04-01T15:30:00-04:00"),
        ("hedge_check", "2019-04-01T15:40:00-04:00"),
        ("manage", "2019-04-01T15:45:00-04:00"),
        ("mark", "2019-04-01T16:15:00-04:00"),
    ]


def test_replay_text_report(replay_journal: Path) -> None:
    with Journal.open(replay_journal, read_only=True) as journal:
        report = status.collect_status(journal, now=_ny(2019, 3, 29, 17, 0), decisions=3)
    text = status.render_status(report)
    condor = next(p for p in report["positions"] if p["structure"] == "condor")
    s = condor["strikes"]
    assert f"puts {s['long_put']:g}/{s['short_put']:g}" in text
    assert f"calls {s['short_call']:g}/{s['long_call']:g}" in text
    assert f"SPXW {condor['expiry']} ({condor['dte']} DTE)" in text
    assert "Last 3 decisions (newest first)" in text
    for d in report["decisions"]:
        assert d["reason"] in text
    assert "entry                    Mon 2019-04-01 15:30 EDT" in text
    assert "Net greeks of the latest marks" in text
    assert "total (2/2)" in text


def test_cli_json_and_read_only(replay_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = hashlib.sha256(replay_journal.read_bytes()).hexdigest()
    code, out, err = _run(capsys, "--journal", str(replay_journal), "--json", "--decisions", "4")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert out.count("\n") == 1  # one JSON object on one line
    assert set(report) == DOCUMENTED_KEYS
    assert len(report["decisions"]) == 4
    assert [j["job"] for j in report["next_jobs"] if j["kind"] == "daily"] == [
        "entry",
        "hedge_check",
        "manage",
        "mark",
    ]
    assert hashlib.sha256(replay_journal.read_bytes()).hexdigest() == before
    wal = Path(f"{replay_journal}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # a reader leaves at most an empty WAL


def test_cli_text(replay_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--journal", str(replay_journal), "--run", "1")
    assert code == 0 and err == ""
    assert out.startswith(f"alvh status: {replay_journal} run 1 [replay]")
    assert "Open positions (2)" in out
    assert "Next jobs (America/New_York" in out
    # a replay journal is reported in its own context, not today's
    assert "after the replay's end 2019-03-29)" in out
    assert "entry                    Mon 2019-04-01 15:30 EDT" in out
    assert "Condor entry at the replay's end:" in out
    assert "sessions replayed, last 2019-03-29" in out  # the replay's own range and progress


# --------------------------------------------------------------------------- schedule


def test_next_jobs_skip_holidays_and_flag_early_close() -> None:
    schedule = load_config(None).schedule
    # Thursday before Good Friday 2019 (no session on 2019-04-19), after the close
    fires = status.next_job_fires(schedule, _ny(2019, 4, 18, 17, 0))
    assert {f["session"] for f in fires} == {"2019-04-22"}
    # Wednesday before Thanksgiving 2019: Thursday closed, Friday closes at 13:00
    fires = status.next_job_fires(schedule, _ny(2019, 11, 27, 17, 0))
    assert {f["session"] for f in fires} == {"2019-11-29"}
    assert all(f["early_close"] for f in fires)
    # between jobs on a session: the entry has fired, the others not yet
    fires = status.next_job_fires(schedule, _ny(2019, 3, 12, 15, 35))
    assert [(f["job"], f["session"]) for f in fires] == [
        ("hedge_check", "2019-03-12"),
        ("manage", "2019-03-12"),
        ("mark", "2019-03-12"),
        ("entry", "2019-03-13"),
    ]
    # exactly at a fire time: that fire is past
    fires = status.next_job_fires(schedule, _ny(2019, 3, 12, 15, 30))
    assert fires[-1]["job"] == "entry" and fires[-1]["session"] == "2019-03-13"


def test_next_jobs_beyond_calendar_leave_a_note() -> None:
    notes: list[str] = []
    fires = status.next_job_fires(load_config(None).schedule, _ny(2200, 1, 1, 12, 0), notes=notes)
    assert fires == []
    assert len(notes) == 4 and "no fire within" in notes[0]


def test_config_file_schedule(
    replay_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "alvh.toml"
    cfg.write_text('[schedule]\nentry_time = "10:05"\n')
    code, out, _ = _run(capsys, "--journal", str(replay_journal), "--config", str(cfg), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["schedule_source"] == "config file"
    entry = next(j for j in report["next_jobs"] if j["job"] == "entry")
    assert datetime.fromisoformat(entry["fire_time"]).strftime("%H:%M") == "10:05"


def test_default_journal_from_environment(
    replay_journal: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(replay_journal))
    code, out, _ = _run(capsys, "--json")
    assert code == 0
    assert json.loads(out)["journal"] == str(replay_journal)


# --------------------------------------------------------------------------- hand-built journal


def _spxw(strike: float, right: Right) -> OptionContract:
    return OptionContract("SPX", "SPXW", date(2024, 3, 28), strike, right)


CONDOR_LEGS = (
    Leg(_spxw(4900, Right.PUT), 1),
    Leg(_spxw(4950, Right.PUT), -1),
    Leg(_spxw(5300, Right.CALL), -1),
    Leg(_spxw(5350, Right.CALL), 1),
)
HEDGE_LEGS = (Leg(OptionContract("VIX", "VIX", date(2024, 5, 22), 16.0, Right.CALL), 1),)


def _decision(rule: str, action: Action, structure: Structure, reason: str) -> Decision:
    return Decision(rule, action, structure, reason, {"vix": 14.3})


@pytest.fixture
def paper_journal(tmp_path: Path) -> Path:
    """A paper run: an open condor, two hedge layers (one closed), marks on two sessions."""
    path = tmp_path / "paper.sqlite"
    with Journal.open(path) as j:
        run_id = j.start_run("paper", config_json=json.dumps({"schedule": {"entry_time": "14:00"}}))
        t = _ny(2024, 3, 14, 15, 30)
        reasons = [f"reason number {i}" for i in range(1, 13)]
        for i, reason in enumerate(reasons, start=1):
            j.record_decision(
                f"r{run_id}-{i}",
                run_id,
                date(2024, 3, 14),
                t,
                _decision("condor_entry", Action.SKIP, Structure.CONDOR, reason),
            )
        j.open_position(
            run_id,
            OpenStructure("c1", Structure.CONDOR, CONDOR_LEGS, 2, -3.10, date(2024, 3, 14)),
        )
        j.open_position(
            run_id,
            OpenStructure("h1", Structure.HEDGE_LAYER, HEDGE_LEGS, 10, 1.20, date(2024, 3, 14)),
        )
        j.open_position(
            run_id,
            OpenStructure("h0", Structure.HEDGE_LAYER, HEDGE_LEGS, 5, 1.00, date(2024, 3, 1)),
        )
        j.close_position("h0", date(2024, 3, 13), 1.50, 245.0, "profit")
        for session, scale in ((date(2024, 3, 14), 1.0), (date(2024, 3, 15), 2.0)):
            j.record_mark(
                run_id, session, "c1", mark_price=-2.5, unrealized_pnl=120.0 * scale,
                delta=-10.0 * scale, gamma=-1.0, vega=-400.0 * scale, theta=90.0,
            )  # fmt: skip
            j.record_mark(
                run_id, session, "h1", mark_price=1.1, unrealized_pnl=-100.0 * scale,
                delta=300.0, gamma=40.0, vega=50.0 * scale, theta=-20.0,
            )  # fmt: skip
        j.record_daily(
            run_id, date(2024, 3, 15), cash=100_000.0, net_liquidation=100_265.0,
            open_condor_pnl=240.0, open_hedge_pnl=-200.0, drawdown=15.0,
        )  # fmt: skip
    return path


def test_hand_built_journal(paper_journal: Path) -> None:
    now = _ny(2024, 3, 18, 12, 0)  # Monday; FOMC statement Wednesday 2024-03-20 14:00
    with Journal.open(paper_journal, read_only=True) as journal:
        report = status.collect_status(journal, now=now, decisions=5)

    assert report["run"]["mode"] == "paper"
    assert report["as_of"] == "2024-03-18"  # today, for a paper run
    assert report["last_mark_session"] == "2024-03-15"
    assert [p["id"] for p in report["positions"]] == ["c1", "h1"]  # h0 is closed
    condor, hedge = report["positions"]
    assert condor["strikes"] == {
        "long_put": 4900.0,
        "short_put": 4950.0,
        "short_call": 5300.0,
        "long_call": 5350.0,
    }
    assert condor["expiry"] == "2024-03-28" and condor["dte"] == 10
    assert condor["mark"]["session"] == "2024-03-15"  # the latest of two marks
    assert hedge["legs"][0]["local_symbol"] == "VIX 2024-05-22 C 16"
    assert hedge["dte"] == 65

    g = report["greeks"]
    assert g["condor"] == {
        "positions": 1,
        "marked": 1,
        "delta": -20.0,
        "gamma": -1.0,
        "vega": -800.0,
        "theta": 90.0,
        "unrealized_pnl": 240.0,
    }
    assert g["hedge_layer"]["vega"] == 100.0 and g["hedge_layer"]["positions"] == 1
    assert g["total"]["vega"] == -700.0 and g["total"]["theta"] == 70.0
    assert g["total"]["unrealized_pnl"] == 40.0

    pnl = report["pnl"]
    assert pnl["realized"] == 245.0
    assert pnl["realized_by_structure"] == {"condor": 0.0, "hedge_layer": 245.0}
    assert pnl["total"] == 285.0
    assert pnl["net_liquidation"] == 100_265.0 and pnl["drawdown"] == 15.0

    assert [d["reason"] for d in report["decisions"]] == [
        f"reason number {i}" for i in (12, 11, 10, 9, 8)
    ]

    assert report["schedule_source"] == "run config"
    entry = next(j for j in report["next_jobs"] if j["job"] == "entry")
    assert entry["fire_time"] == "2024-03-18T14:00:00-04:00"

    # macro: FOMC on Wednesday blocks entries 48 h before; its jobs are listed
    assert report["macro_events"] is not None
    first = report["macro_events"][0]
    assert (first["kind"], first["date"], first["time_et"]) == ("FOMC", "2024-03-20", "14:00")
    assert report["entry_block"] is None  # 50 h before the statement
    kinds = {j["kind"] for j in report["next_jobs"]}
    assert {"daily", "pre_event_hedge_check", "post_event_reevaluation"} <= kinds
    pre = next(
        j
        for j in report["next_jobs"]
        if j["kind"] == "pre_event_hedge_check" and j["event"].startswith("FOMC 2024-03-20")
    )
    assert pre["fire_time"] == "2024-03-20T13:30:00-04:00"
    times = [datetime.fromisoformat(j["fire_time"]) for j in report["next_jobs"]]
    assert times == sorted(times)

    # Tuesday 15:30, 46.5 h before: blocked
    with Journal.open(paper_journal, read_only=True) as journal:
        later = status.collect_status(journal, now=_ny(2024, 3, 18, 15, 30))
    assert later["entry_block"] is not None and "FOMC" in later["entry_block"]

    text = status.render_status(report)
    assert "condor      c1       x2   opened 2024-03-14" in text
    assert "SPXW 2024-03-28 (10 DTE)  puts 4900/4950  calls 5300/5350  credit 3.10" in text
    assert "+1 VIX 2024-05-22 C 16 (65 DTE)  debit 1.20" in text
    assert "FOMC 2024-03-20 14:00 ET (grade A)" in text
    assert "Condor entry now: allowed" in text
    assert "P&L realized +245.00 (condor +0.00, hedge +245.00)" in text

    line = status.status_line(report)
    assert line.startswith("run 1 paper: 1 condor, 1 hedge open; P&L +285.00; next entry Mon 14:00")


def test_empty_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    with Journal.open(path) as j:
        j.start_run("live", config_json="{}")
    with Journal.open(path, read_only=True) as journal:
        report = status.collect_status(journal, now=_ny(2024, 7, 3, 9, 0), macro=False)
    assert report["positions"] == [] and report["decisions"] == []
    assert report["greeks"]["total"]["positions"] == 0
    assert report["pnl"]["net_liquidation"] is None
    assert report["schedule_source"] == "defaults"
    assert report["macro_events"] is None
    # 2024-07-03 is an early close (13:00): the daily jobs are flagged
    assert all(j["early_close"] for j in report["next_jobs"])
    text = status.render_status(report)
    assert "Open positions (0)\n  none" in text
    assert "(early close)" in text


# --------------------------------------------------------------------------- errors


def test_missing_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--journal", str(tmp_path / "nope.sqlite"))
    assert code == status.EXIT_USAGE and out == ""
    assert err == f"alvh status: {tmp_path / 'nope.sqlite'}: no such journal file\n"


def test_foreign_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    code, out, err = _run(capsys, "--journal", str(foreign))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "not an alvh journal" in err


def test_not_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a database\n" * 10)
    code, _, err = _run(capsys, "--journal", str(text))
    assert code == 2 and err.startswith("alvh status: ") and err.count("\n") == 1


def test_no_runs_and_unknown_run(
    tmp_path: Path, paper_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "fresh.sqlite"
    Journal.open(empty).close()
    code, _, err = _run(capsys, "--journal", str(empty))
    assert code == 2 and "journal has no runs" in err
    code, _, err = _run(capsys, "--journal", str(paper_journal), "--run", "7")
    assert code == 2 and "no run 7" in err


def test_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[schedule]\nentry_time = 'noon'\n")
    code, _, err = _run(capsys, "--config", str(cfg))
    assert code == 2 and err.startswith("alvh status: bad config:") and err.count("\n") == 1


def test_decisions_argument_validated() -> None:
    with pytest.raises(SystemExit):
        _cli("--decisions", "-1")
    assert _cli("--decisions", "0").decisions == 0


def test_replay_block_gives_range_and_progress(replay_journal: Path) -> None:
    with Journal.open(replay_journal, read_only=True) as journal:
        report = status.collect_status(journal)
        run = journal.run()
        daily = journal.daily(run.id)
    replay = report["replay"]
    assert replay["start"] == report["run"]["replay_start"]
    assert replay["end"] == report["run"]["replay_end"]
    assert replay["sessions"] == len(daily)
    assert replay["first_session"] == daily[0].session.isoformat()
    assert replay["last_session"] == daily[-1].session.isoformat() == "2019-03-29"
    assert replay["finished"] is True
    assert report["context"]["source"] == "replay end"  # never the wall clock


def test_paper_run_has_no_replay_block(paper_journal: Path) -> None:
    with Journal.open(paper_journal, read_only=True) as journal:
        assert status.collect_status(journal, now=_ny(2024, 3, 18, 9, 0))["replay"] is None
