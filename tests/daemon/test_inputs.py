"""Malformed input of each kind gives one line naming the file (and line); files are private.

One test per failure the issue-12 campaign measured (calendars, chains, the
data bundle, journals, paths, exit statuses), plus the size/time-limited
reader, the 0600 journal and log files, the session-counting progress bar
and ``--version``.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from datetime import date
from pathlib import Path

import pytest

from daemon.boundedio import LimitedReadError, read_limited
from daemon.calendars.ics import IcsImportError, import_ics, write_user_events
from daemon.calendars.macro import CalendarFileError, MacroEvent, read_calendar_file
from daemon.chains import ChainFormatError, read_chain
from daemon.cli import main
from daemon.exits import ExitStatus
from daemon.journal import Journal, JournalError
from daemon.marketdata.files import FILE_SPECS, read_csv
from daemon.marketdata.loader import BUNDLE_DIR, MarketDataError

ROOT = Path(__file__).resolve().parents[2]
CHAIN = ROOT / "tests" / "fixtures" / "chains" / "SPX_2023-02-03.csv"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


# --------------------------------------------------------------------------- bounded reads


def test_read_limited_refuses_devices_fifos_and_large_files(tmp_path: Path) -> None:
    with pytest.raises(LimitedReadError, match="not a regular file"):
        read_limited("/dev/zero", 1 << 20)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(LimitedReadError, match="not a regular file"):
        read_limited(fifo, 1 << 20)  # no writer: must not block
    assert time.monotonic() - started < 1.0
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(LimitedReadError, match="file too large"):
        read_limited(big, 1024)
    with pytest.raises(LimitedReadError) as info:
        read_limited(tmp_path / "missing", 10)
    assert info.value.missing
    assert read_limited(big, 4096) == b"x" * 2048


# --------------------------------------------------------------------------- calendars


def test_user_calendar_dev_zero_is_refused() -> None:
    with pytest.raises(CalendarFileError, match="/dev/zero: not a regular file"):
        read_calendar_file(Path("/dev/zero"))


@pytest.mark.parametrize("name", ["A\x00B", "\u202eCPI", "x\u2066y", "bell\x07"])
def test_event_names_with_control_or_bidi_characters_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / "cal.csv"
    path.write_text(f'date,time_et,event\n2024-05-01,10:00,"{name}"\n', encoding="utf-8")
    with pytest.raises(CalendarFileError, match=r"cal.csv:2: event name contains the control"):
        read_calendar_file(path)


def _ics(tmp_path: Path, dtstart: str, summary: str = "CPI") -> Path:
    path = tmp_path / "x.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:a@b\r\n"
        f"SUMMARY:{summary}\r\n{dtstart}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("tzid", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime"])
def test_unknown_or_path_like_tzid_is_an_error(tmp_path: Path, tzid: str) -> None:
    path = _ics(tmp_path, f"DTSTART;TZID={tzid}:20250110T083000")
    with pytest.raises(IcsImportError, match=r"x\.ics:5: event 'CPI': .*TZID"):
        import_ics(path)


def test_truncated_ics_is_refused(tmp_path: Path) -> None:
    path = _ics(tmp_path, "DTSTART:20250110T133000Z")
    path.write_text(path.read_text(encoding="utf-8")[:-8], encoding="utf-8")  # "END:VCAL"
    with pytest.raises(IcsImportError, match=r"x\.ics:\d+: truncated iCalendar file"):
        import_ics(path)


def test_ics_summary_with_bidi_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IcsImportError, match="SUMMARY contains the control character U\\+202E"):
        import_ics(_ics(tmp_path, "DTSTART:20250110T133000Z", "\u202eCPI"))


def test_ics_import_is_linear(tmp_path: Path) -> None:
    """2,000 events took 18.8 s (a line search per event); now one pass indexes the UIDs."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:u{i}@x\r\nSUMMARY:Event {i}\r\n"
        f"DTSTART:2025{i % 12 + 1:02d}{i % 28 + 1:02d}T133000Z\r\nEND:VEVENT\r\n"
        for i in range(2000)
    )
    path = tmp_path / "big.ics"
    path.write_text(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\n{events}END:VCALENDAR\r\n")
    started = time.monotonic()
    assert len(import_ics(path)) == 2000
    assert time.monotonic() - started < 6.0  # about 1 s here; was 18.8 s


def test_import_into_a_symlink_writes_through_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.csv"
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    event = MacroEvent(date(2025, 1, 10), None, "My event", source="t")
    write_user_events(link, [event])
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "My event" in target.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- chains


def _chain_copy(tmp_path: Path, name: str, edit: object = None) -> Path:
    path = tmp_path / name
    text = CHAIN.read_text(encoding="utf-8")
    if callable(edit):
        text = edit(text)
    path.write_text(text, encoding="utf-8")
    return path


def test_impossible_date_in_the_chain_file_name(tmp_path: Path) -> None:
    path = _chain_copy(tmp_path, "SPX_2023-02-30.csv")
    with pytest.raises(ChainFormatError, match="2023-02-30 is not a calendar date"):
        read_chain(path)


def test_chain_field_over_128_kib(tmp_path: Path) -> None:
    path = _chain_copy(tmp_path, "SPX_2023-02-03.csv", lambda t: t + "x," + "y" * 140_000 + "\n")
    with pytest.raises(ChainFormatError, match="malformed CSV: field larger than field limit"):
        read_chain(path)


def test_all_nan_bids_are_an_error_not_zero_quotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def nan_bids(text: str) -> str:
        out = []
        for line in text.splitlines():
            cells = line.split(",")
            if len(cells) >= 22 and cells[1].startswith("SPX"):
                cells[4] = cells[15] = "nan"
            out.append(",".join(cells))
        return "\n".join(out) + "\n"

    path = _chain_copy(tmp_path, "SPX_2023-02-03.csv", nan_bids)
    with pytest.raises(ChainFormatError, match=r"no usable quote .*non-finite numbers"):
        read_chain(path)
    assert main(["model-check", str(path)]) == ExitStatus.USAGE
    assert "no usable quote" in _one_line(capsys)


def test_model_check_plot_into_a_missing_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["model-check", str(CHAIN), "--plot", str(tmp_path / "no" / "p.png")])
    assert code == ExitStatus.USAGE
    assert "does not exist" in _one_line(capsys)


