"""iCalendar import: summary mapping, time zones, malformed files, user-CSV writer."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from daemon.calendars.ics import (
    IcsImportError,
    classify_summary,
    import_ics,
    write_user_events,
)
from daemon.calendars.macro import CalendarFileError, MacroCalendar, MacroEvent

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calendars"


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        ("Consumer Price Index for October 2025", "CPI"),
        ("US CPI m/m", "CPI"),
        ("Producer Price Index for Final Demand", "PPI"),
        ("PPI", "PPI"),
        ("FOMC Meeting", "FOMC"),
        ("FOMC Statement", "FOMC"),
        ("Federal Open Market Committee statement", "FOMC"),
        ("Fed Interest Rate Decision", "FOMC"),
        ("Minutes of the Federal Open Market Committee", None),
        ("FOMC Minutes", None),
        ("Employment Situation", None),
        ("Import and Export Price Indexes", None),
        ("CPIX launch party", None),
    ],
)
def test_classify_summary(summary: str, kind: str | None) -> None:
    assert classify_summary(summary) == kind


def test_import_fixture_maps_kinds_and_converts_to_new_york() -> None:
    events = import_ics(FIXTURES / "releases.ics")
    by_date = {e.date: e for e in events}
    # six events: the cancelled one is skipped
    assert len(events) == 6
    assert date(2025, 10, 15) not in by_date
    # TZID=America/New_York kept as is
    cpi = by_date[date(2025, 12, 10)]
    assert (cpi.kind, cpi.time_et, cpi.grade, cpi.source) == (
        "CPI",
        time(8, 30),
        "user",
        "ics:releases.ics",
    )
    # 13:30 UTC in January is 08:30 EST; the folded SUMMARY is unfolded
    ppi_winter = by_date[date(2026, 1, 15)]
    assert (ppi_winter.kind, ppi_winter.time_et) == ("PPI", time(8, 30))
    # 12:30 UTC in August is 08:30 EDT
    ppi_summer = by_date[date(2025, 8, 14)]
    assert (ppi_summer.kind, ppi_summer.time_et) == ("PPI", time(8, 30))
    # all-day two-day FOMC meeting: statement on the last day, 14:00 ET assumed
    fomc = by_date[date(2026, 1, 28)]
    assert (fomc.kind, fomc.time_et) == ("FOMC", time(14, 0))
    assert "time assumed 14:00 ET" in fomc.source
    # minutes and other releases stay user events named after the summary
    minutes = by_date[date(2026, 2, 18)]
    assert minutes.kind == "Minutes of the Federal Open Market Committee"
    # a floating (zone-less) time is taken as New York time
    nfp = by_date[date(2026, 2, 6)]
    assert (nfp.kind, nfp.time_et) == ("Employment Situation for January 2026", time(8, 30))
    assert all(e.scheduled for e in events)


def test_only_known_drops_user_events() -> None:
    events = import_ics(FIXTURES / "releases.ics", only_known=True)
    assert sorted(e.kind for e in events) == ["CPI", "FOMC", "PPI", "PPI"]


@pytest.mark.parametrize(
    ("name", "line", "fragment"),
    [
        ("bad_content_line.ics", 8, "THIS LINE IS NOT ICALENDAR"),
        ("bad_dtstart.ics", 7, "DTSTART"),
        ("not_a_calendar.ics", 1, "not an iCalendar file"),
    ],
)
def test_malformed_ics_names_file_and_line(name: str, line: int, fragment: str) -> None:
    path = FIXTURES / name
    with pytest.raises(IcsImportError) as info:
        import_ics(path)
    assert info.value.file == str(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert fragment in str(info.value)


def test_missing_and_undecodable_ics(tmp_path: Path) -> None:
    with pytest.raises(IcsImportError, match=r"gone\.ics: file not found"):
        import_ics(tmp_path / "gone.ics")
    binary = tmp_path / "bin.ics"
    binary.write_bytes(b"BEGIN:VCALENDAR\r\nSUMMARY:\xff\r\n")
    with pytest.raises(IcsImportError, match=r"bin\.ics:2: not UTF-8"):
        import_ics(binary)


def _ics(body: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        + body.replace("\n", "\r\n")
        + "END:VCALENDAR\r\n"
    )


def test_event_without_dtstart_or_with_rrule_is_rejected(tmp_path: Path) -> None:
    no_start = tmp_path / "nostart.ics"
    no_start.write_text(_ics("BEGIN:VEVENT\nUID:u1\nSUMMARY:CPI\nEND:VEVENT\n"), newline="")
    with pytest.raises(IcsImportError, match=r"nostart\.ics:5: event 'CPI' has no DTSTART"):
        import_ics(no_start)
    recurring = tmp_path / "rrule.ics"
    recurring.write_text(
        _ics(
            "BEGIN:VEVENT\nUID:u2\nSUMMARY:PPI\nDTSTART:20260115T133000Z\n"
            "RRULE:FREQ=MONTHLY\nEND:VEVENT\n"
        ),
        newline="",
    )
    with pytest.raises(IcsImportError, match="recurs"):
        import_ics(recurring)


# --------------------------------------------------------------------------- writer


def test_write_creates_then_merges_and_calendar_reads_it(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "my_events.csv"
    events = import_ics(FIXTURES / "releases.ics")
    first = write_user_events(target, events)
    assert (first.added, first.updated, first.unchanged) == (6, 0, 0)
    text = target.read_text()
    assert text.startswith("date,time_et,event,scheduled,grade,source\n")
    # importing the same file again changes nothing
    again = write_user_events(target, events)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 6)
    assert target.read_text() == text
    cal = MacroCalendar.load(user_file=target)
    # an added event next to a shipped one on the same day
    assert [(e.kind, e.grade, e.source) for e in cal.events_on(date(2025, 12, 10))] == [
        ("CPI", "user", "ics:releases.ics"),
        ("FOMC", "A", "FED_PRESS_RELEASE;DRKAKIMAKI;YUKEPENN_C01"),
    ]
    # the imported FOMC replaced the shipped row of the same date and event
    assert [(e.kind, e.grade) for e in cal.events_on(date(2026, 1, 28))] == [("FOMC", "user")]


def test_write_updates_in_place_and_keeps_comments(tmp_path: Path) -> None:
    target = tmp_path / "user.csv"
    shutil.copy(FIXTURES / "user_events.csv", target)
    # user_events.csv has only 5 of the 6 columns filled in for some rows but all six headers
    moved = MacroEvent(date(2026, 7, 15), time(8, 30), "PPI", True, "user", "ics:x.ics")
    new = MacroEvent(date(2026, 8, 7), time(8, 30), "Employment Situation", True, "user", "me")
    summary = write_user_events(target, [moved, new])
    assert (summary.added, summary.updated, summary.unchanged) == (1, 1, 0)
    lines = target.read_text().splitlines()
    assert lines[0].startswith("# alvh user calendar")
    assert "2026-07-15,08:30,PPI,true,user,ics:x.ics" in lines
    assert not any(line.startswith("2026-07-15,10:00") for line in lines)
    assert lines[-1] == "2026-08-07,08:30,Employment Situation,true,user,me"
    cal = MacroCalendar.load(shipped=False, user_file=target)
    assert len(cal) == 4


def test_write_refuses_a_malformed_or_short_header_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    shutil.copy(FIXTURES / "bad_time.csv", bad)
    before = bad.read_text()
    event = MacroEvent(date(2026, 1, 2), time(8, 30), "CPI")
    with pytest.raises(CalendarFileError, match=r"bad\.csv:3: time_et"):
        write_user_events(bad, [event])
    assert bad.read_text() == before
    short = tmp_path / "short.csv"
    short.write_text("date,time_et,event\n2026-01-05,08:30,PPI\n")
    with pytest.raises(CalendarFileError, match="header must be exactly"):
        write_user_events(short, [event])
