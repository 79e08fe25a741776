"""The XNYS calendar wrapper: sessions, holidays, early closes, DST, range errors."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from daemon.calendars.exchange import (
    CalendarError,
    ExchangeCalendar,
    default_calendar,
)
from daemon.clock import NEW_YORK


@pytest.fixture(scope="module")
def cal() -> ExchangeCalendar:
    return default_calendar()


def test_range_starts_with_the_spx_history(cal: ExchangeCalendar) -> None:
    assert cal.first_session == date(1990, 1, 2)
    assert cal.range_start == date(1990, 1, 1)
    assert cal.last_session >= date(2026, 7, 23)
    assert cal.session_dates[0] == cal.first_session
    assert len(cal.session_dates) == len(cal.session_array)
    assert cal.session_array.dtype == np.dtype("datetime64[D]")
    with pytest.raises(ValueError):
        cal.session_array[0] = np.datetime64("2000-01-01")


def test_independence_day_2024_is_a_holiday(cal: ExchangeCalendar) -> None:
    assert not cal.is_session(date(2024, 7, 4))
    assert cal.is_session(date(2024, 7, 5))
    assert cal.next_session(date(2024, 7, 4)) == date(2024, 7, 5)
    assert cal.previous_session(date(2024, 7, 4)) == date(2024, 7, 3)
    assert cal.next_session(date(2024, 7, 3)) == date(2024, 7, 5)
    with pytest.raises(CalendarError, match="not a XNYS session"):
        cal.session_close(date(2024, 7, 4))


def test_one_off_closures(cal: ExchangeCalendar) -> None:
    # 9/11, Hurricane Sandy, President Reagan's and Carter's funerals.
    for d in (date(2001, 9, 11), date(2001, 9, 14), date(2012, 10, 29), date(2012, 10, 30)):
        assert not cal.is_session(d), d
    assert not cal.is_session(date(2004, 6, 11))
    assert not cal.is_session(date(2025, 1, 9))
    assert cal.next_session(date(2001, 9, 10)) == date(2001, 9, 17)


def test_year_end_holidays(cal: ExchangeCalendar) -> None:
    assert cal.sessions(date(2022, 12, 23), date(2023, 1, 3)) == [
        date(2022, 12, 23),
        date(2022, 12, 27),
        date(2022, 12, 28),
        date(2022, 12, 29),
        date(2022, 12, 30),
        date(2023, 1, 3),
    ]
    assert cal.sessions(date(2023, 1, 3), date(2022, 12, 23)) == []
    assert cal.sessions(date(2024, 7, 4), date(2024, 7, 4)) == []


def test_early_close_day_after_thanksgiving_2023(cal: ExchangeCalendar) -> None:
    close = cal.session_close(date(2023, 11, 24))
    assert close == datetime(2023, 11, 24, 13, 0, tzinfo=NEW_YORK)
    assert close.utcoffset() == timedelta(hours=-5)
    assert close.astimezone(UTC) == datetime(2023, 11, 24, 18, 0, tzinfo=UTC)
    assert cal.is_early_close(date(2023, 11, 24))
    assert not cal.is_early_close(date(2023, 11, 22))
    assert cal.session_close(date(2023, 11, 22)).hour == 16
    assert cal.session_open(date(2023, 11, 24)) == datetime(2023, 11, 24, 9, 30, tzinfo=NEW_YORK)
    assert date(2023, 11, 24) in cal.early_closes()
    assert cal.session_close(date(2024, 7, 3)).hour == 13
    assert cal.session_close(date(2024, 12, 24)).hour == 13


def test_daylight_saving_time(cal: ExchangeCalendar) -> None:
    # US DST began 2024-03-10: the 16:00 close moves from 21:00 to 20:00 UTC.
    before = cal.session_close(date(2024, 3, 8)).astimezone(UTC)
    after = cal.session_close(date(2024, 3, 11)).astimezone(UTC)
    assert before == datetime(2024, 3, 8, 21, 0, tzinfo=UTC)
    assert after == datetime(2024, 3, 11, 20, 0, tzinfo=UTC)
    # DST ended 2024-11-03: the 09:30 open moves from 13:30 to 14:30 UTC.
    assert cal.session_open(date(2024, 11, 1)).astimezone(UTC).hour == 13
    assert cal.session_open(date(2024, 11, 4)).astimezone(UTC) == datetime(
        2024, 11, 4, 14, 30, tzinfo=UTC
    )


def test_add_sessions(cal: ExchangeCalendar) -> None:
    assert cal.add_sessions(date(2024, 7, 3), 1) == date(2024, 7, 5)
    assert cal.add_sessions(date(2024, 7, 5), -1) == date(2024, 7, 3)
    assert cal.add_sessions(date(2024, 7, 5), 0) == date(2024, 7, 5)
    with pytest.raises(CalendarError, match="leaves"):
        cal.add_sessions(cal.first_session, -1)


def test_dates_outside_the_range_raise(cal: ExchangeCalendar) -> None:
    for call in (cal.is_session, cal.next_session, cal.previous_session, cal.session_close):
        with pytest.raises(CalendarError, match=r"outside the XNYS calendar's supported range"):
            call(date(1989, 12, 29))
    with pytest.raises(CalendarError, match="1989-12-29"):
        cal.sessions(date(1989, 12, 29), date(1990, 1, 5))
    with pytest.raises(CalendarError):
        cal.is_session(cal.range_end + timedelta(days=1))
    with pytest.raises(CalendarError, match="no XNYS session before 1990-01-02"):
        cal.previous_session(date(1990, 1, 2))
    with pytest.raises(TypeError):
        cal.is_session(datetime(2024, 7, 5, 12, 0))


def test_explicit_bounds() -> None:
    small = ExchangeCalendar(date(2023, 1, 1), date(2023, 12, 31))
    assert small.first_session == date(2023, 1, 3)
    assert small.last_session == date(2023, 12, 29)
    assert len(small.session_dates) == 250
    assert not small.is_session(date(2023, 12, 31))
    with pytest.raises(CalendarError, match="no XNYS session after 2023-12-29"):
        small.next_session(date(2023, 12, 29))
    with pytest.raises(CalendarError):
        small.is_session(date(2024, 1, 2))
    with pytest.raises(CalendarError, match="cannot build"):
        ExchangeCalendar(date(2023, 12, 31), date(2023, 1, 1))


def test_queries_are_fast(cal: ExchangeCalendar) -> None:
    days = [date(2000, 1, 1) + timedelta(days=k) for k in range(9000)]
    t0 = time.perf_counter()
    n = sum(cal.is_session(d) for d in days)
    for d in days:
        cal.next_session(d)
    elapsed = time.perf_counter() - t0
    assert 6000 < n < 6500
    assert elapsed < 0.5, f"18,000 calendar queries took {elapsed:.3f}s"
