"""``alvh calendar show|import`` through a parser built with ``add_parser``."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from daemon import calendar_cli

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calendars"
SHIPPED_CSV = Path(__file__).parents[2] / "daemon" / "calendars" / "data" / "macro_events.csv"


def alvh(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="alvh")
    sub = parser.add_subparsers(dest="command", required=True)
    calendar_cli.add_parser(sub)
    args = parser.parse_args(argv)
    assert args.command == "calendar"
    return calendar_cli.run(args)


def show_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert alvh(["calendar", "show", *argv, "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert isinstance(data, list)
    return data


KEYS = {
    "kind",
    "date",
    "time_et",
    "event",
    "datetime_et",
    "open",
    "close",
    "early_close",
    "scheduled",
    "grade",
    "source",
}


def test_show_2026_json_has_every_shipped_2026_row(capsys: pytest.CaptureFixture[str]) -> None:
    items = show_json(capsys, "--from", "2026-01-01", "--to", "2026-12-31")
    assert all(set(item) == KEYS for item in items)
    events = [i for i in items if i["kind"] == "event"]
    with SHIPPED_CSV.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["date"].startswith("2026")]
    assert {r["event"] for r in rows} == {"FOMC", "CPI", "PPI"}
    expected = sorted(
        (
            r["date"],
            r["time_et"] or None,
            r["event"],
            r["scheduled"] == "true",
            r["grade"],
            r["source"],
        )
        for r in rows
    )
    got = sorted(
        (e["date"], e["time_et"], e["event"], e["scheduled"], e["grade"], e["source"])
        for e in events
    )
    assert got == expected
    assert sum(1 for e in events if e["event"] == "FOMC") == 8
    # items are ordered by date, the session first, then events by time
    keys = [(i["date"], i["kind"] == "event", i["time_et"] or "") for i in items]
    assert keys == sorted(keys)


def test_show_marks_sessions_holidays_and_early_closes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = show_json(capsys, "--from", "2026-11-25", "--to", "2026-11-30")
    by_date = {(i["date"], i["kind"]): i for i in items}
    assert by_date[("2026-11-25", "session")]["close"] == "16:00"
    assert by_date[("2026-11-25", "session")]["early_close"] is False
    assert by_date[("2026-11-26", "holiday")]["event"] == "holiday"  # Thanksgiving
    friday = by_date[("2026-11-27", "session")]
    assert (friday["open"], friday["close"], friday["early_close"], friday["event"]) == (
        "09:30",
        "13:00",
        True,
        "early_close",
    )
    assert friday["datetime_et"] == "2026-11-27T09:30:00-05:00"
    # weekends are simply absent
    assert not any(i["date"] in ("2026-11-28", "2026-11-29") for i in items)
    assert ("2026-11-30", "session") in by_date


def test_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert alvh(["calendar", "show", "--from", "2026-03-17", "--to", "2026-03-18"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2026-03-17 Tue  session 09:30-16:00 ET"
    assert lines[1] == "2026-03-18 Wed  session 09:30-16:00 ET"
    assert lines[2].startswith("2026-03-18 Wed  event   08:30 ET     PPI   grade C  scheduled")
    assert lines[3].startswith("2026-03-18 Wed  event   14:00 ET     FOMC  grade A  scheduled")
    assert lines[-1].startswith("2 events from daemon/calendars/data/macro_events.csv")
    assert alvh(["calendar", "show", "--from", "2026-11-26", "--to", "2026-11-27"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-26 Thu  closed (exchange holiday)" in out
    assert "2026-11-27 Fri  session 09:30-13:00 ET  EARLY CLOSE" in out


def test_show_unscheduled_event_with_unknown_time(capsys: pytest.CaptureFixture[str]) -> None:
    items = show_json(capsys, "--from", "2008-01-22", "--to", "2008-01-22", "--events-only")
    assert items == [
        {
            "kind": "event",
            "date": "2008-01-22",
            "time_et": None,
            "event": "FOMC",
            "datetime_et": None,
            "open": None,
            "close": None,
            "early_close": None,
            "scheduled": False,
            "grade": "A",
            "source": "MARGARET2931;RLEYDEV_LLM",
        }
    ]


def test_show_across_dst_keeps_wall_times(capsys: pytest.CaptureFixture[str]) -> None:
    items = show_json(capsys, "--from", "2024-01-01", "--to", "2024-12-31", "--events-only")
    cpi = {i["date"]: i for i in items if i["event"] == "CPI"}
    assert cpi["2024-01-11"]["datetime_et"] == "2024-01-11T08:30:00-05:00"
    assert cpi["2024-07-11"]["datetime_et"] == "2024-07-11T08:30:00-04:00"
    assert {i["time_et"] for i in cpi.values()} == {"08:30"}


def test_show_beyond_the_exchange_calendar_notes_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert alvh(["calendar", "show", "--from", "2027-12-01", "--to", "2099-12-31", "--json"]) == 0
    captured = capsys.readouterr()
    items = json.loads(captured.out)
    assert any(i["date"] == "2027-12-08" and i["event"] == "FOMC" for i in items)
    assert "sessions are known only for" in captured.err


def test_show_with_user_calendar_and_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "alvh.toml"
    config.write_text("[logging]\nlevel = 'info'\n")
    items = show_json(
        capsys,
        "--from",
        "2026-07-15",
        "--to",
        "2026-07-15",
        "--events-only",
        "--config",
        str(config),
        "--user-calendar",
        str(FIXTURES / "user_events.csv"),
    )
    assert [(i["event"], i["time_et"], i["grade"]) for i in items] == [("PPI", "10:00", "user")]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--to 2026-01-01 is before --from"),
        (
            ["--from", "2026-01-01", "--to", "2026-01-31", "--user-calendar", "BAD"],
            "bad_time.csv:3: time_et",
        ),
        (["--from", "2026-01-01", "--to", "2026-01-31", "--config", "CONFIG"], "bad config"),
    ],
)
def test_show_errors_are_one_line_exit_2(
    argv: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[condor]\nshort_delta = 0.9\n")
    argv = [
        str(FIXTURES / "bad_time.csv") if a == "BAD" else str(config) if a == "CONFIG" else a
        for a in argv
    ]
    assert alvh(["calendar", "show", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err
    assert err.startswith("alvh calendar show: ")
    assert fragment in err


def test_import_then_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "events.csv"
    assert alvh(["calendar", "import", str(FIXTURES / "releases.ics"), "--into", str(target)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"imported 6 events from {FIXTURES / 'releases.ics'} into {target}")
    assert "6 added, 0 updated, 0 unchanged" in out
    assert target.exists()
    items = show_json(
        capsys,
        "--from",
        "2026-02-06",
        "--to",
        "2026-02-06",
        "--events-only",
        "--user-calendar",
        str(target),
    )
    assert [(i["event"], i["time_et"], i["source"]) for i in items] == [
        ("Employment Situation for January 2026", "08:30", "ics:releases.ics")
    ]
    # only-known on a second run: the known ones are unchanged, nothing added
    assert (
        alvh(
            [
                "calendar",
                "import",
                str(FIXTURES / "releases.ics"),
                "--into",
                str(target),
                "--only-known",
            ]
        )
        == 0
    )
    assert "0 added, 0 updated, 4 unchanged" in capsys.readouterr().out


def test_import_errors_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert alvh(["calendar", "import", str(FIXTURES / "releases.ics")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "alvh calendar import: no user calendar to write: "
        "pass --into FILE.csv or set [events] user_calendar"
    )
    bad = FIXTURES / "bad_content_line.ics"
    target = tmp_path / "x.csv"
    assert alvh(["calendar", "import", str(bad), "--into", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"alvh calendar import: {bad}:8: invalid iCalendar content")
    assert "\n" not in err
    assert not target.exists()
