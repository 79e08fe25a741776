"""The Cboe monthly VIX expiry rule, against known expiries and the bundled futures file."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from daemon.calendars.exchange import ExchangeCalendar, default_calendar
from daemon.calendars.vix_expiry import (
    next_vix_expiries,
    third_friday,
    vix_expiries_between,
    vix_expiry,
)
from daemon.marketdata.loader import BUNDLE_DIR


@pytest.fixture(scope="module")
def cal() -> ExchangeCalendar:
    return default_calendar()


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2018, 2, date(2018, 2, 14)),
        (2020, 3, date(2020, 3, 18)),
        (2022, 6, date(2022, 6, 15)),
        (2023, 5, date(2023, 5, 17)),
        (2024, 12, date(2024, 12, 18)),
        # Good Friday 2019-04-19: 30 days before Thursday 04-18 -> Tuesday.
        (2019, 3, date(2019, 3, 19)),
        # The Wednesday is Juneteenth 2024: the business day before.
        (2024, 6, date(2024, 6, 18)),
        # December contract: third Friday of January of the next year.
        (2020, 12, date(2020, 12, 16)),
    ],
)
def test_known_expiries(cal: ExchangeCalendar, year: int, month: int, expected: date) -> None:
    assert vix_expiry(year, month, cal.is_session) == expected


def test_third_friday() -> None:
    assert third_friday(2020, 4) == date(2020, 4, 17)
    assert third_friday(2024, 3) == date(2024, 3, 15)
    assert third_friday(2023, 9) == date(2023, 9, 15)
    assert all(15 <= third_friday(2025, m).day <= 21 for m in range(1, 13))


def test_without_holidays_the_expiry_is_the_wednesday_30_days_before() -> None:
    def weekdays(d: date) -> bool:
        return d.weekday() < 5

    for year in (2015, 2021, 2031):
        for month in range(1, 13):
            e = vix_expiry(year, month, weekdays)
            ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
            assert e == third_friday(ny, nm) - timedelta(days=30)
            assert e.weekday() == 2
            assert (e.year, e.month) == (year, month)


def test_holidays_from_the_predicate_are_honoured() -> None:
    friday = third_friday(2021, 4)  # 2021-04-16
    wednesday = friday - timedelta(days=30)  # 2021-03-17

    def no_friday(d: date) -> bool:
        return d.weekday() < 5 and d != friday

    def no_wednesday(d: date) -> bool:
        return d.weekday() < 5 and d != wednesday

    assert vix_expiry(2021, 3, no_friday) == date(2021, 3, 16)
    assert vix_expiry(2021, 3, no_wednesday) == date(2021, 3, 16)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"month must be 1\.\.12"):
        vix_expiry(2020, 13, lambda d: True)
    with pytest.raises(ValueError, match="no trading day"):
        vix_expiry(2020, 3, lambda d: False)


def test_expiries_between(cal: ExchangeCalendar) -> None:
    year = vix_expiries_between(date(2020, 1, 1), date(2020, 12, 31), cal.is_session)
    assert len(year) == 12
    assert [e.month for e in year] == list(range(1, 13))
    assert year == sorted(year)
    # Inclusive at both ends, and a range inside one month.
    assert vix_expiries_between(date(2020, 3, 18), date(2020, 4, 15), cal.is_session) == [
        date(2020, 3, 18),
        date(2020, 4, 15),
    ]
    assert vix_expiries_between(date(2020, 3, 19), date(2020, 4, 14), cal.is_session) == []
    assert vix_expiries_between(date(2020, 4, 1), date(2020, 3, 1), cal.is_session) == []


def test_next_expiries_roll_on_expiry_day(cal: ExchangeCalendar) -> None:
    assert next_vix_expiries(date(2020, 3, 17), 2, cal.is_session) == [
        date(2020, 3, 18),
        date(2020, 4, 15),
    ]
    assert next_vix_expiries(date(2020, 3, 18), 1, cal.is_session) == [date(2020, 4, 15)]
    assert next_vix_expiries(date(2020, 3, 18), 1, cal.is_session, include_today=True) == [
        date(2020, 3, 18)
    ]
    assert len(next_vix_expiries(date(2020, 3, 16), 7, cal.is_session)) == 7


def test_futures_file_days_column_agrees_with_the_rule(cal: ExchangeCalendar) -> None:
    """``m1_days_to_expiration`` counts sessions strictly between the date and M1's expiry.

    It is *not* a calendar-day count (that reading agrees on almost no row).
    With M1 = the first rule expiry strictly after the date, the column agrees
    on 5,162 of 5,227 rows (98.8%); the disagreements are three windows where
    the source's column is off (Aug 2018, Aug 2022 and Juneteenth 2024).
    """
    sessions = list(cal.session_dates)
    expiries = vix_expiries_between(date(2004, 1, 1), date(2025, 12, 31), cal.is_session)
    total = agree = calendar_days_agree = 0
    bad: list[date] = []
    with (BUNDLE_DIR / "vix_futures.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            d = date.fromisoformat(row["date"])
            n = int(row["m1_days_to_expiration"])
            m1 = next(e for e in expiries if e > d)
            between = cal.session_index(m1) - cal.session_index(d) - 1
            assert sessions[cal.session_index(d)] == d
            total += 1
            calendar_days_agree += (m1 - d).days == n
            if between == n:
                agree += 1
            else:
                bad.append(d)
    rate = agree / total
    assert total == 5227
    assert rate == pytest.approx(5162 / 5227)
    assert rate > 0.985
    assert calendar_days_agree / total < 0.01
    windows = [
        (date(2018, 7, 18), date(2018, 8, 21)),
        (date(2022, 7, 20), date(2022, 8, 17)),
        (date(2024, 5, 22), date(2024, 6, 18)),
    ]
    assert all(any(lo <= d <= hi for lo, hi in windows) for d in bad)
    assert {lo for lo, _ in windows} <= set(bad)
