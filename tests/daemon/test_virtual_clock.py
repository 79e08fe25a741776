"""Tests for virtual_fire_times (replay scheduling) and the clocks of daemon.clock."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from daemon import clock as clock_module
from daemon.calendars.exchange import default_calendar
from daemon.clock import NEW_YORK, Clock, OffsetClock, SystemClock, VirtualClock
from daemon.scheduling.jobs import JobName, job_definitions, virtual_fire_times

JOBS = job_definitions(
    entry=time(15, 30), hedge_check=time(15, 40), manage=time(15, 45), mark=time(16, 15)
)


def _fires(sessions: list[date]) -> list[tuple[datetime, JobName]]:
    return [(fire, job.name) for fire, job in virtual_fire_times(JOBS, sessions)]


def test_jobs_fire_in_time_order_and_definition_order() -> None:
    sessions = default_calendar().sessions(date(2024, 6, 3), date(2024, 6, 7))
    fires = _fires(sessions)
    assert len(fires) == 4 * 5
    times = [f for f, _ in fires]
    assert times == sorted(times)
    for day, chunk in zip(sessions, (fires[i : i + 4] for i in range(0, 20, 4)), strict=True):
        assert [name for _, name in chunk] == [
            JobName.ENTRY,
            JobName.HEDGE_CHECK,
            JobName.MANAGE,
            JobName.MARK,
        ]
        assert [f.astimezone(NEW_YORK).date() for f, _ in chunk] == [day] * 4
        assert [f.astimezone(NEW_YORK).time() for f, _ in chunk] == [
            time(15, 30),
            time(15, 40),
            time(15, 45),
            time(16, 15),
        ]


def test_ties_keep_definition_order() -> None:
    same = time(15, 30)
    jobs = job_definitions(entry=same, hedge_check=same, manage=same, mark=same)
    fires = list(virtual_fire_times(jobs, [date(2024, 6, 3)]))
    assert [job.name for _, job in fires] == [
        JobName.ENTRY,
        JobName.HEDGE_CHECK,
        JobName.MANAGE,
        JobName.MARK,
    ]
    assert len({f for f, _ in fires}) == 1


def test_weekday_holiday_is_skipped() -> None:
    sessions = default_calendar().sessions(date(2024, 7, 1), date(2024, 7, 5))
    fires = _fires(sessions)
    days = sorted({f.astimezone(NEW_YORK).date() for f, _ in fires})
    assert date(2024, 7, 4) not in days
    assert days == [date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 5)]
    assert len(fires) == 16


def test_weekend_date_never_fires() -> None:
    # The cron triggers are mon-fri: a Saturday handed in by mistake yields nothing,
    # rather than the following Monday's fires.
    assert _fires([date(2024, 6, 8)]) == []


def test_fires_are_timezone_aware() -> None:
    for fire, _ in _fires([date(2024, 6, 3)]):
        assert fire.tzinfo is not None
        assert fire.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize(
    ("session", "utc_hour"),
    [
        (date(2024, 3, 8), 20),  # EST, before the spring-forward on 2024-03-10
        (date(2024, 3, 11), 19),  # EDT
        (date(2024, 11, 1), 19),  # EDT, before the fall-back on 2024-11-03
        (date(2024, 11, 4), 20),  # EST
    ],
)
def test_dst_transitions(session: date, utc_hour: int) -> None:
    fires = _fires([session])
    entry = next(f for f, name in fires if name is JobName.ENTRY)
    assert entry.astimezone(UTC) == datetime.combine(session, time(utc_hour, 30), UTC)
    assert entry.astimezone(NEW_YORK).time() == time(15, 30)


def test_across_spring_forward_week() -> None:
    sessions = default_calendar().sessions(date(2024, 3, 8), date(2024, 3, 11))
    entries = [f.astimezone(UTC) for f, name in _fires(sessions) if name is JobName.ENTRY]
    assert entries == [
        datetime(2024, 3, 8, 20, 30, tzinfo=UTC),
        datetime(2024, 3, 11, 19, 30, tzinfo=UTC),
    ]


def test_sessions_must_increase() -> None:
    with pytest.raises(ValueError):
        list(virtual_fire_times(JOBS, [date(2024, 6, 4), date(2024, 6, 3)]))
    with pytest.raises(ValueError):
        list(virtual_fire_times(JOBS, [date(2024, 6, 4), date(2024, 6, 4)]))


def test_empty_sessions_yield_nothing() -> None:
    assert list(virtual_fire_times(JOBS, [])) == []


# -- VirtualClock ---------------------------------------------------------------------------


def test_virtual_clock_advances() -> None:
    start = datetime(2024, 3, 8, 9, 30, tzinfo=NEW_YORK)
    clock = VirtualClock(start)
    assert clock.now() == start
    later = datetime(2024, 3, 8, 20, 30, tzinfo=UTC)
    clock.advance_to(later)
    assert clock.now() == later
    clock.advance_to(later)  # staying put is allowed
    assert clock.now() == later


def test_virtual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2024, 3, 8, 9, 30))
    clock = VirtualClock(datetime(2024, 3, 8, 9, 30, tzinfo=NEW_YORK))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.advance_to(datetime(2024, 3, 8, 10, 0))
    assert clock.now() == datetime(2024, 3, 8, 9, 30, tzinfo=NEW_YORK)


def test_virtual_clock_refuses_going_backwards() -> None:
    clock = VirtualClock(datetime(2024, 3, 8, 15, 30, tzinfo=NEW_YORK))
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance_to(datetime(2024, 3, 8, 15, 29, tzinfo=NEW_YORK))
    # The same instant in another zone is not "backwards".
    clock.advance_to(datetime(2024, 3, 8, 20, 30, tzinfo=UTC))
    assert clock.now() == datetime(2024, 3, 8, 15, 30, tzinfo=NEW_YORK)


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_offset_clock_starts_at_the_given_instant_and_runs() -> None:
    start = datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK)
    clock = OffsetClock(start)
    first = clock.now()
    assert first.utcoffset() == timedelta(0)
    assert timedelta(0) <= first - start < timedelta(seconds=5)
    assert clock.now() >= first


def test_offset_clock_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OffsetClock(datetime(2026, 11, 20, 15, 30))


def test_every_clock_is_a_clock() -> None:
    start = datetime(2024, 3, 8, 9, 30, tzinfo=NEW_YORK)
    clocks: list[Clock] = [SystemClock(), OffsetClock(start), VirtualClock(start)]
    assert all(c.now().tzinfo is not None for c in clocks)


def test_new_york_is_the_exchange_zone_and_lives_only_in_daemon_clock() -> None:
    assert str(NEW_YORK) == "America/New_York"
    # Winter EST (-5 h) and summer EDT (-4 h).
    assert datetime(2024, 1, 2, 12, tzinfo=NEW_YORK).utcoffset() == timedelta(hours=-5)
    assert datetime(2024, 7, 2, 12, tzinfo=NEW_YORK).utcoffset() == timedelta(hours=-4)
    root = Path(clock_module.__file__).resolve().parents[1]
    wrong = []
    # The fake TWS stands for IB's own gateway and keeps its own clock on purpose.
    paths = [*root.glob("daemon/**/*.py"), *root.glob("tests/**/*.py")]
    for path in sorted(p for p in paths if "fake_tws" not in p.parts):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module != "daemon.clock"
                and any(alias.name == "NEW_YORK" for alias in node.names)
            ):
                wrong.append(f"{path.relative_to(root)}: from {node.module}")
    assert wrong == []


def test_virtual_fires_are_the_triggers_own_next_fire_from_midnight() -> None:
    """The replay's fire times equal what the live scheduler's trigger answers.

    ``virtual_fire_times`` reads ``fire_time_on`` directly; this asks the
    APScheduler trigger itself from midnight of every session of 2007-2024
    (early closes and DST changes included) and compares.
    """
    cal = default_calendar()
    jobs = job_definitions(time(15, 30), time(15, 35), time(15, 40), time(16, 15), calendar=cal)
    sessions = cal.sessions(date(2007, 1, 3), date(2024, 12, 31))
    expected = []
    for session in sessions:
        midnight = datetime.combine(session, time(0, 0), NEW_YORK)
        for job in jobs:
            fire = job.trigger.get_next_fire_time(None, midnight)
            if fire is not None and fire.astimezone(NEW_YORK).date() == session:
                expected.append((fire, job.name))
    got = [(fire, job.name) for fire, job in virtual_fire_times(jobs, sessions)]
    assert len(got) == 4 * len(sessions) > 18_000
    assert got == sorted(expected, key=lambda item: item[0])
    assert all(f.tzinfo is not None for f, _ in got)
