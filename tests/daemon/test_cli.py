"""Tests for the ``alvh`` command line (daemon.cli.main), in process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.logs import bind_clock, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ALVH_* overrides from the environment; logging reset after each test.

    ``alvh replay`` points logging at its log file and closes it on the way out,
    so later tests in this process must not inherit that configuration.
    """
    for name in list(os.environ):
        if name.upper().startswith("ALVH_"):
            monkeypatch.delenv(name)
    yield
    bind_clock(None)
    configure_logging("info", "json", io.StringIO())


def _replay_args(tmp_path: Path, start: str, end: str, *extra: str) -> list[str]:
    return [
        "replay",
        "--start",
        start,
        "--end",
        end,
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--log-file",
        str(tmp_path / "events.log"),
        "--no-progress",
        *extra,
    ]


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short successful replay shared by the journal tests: (journal path, stdout)."""
    tmp = tmp_path_factory.mktemp("cli_replay")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(_replay_args(tmp, "2019-03-01", "2019-03-29"))
    bind_clock(None)
    configure_logging("info", "json", io.StringIO())
    assert rc == 0
    return tmp / "j.sqlite", out.getvalue()


def test_replay_outside_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_replay_args(tmp_path, "1980-01-02", "1980-03-31"))
    assert rc == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert line.startswith("alvh replay: ")
    assert "1980-01-02" in line
    assert "1990-01-02" in line  # where the data starts
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not (tmp_path / "j.sqlite").exists()


def test_replay_after_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_replay_args(tmp_path, "2090-01-03", "2090-02-01"))
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "2090-02-01" in line


def test_broken_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[condor]\nshort_delta = 0.9\n", encoding="utf-8")
    rc = main(_replay_args(tmp_path, "2019-03-01", "2019-03-29", "--config", str(config)))
    assert rc == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert "condor.short_delta" in line
    assert "0.9" in line
    assert str(config) in line
    assert captured.out == ""
    assert not (tmp_path / "j.sqlite").exists()


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.toml"
    rc = main(_replay_args(tmp_path, "2019-03-01", "2019-03-29", "--config", str(missing)))
    assert rc == 2
    assert "file not found" in _one_line(capsys.readouterr().err)


def test_end_before_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(_replay_args(tmp_path, "2019-03-29", "2019-03-01"))
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "2019-03-01" in line and "2019-03-29" in line
    assert "before" in line
    assert not (tmp_path / "j.sqlite").exists()


def test_bad_date_is_an_argparse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(_replay_args(tmp_path, "2019-13-01", "2019-03-29"))
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_successful_replay(replayed: tuple[Path, str]) -> None:
    journal, out = replayed
    assert journal.exists()
    assert "replayed 21 sessions, run 1" in out
    assert str(journal) in out
    assert "event log:" in out
    assert "P&L total" in out
    assert "net liquidation 1,000,000.00 ->" in out
    with sqlite3.connect(journal) as db:
        (decisions,) = db.execute("SELECT COUNT(*) FROM decisions").fetchone()
        (daily,) = db.execute("SELECT COUNT(*) FROM daily").fetchone()
    assert decisions > 0
    assert daily == 21
    log = journal.parent / "events.log"
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    names = {e["event"] for e in events}
    assert {"decision", "mark"} <= names
    marks = [e for e in events if e["event"] == "mark"]
    assert len(marks) == 21
    assert all(e["sim_time"].startswith(e["session"]) for e in marks)


def test_journal_json(replayed: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    journal, _ = replayed
    assert main(["journal", str(journal), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(_one_line(out))
    for key in (
        "trades_closed",
        "wins",
        "win_rate",
        "total_pnl",
        "realized_pnl",
        "unrealized_pnl",
        "condor_pnl",
        "hedge_pnl",
        "interest",
        "commissions",
        "decisions",
        "orders",
        "fills",
        "max_drawdown",
    ):
        assert key in data
    assert data["run_id"] == 1
    assert data["mode"] == "replay"
    assert data["first_session"] == "2019-03-01"
    assert data["last_session"] == "2019-03-29"
    assert data["sessions"] == 21
    # each figure is rounded to cents, so a sum of three may be a cent or two off the total
    assert data["interest"] > 0  # a month on $1M at the 2019 T-bill rate (about 2.4%)
    assert data["total_pnl"] == pytest.approx(
        data["realized_pnl"] + data["unrealized_pnl"] + data["interest"], abs=0.021
    )
    assert data["total_pnl"] == pytest.approx(
        data["condor_pnl"] + data["hedge_pnl"] + data["interest"], abs=0.021
    )
    assert data["final_net_liquidation"] - data["starting_net_liquidation"] == pytest.approx(
        data["total_pnl"], abs=0.01
    )


def test_journal_text(replayed: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    journal, replay_out = replayed
    assert main(["journal", str(journal)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run 1 [replay]")
    assert "P&L total" in out
    # The replay printed the same summary lines (its start/finish stamps included).
    assert out.strip().splitlines()[1:] == replay_out.strip().splitlines()[-5:]


def test_journal_unknown_run(
    replayed: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    journal, _ = replayed
    assert main(["journal", str(journal), "--run", "99"]) == 2
    assert "99" in _one_line(capsys.readouterr().err)


def test_journal_on_a_non_journal_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100, encoding="utf-8")
    assert main(["journal", str(text)]) == 2
    captured = capsys.readouterr()
    assert str(text) in _one_line(captured.err)
    assert captured.out == ""

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE foo (x)")
    assert main(["journal", str(other), "--json"]) == 2
    assert "not an alvh journal" in _one_line(capsys.readouterr().err)


def test_journal_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", str(tmp_path / "missing.sqlite")]) == 2
    assert "no such journal file" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "missing.sqlite").exists()


def test_logging_usable_after_replay(tmp_path: Path) -> None:
    assert main(_replay_args(tmp_path, "2019-03-01", "2019-03-05")) == 0
    get_logger("after").info("still logging")
