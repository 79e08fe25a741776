"""The macro calendar: shipped data, user overrides, queries, DST, malformed files."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from daemon.calendars.macro import (
    CalendarFileError,
    MacroCalendar,
    MacroEvent,
    parse_calendar_csv,
    shipped_events,
)
from daemon.clock import NEW_YORK

FIXTURES = Path(__file__).parent.parent / "fixtures" / "calendars"
SHIPPED_CSV = Path(__file__).parents[2] / "daemon" / "calendars" / "data" / "macro_events.csv"


@pytest.fixture(scope="module")
def shipped() -> MacroCalendar:
    return MacroCalendar.load()


def _rows() -> list[dict[str, str]]:
    with SHIPPED_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- shipped data


def test_shipped_calendar_has_every_row_with_documented_counts(shipped: MacroCalendar) -> None:
    rows = _rows()
    assert len(shipped) == len(rows) == 687
    kinds = [e.kind for e in shipped]
    assert (kinds.count("FOMC"), kinds.count("CPI"), kinds.count("PPI")) == (185, 251, 251)
    assert shipped.first_date == date(2006, 1, 13)
    assert shipped.last_date is not None and shipped.last_date.year == 2027
    assert shipped.sources == ("daemon/calendars/data/macro_events.csv",)


def test_shipped_file_is_the_shared_dataset_verbatim() -> None:
    shared = Path("/work/shared/data/calendars/macro_events.csv")
    if not shared.exists():
        pytest.skip("shared data set not present on this machine")
    assert SHIPPED_CSV.read_bytes() == shared.read_bytes()


def test_fresh_year_2027_is_present(shipped: MacroCalendar) -> None:
    events = shipped.events_between(date(2027, 1, 1), date(2027, 12, 31))
    fomc = [e for e in events if e.kind == "FOMC"]
    assert len(fomc) == 8
    # the Fed's tentative 2027 schedule press release: one official source -> grade B
    assert all(e.time_et == time(14, 0) and e.scheduled and e.grade == "B" for e in fomc)
    assert all(e.source == "FED_PRESS_RELEASE" for e in fomc)
    assert {e.date for e in fomc} == {
        date.fromisoformat(r["date"])
        for r in _rows()
        if r["date"].startswith("2027") and r["event"] == "FOMC"
    }


def test_fomc_statement_times_follow_the_documented_history(shipped: MacroCalendar) -> None:
    scheduled = [e for e in shipped if e.kind == "FOMC" and e.scheduled]
    for e in scheduled:
        if e.date.year <= 2010:
            assert e.time_et == time(14, 15), e
        elif e.date.year == 2011:
            press_conference = e.date.month in (4, 6, 11)
            assert e.time_et == (time(12, 30) if press_conference else time(14, 15)), e
        elif e.date.year == 2012:
            assert e.time_et == time(12, 30), e
        else:
            assert e.time_et == time(14, 0), e
    releases = [e for e in shipped if e.kind in ("CPI", "PPI")]
    assert {e.time_et for e in releases} == {time(8, 30)}


def test_unscheduled_fomc_rows(shipped: MacroCalendar) -> None:
    unscheduled = {e.date: e for e in shipped if not e.scheduled}
    assert len(unscheduled) == 10
    assert all(e.kind == "FOMC" for e in unscheduled.values())
    assert unscheduled[date(2020, 3, 15)].time_et == time(17, 0)
    assert unscheduled[date(2020, 3, 3)].time_et == time(10, 0)
    blank = unscheduled[date(2008, 1, 22)]
    assert blank.time_et is None and blank.at is None
    assert blank.starts == datetime(2008, 1, 22, 0, 0, tzinfo=NEW_YORK)
    assert blank.ends == datetime(2008, 1, 23, 0, 0, tzinfo=NEW_YORK)
    assert "time unknown" in blank.label() and "unscheduled" in blank.label()


def test_shutdown_disruptions_are_in_the_data(shipped: MacroCalendar) -> None:
    oct_2025 = shipped.events_between(date(2025, 10, 1), date(2025, 11, 30))
    assert [e.date for e in oct_2025 if e.kind == "CPI"] == [date(2025, 10, 24)]
    assert date(2025, 11, 25) in {e.date for e in oct_2025 if e.kind == "PPI"}
    assert [e.kind for e in shipped.events_on(date(2026, 1, 14))] == ["PPI"]


def test_grades_are_kept(shipped: MacroCalendar) -> None:
    grades = [e.grade for e in shipped]
    assert set(grades) == {"A", "B", "C"}
    assert grades.count("C") == 136
    ppi = shipped.events_on(date(2026, 7, 15))[0]
    assert (ppi.kind, ppi.grade, ppi.source) == ("PPI", "C", "CODE_FIXTURE")


# --------------------------------------------------------------------------- queries


def test_events_on_an_fomc_day_with_ppi_the_same_morning(shipped: MacroCalendar) -> None:
    day = shipped.events_on(date(2026, 3, 18))
    assert [(e.kind, e.time_et) for e in day] == [("PPI", time(8, 30)), ("FOMC", time(14, 0))]
    assert shipped.events_on(date(2026, 3, 19)) == []


def test_events_between_is_inclusive_and_ordered(shipped: MacroCalendar) -> None:
    got = shipped.events_between(date(2024, 3, 12), date(2024, 3, 20))
    assert [(e.date, e.kind) for e in got] == [
        (date(2024, 3, 12), "CPI"),
        (date(2024, 3, 14), "PPI"),
        (date(2024, 3, 20), "FOMC"),
    ]
    assert shipped.events_between(date(2024, 3, 20), date(2024, 3, 12)) == []
    with pytest.raises(TypeError):
        shipped.events_between(datetime(2024, 3, 12, tzinfo=UTC), date(2024, 3, 20))


def test_next_events_on_a_cpi_morning(shipped: MacroCalendar) -> None:
    before = datetime(2024, 3, 12, 8, 29, tzinfo=NEW_YORK)
    after = datetime(2024, 3, 12, 8, 30, tzinfo=NEW_YORK)
    assert [e.kind for e in shipped.next_events(before, 3)] == ["CPI", "PPI", "FOMC"]
    # strictly after: at 08:30 the CPI has happened
    assert [e.kind for e in shipped.next_events(after, 2)] == ["PPI", "FOMC"]
    # any time zone is accepted; 12:29 UTC is 08:29 EDT
    assert shipped.next_events(datetime(2024, 3, 12, 12, 29, tzinfo=UTC), 1)[0].kind == "CPI"
    assert shipped.next_events(before, 0) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        shipped.next_events(datetime(2024, 3, 12, 8, 0), 1)
    with pytest.raises(ValueError):
        shipped.next_events(before, -1)


def test_next_events_with_unknown_time_counts_until_the_day_ends() -> None:
    cal = MacroCalendar.from_events(
        [MacroEvent(date(2008, 1, 22), None, "FOMC", scheduled=False, grade="A")]
    )
    assert cal.next_events(datetime(2008, 1, 22, 23, 59, tzinfo=NEW_YORK), 1)
    assert cal.next_events(datetime(2008, 1, 23, 0, 0, tzinfo=NEW_YORK), 1) == []


def test_event_datetimes_are_aware_new_york_and_keep_wall_time_across_dst(
    shipped: MacroCalendar,
) -> None:
    # CPI in winter (EST, UTC-5) and summer (EDT, UTC-4): both 08:30 ET.
    jan = shipped.events_on(date(2024, 1, 11))[0]
    jul = shipped.events_on(date(2024, 7, 11))[0]
    assert jan.kind == jul.kind == "CPI"
    assert jan.at is not None and jul.at is not None
    assert jan.at.tzinfo is NEW_YORK
    assert jan.at.astimezone(UTC).time() == time(13, 30)
    assert jul.at.astimezone(UTC).time() == time(12, 30)
    # the weeks of both 2024 DST switches (Mar 10, Nov 3)
    spring = shipped.events_on(date(2024, 3, 12))[0]
    assert spring.at is not None and spring.at.utcoffset() is not None
    assert spring.at.astimezone(UTC) == datetime(2024, 3, 12, 12, 30, tzinfo=UTC)
    autumn = shipped.events_on(date(2024, 11, 7))
    assert [e.kind for e in autumn] == ["FOMC"]
    fomc_at = autumn[0].at
    assert fomc_at is not None
    assert fomc_at.astimezone(UTC) == datetime(2024, 11, 7, 19, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- user file


def test_user_file_adds_and_overrides(shipped: MacroCalendar) -> None:
    cal = MacroCalendar.load(user_file=FIXTURES / "user_events.csv")
    assert len(cal) == len(shipped) + 2  # one override, two additions
    ppi = cal.events_on(date(2026, 7, 15))
    assert len(ppi) == 1
    assert (ppi[0].kind, ppi[0].time_et, ppi[0].grade, ppi[0].source) == (
        "PPI",
        time(10, 0),
        "user",
        "BLS release page",
    )
    nfp = cal.events_on(date(2026, 5, 8))[0]
    assert (nfp.kind, nfp.scheduled, nfp.grade, nfp.source) == (
        "Employment Situation",
        True,
        "user",
        "user:user_events.csv",
    )
    witching = cal.events_on(date(2026, 12, 18))[0]
    assert witching.time_et is None and witching.kind == "Quad witching"
    assert cal.sources[-1].endswith("user_events.csv")


def test_user_file_alone_without_shipped_data() -> None:
    cal = MacroCalendar.load(shipped=False, user_file=FIXTURES / "user_events.csv")
    assert [e.kind for e in cal] == ["Employment Situation", "PPI", "Quad witching"]
    assert cal.kinds() == {"Employment Situation", "PPI", "Quad witching"}


# --------------------------------------------------------------------------- malformed files


def test_malformed_fixture_names_file_and_line() -> None:
    with pytest.raises(CalendarFileError) as info:
        MacroCalendar.load(user_file=FIXTURES / "bad_time.csv")
    assert info.value.line == 3
    assert str(info.value).startswith(f"{FIXTURES / 'bad_time.csv'}:3: time_et")
    assert "'8:3O'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("date,time_et,event\n2026-13-01,08:30,CPI\n", 2, "date: not a date"),
        ("date,time_et,event\n2026-01-02,25:00,CPI\n", 2, "time_et"),
        ("date,time_et,event\n2026-01-02,08:30,\n", 2, "event name is blank"),
        ("date,time_et,event\n\n# note\n2026-01-02,08:30\n", 4, "expected 3 fields, got 2"),
        ("date,time_et,event,scheduled\n2026-01-02,08:30,CPI,maybe\n", 2, "scheduled"),
        ("date,time_et,event,grade\n2026-01-02,08:30,CPI,D\n", 2, "grade"),
        ("date,time_et,evnt\n", 1, "unknown column 'evnt'"),
        ("date,event\n", 1, "header lacks column 'time_et'"),
        (
            "date,time_et,event\n2026-01-02,08:30,CPI\n2026-01-02,09:00,cpi\n",
            3,
            "already listed on line 2",
        ),
        ('date,time_et,event\n2026-01-02,08:30,"CPI\nsplit"\n', 2, "spans several lines"),
    ],
)
def test_malformed_rows_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(CalendarFileError) as info:
        parse_calendar_csv(text, "mine.csv")
    assert info.value.line == line
    assert info.value.file == "mine.csv"
    assert str(info.value).startswith(f"mine.csv:{line}: ")
    assert fragment in str(info.value)


def test_shipped_format_requires_every_column() -> None:
    with pytest.raises(CalendarFileError, match=r"x\.csv:1: header lacks column 'scheduled'"):
        parse_calendar_csv("date,time_et,event\n", "x.csv", strict_columns=True)


def test_missing_empty_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(CalendarFileError, match=r"nope\.csv: file not found"):
        MacroCalendar.load(user_file=tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("# only a comment\n")
    with pytest.raises(CalendarFileError, match=r"empty\.csv: empty file"):
        MacroCalendar.load(user_file=empty)
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"date,time_et,event\n2026-01-02,08:30,\xff\n")
    with pytest.raises(CalendarFileError) as info:
        MacroCalendar.load(user_file=binary)
    assert info.value.line == 2 and "not UTF-8" in str(info.value)


def test_shipped_events_parse_strictly() -> None:
    events = shipped_events()
    assert len(events) == 687
    assert events[0] == MacroEvent(date(2006, 1, 13), time(8, 30), "PPI", True, "C", "RLEYDEV_LLM")


def test_to_row_round_trips() -> None:
    event = MacroEvent(date(2026, 5, 8), None, "Employment Situation", False, "user", "me")
    row = event.to_row()
    text = "date,time_et,event,scheduled,grade,source\n" + ",".join(
        row[c] for c in ("date", "time_et", "event", "scheduled", "grade", "source")
    )
    assert parse_calendar_csv(text, "r.csv", strict_columns=True) == [(2, event)]