# --------------------------------------------------------------------------- data bundle


@pytest.mark.parametrize("close", ["-1", "0", "1", "1e308"])
def test_implausible_spx_close_names_file_and_line(tmp_path: Path, close: str) -> None:
    path = tmp_path / "spx.csv"
    path.write_text(f"date,open,high,low,close\n2020-01-02,3200,3250,3190,{close}\n")
    with pytest.raises(MarketDataError, match=r"spx.csv: line 2: column close: .*outside"):
        read_csv(path, FILE_SPECS["spx"])


@pytest.mark.parametrize("value", ["0", "-3"])
def test_vix_at_or_below_zero_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "vix.csv"
    path.write_text(f"date,open,high,low,close\n2020-01-02,13,14,12,{value}\n")
    with pytest.raises(MarketDataError, match=r"vix.csv: line 2: column close"):
        read_csv(path, FILE_SPECS["vix"])


def test_non_utf8_bundle_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "skew.csv"
    path.write_bytes(b"date,close\n2020-01-02,120\n2020-01-03,\xff\xfe\n")
    with pytest.raises(MarketDataError, match=r"skew.csv: line 3: not UTF-8"):
        read_csv(path, FILE_SPECS["skew"])


def test_shipped_bundle_is_inside_every_range() -> None:
    for spec in FILE_SPECS.values():
        read_csv(BUNDLE_DIR / spec.filename, spec)


# --------------------------------------------------------------------------- journals and paths


