"""Tests for virtual_fire_times (replay scheduling) and VirtualClock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from daemon.calendars.exchange import default_calendar
from daemon.clock import SystemClock, VirtualClock
from daemon.scheduling.jobs import NEW_YORK, JobName, job_definitions, virtual_fire_times

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