def _seed(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run("replay", config_json="{}")
        journal.finish_run(run, {"total_pnl": 42683.60999999966})
    return path


def test_journal_and_log_files_are_created_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = _seed(tmp_path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        code = main(
            ["replay", "--start", "2020-03-02", "--end", "2020-03-03",
             "--journal", str(tmp_path / "r.sqlite"), "--no-progress"]
        )  # fmt: skip
    finally:
        os.umask(old)
    assert code == 0
    assert stat.S_IMODE((tmp_path / "r.sqlite").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "r.sqlite.log").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "r.sqlite.lock").stat().st_mode) == 0o600
    for side in ("r.sqlite-wal", "r.sqlite-shm"):  # SQLite copies the journal's mode
        if (tmp_path / side).exists():
            assert stat.S_IMODE((tmp_path / side).stat().st_mode) == 0o600


def test_foreign_and_damaged_journals_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    assert main(["journal", str(foreign)]) == ExitStatus.USAGE
    assert "not an alvh journal" in _one_line(capsys)

    bad = _seed(tmp_path)
    con = sqlite3.connect(bad)
    con.execute("UPDATE runs SET config_json = '[]', started_at = 'garbage'")
    con.commit()
    con.close()
    for argv in (["journal", str(bad), "--json"], ["status", "--journal", str(bad)]):
        code = main(argv)
        assert code in (ExitStatus.OK, ExitStatus.USAGE)
        if code:
            assert "damaged or was not written by alvh" in _one_line(capsys)


def test_run_and_replay_check_the_journal_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _seed(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[4096 : 2 * 4096] = bytes(4096)  # zero the second page
    path.write_bytes(bytes(raw))
    with pytest.raises(JournalError, match=r"damaged journal|not an alvh journal"):
        Journal.check_before_writing(path)
    code = main(
        ["replay", "--start", "2020-03-02", "--end", "2020-03-03", "--journal", str(path),
         "--no-progress"]
    )  # fmt: skip
    assert code == ExitStatus.USAGE
    assert "journal" in _one_line(capsys)


@pytest.mark.parametrize("flag", ["--journal", "--log-file"])
def test_paths_in_a_missing_directory_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    missing = tmp_path / "no" / "such"
    argv = ["replay", "--start", "2020-03-02", "--end", "2020-03-03", "--no-progress"]
    if flag == "--journal":
        argv += ["--journal", str(missing / "j.sqlite")]
    else:
        argv += ["--journal", str(tmp_path / "ok.sqlite"), "--log-file", str(missing / "x.log")]
    assert main(argv) == ExitStatus.USAGE
    assert "does not exist" in _one_line(capsys)


def test_summary_json_money_is_in_cents(tmp_path: Path) -> None:
    path = _seed(tmp_path)
    with Journal.open(path, read_only=True) as journal:
        assert journal.run().summary == {"total_pnl": 42683.60999999966}  # a plain mapping is kept
    from daemon.analytics import JournalSummary

    summary = JournalSummary(
        run_id=1, mode="replay", started_at="x", finished_at=None, replay_start=None,
        replay_end=None, sessions=0, first_session=None, last_session=None,
        total_pnl=42683.60999999966, max_drawdown_pct=1.23456789,
    )  # fmt: skip
    as_json = summary.as_json()
    assert as_json["total_pnl"] == 42683.61 and as_json["max_drawdown_pct"] == 1.234568
    with Journal.open(path) as journal:
        run = journal.start_run("replay", config_json="{}")
        journal.finish_run(run, summary)
        assert journal.run(run).summary["total_pnl"] == 42683.61


# --------------------------------------------------------------------------- command line


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("alvh ")


def test_progress_bar_counts_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon import cli

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    progress = cli._Progress(date(2024, 3, 25), date(2024, 4, 5), enabled=True)
    try:
        assert progress._bar is not None
        assert progress._bar.total == 9  # 10 weekdays, Good Friday 2024-03-29 closed
        assert progress._bar.unit == "session"
        progress.update(date(2024, 3, 25))
        progress.update(date(2024, 3, 26))
        assert progress._bar.n == 2
    finally:
        progress.close()
