"""Tests for daemon.brokers.listings: the historical SPXW expiry listing calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from daemon.brokers.listings import (
    LISTINGS,
    SPXW_WEEKDAY_LAUNCH,
    not_listed_reason,
    spxw_expiries,
    vix_listed,
)
from daemon.calendars.exchange import default_calendar

IS_SESSION = default_calendar().is_session
MON, TUE, WED, THU, FRI = range(5)


def _expiries(session: date, min_dte: int, max_dte: int) -> list[date]:
    return spxw_expiries(session, min_dte, max_dte, IS_SESSION)


def _weekdays(days: list[date]) -> set[int]:
    return {d.weekday() for d in days}


def test_before_2016_only_fridays() -> None:
    session = date(2015, 6, 1)  # a Monday
    found = _expiries(session, 0, 45)
    assert found == [
        date(2015, 6, 5),
        date(2015, 6, 12),
        date(2015, 6, 19),
        date(2015, 6, 26),
        date(2015, 7, 2),  # Friday 2015-07-03 was a holiday (Independence Day observed)
        date(2015, 7, 10),
    ]
    assert _weekdays(found) == {FRI, THU}
    assert all(d.weekday() == FRI or d + timedelta(days=1) == date(2015, 7, 3) for d in found)


def test_day_before_wednesday_launch_lists_fridays_only() -> None:
    found = _expiries(date(2016, 2, 22), 0, 14)
    assert found == [date(2016, 2, 26), date(2016, 3, 4)]


def test_wednesday_expiries_from_2016_02_23() -> None:
    found = _expiries(date(2016, 2, 23), 0, 14)
    # Listed from 2016-02-23 with 2016-03-02 as the first Wednesday expiry (Cboe notice).
    assert found == [
        date(2016, 2, 26),
        date(2016, 3, 2),
        date(2016, 3, 4),
    ]
    assert _weekdays(found) == {WED, FRI}


def test_monday_expiries_from_2016_08_15() -> None:
    before = _expiries(date(2016, 8, 12), 0, 14)
    assert MON not in _weekdays(before)
    assert before == [
        date(2016, 8, 12),
        date(2016, 8, 17),
        date(2016, 8, 19),
        date(2016, 8, 24),
        date(2016, 8, 26),
    ]
    # Listed from 2016-08-15; the first Monday expiry is 2016-08-22 (Cboe notice).
    on_launch = _expiries(date(2016, 8, 15), 0, 9)
    assert on_launch == [
        date(2016, 8, 17),
        date(2016, 8, 19),
        date(2016, 8, 22),
        date(2016, 8, 24),
    ]


def test_tuesday_listed_from_2022_04_18_but_not_thursday() -> None:
    found = _expiries(date(2022, 4, 18), 0, 6)
    assert _weekdays(found) == {MON, TUE, WED, FRI}
    assert THU not in _weekdays(found)


def test_every_weekday_from_2022_05_11() -> None:
    session = date(2022, 5, 11)
    found = _expiries(session, 0, 13)
    sessions = default_calendar().sessions(session, session + timedelta(days=13))
    assert found == sessions
    assert _weekdays(found) == {MON, TUE, WED, THU, FRI}


def test_thursday_not_listed_the_day_before_2022_05_11() -> None:
    found = _expiries(date(2022, 5, 10), 0, 6)
    assert THU not in _weekdays(found)
    assert TUE in _weekdays(found)


def test_good_friday_moves_the_friday_expiry_to_thursday() -> None:
    session = date(2019, 4, 8)  # Monday before Good Friday 2019-04-19
    found = _expiries(session, 0, 14)
    assert date(2019, 4, 19) not in found
    assert date(2019, 4, 18) in found
    assert found == [
        date(2019, 4, 8),
        date(2019, 4, 10),
        date(2019, 4, 12),
        date(2019, 4, 15),
        date(2019, 4, 17),
        date(2019, 4, 18),
        date(2019, 4, 22),
    ]


def test_good_friday_before_2016_moves_to_thursday() -> None:
    found = _expiries(date(2015, 3, 30), 0, 7)  # Good Friday 2015-04-03
    assert found == [date(2015, 4, 2)]


def test_wednesday_holiday_has_no_expiry_that_week() -> None:
    # 2018-12-05 (Wednesday): markets closed for President Bush's funeral.
    found = _expiries(date(2018, 12, 3), 0, 4)
    assert found == [date(2018, 12, 3), date(2018, 12, 7)]


def test_dte_window_bounds_are_inclusive() -> None:
    session = date(2019, 3, 1)  # Friday
    assert _expiries(session, 0, 0) == [session]
    assert _expiries(session, 7, 7) == [date(2019, 3, 8)]
    assert _expiries(session, 3, 7) == [date(2019, 3, 4), date(2019, 3, 6), date(2019, 3, 8)]
    assert _expiries(session, 1, 2) == []


def test_moved_holiday_expiry_below_min_dte_is_excluded() -> None:
    session = date(2019, 4, 8)
    # Thursday 2019-04-18 is 10 DTE; the holiday Friday itself would be 11.
    assert date(2019, 4, 18) not in _expiries(session, 11, 14)


def test_moved_holiday_expiry_on_max_dte_is_included() -> None:
    session = date(2019, 4, 8)
    # Thursday 2019-04-18 is listed and 10 DTE: inside a [10, 10] window.
    assert _expiries(session, 10, 10) == [date(2019, 4, 18)]


@pytest.mark.parametrize(("lo", "hi"), [(-1, 5), (8, 7), (-3, -1)])
def test_bad_window_raises(lo: int, hi: int) -> None:
    with pytest.raises(ValueError, match="bad DTE window"):
        _expiries(date(2019, 3, 1), lo, hi)


def test_listing_table_is_sourced_and_dated() -> None:
    dates = {(item.trading_class, item.kind): item.listed for item in LISTINGS}
    assert dates == {
        ("SPXW", "Friday"): date(2005, 10, 28),
        ("VIX", "monthly"): date(2006, 2, 24),
        ("SPXW", "end-of-month"): date(2014, 7, 7),
        ("SPXW", "Wednesday"): date(2016, 2, 23),
        ("SPXW", "Monday"): date(2016, 8, 15),
        ("SPXW", "Tuesday"): date(2022, 4, 18),
        ("SPXW", "Thursday"): date(2022, 5, 11),
    }
    assert all(item.source for item in LISTINGS)
    assert [item.listed for item in LISTINGS] == sorted(item.listed for item in LISTINGS)
    assert SPXW_WEEKDAY_LAUNCH[FRI] == date(2005, 10, 28)


def test_no_spxw_expiry_before_the_first_weekly() -> None:
    assert _expiries(date(2005, 10, 27), 0, 30) == []
    assert _expiries(date(2003, 5, 2), 7, 21) == []
    assert _expiries(date(2005, 10, 28), 0, 8) == [date(2005, 10, 28), date(2005, 11, 4)]


def test_not_listed_reason_names_the_product_and_its_first_date() -> None:
    reason = not_listed_reason("SPX", "SPXW", date(2003, 5, 2), 7, 21)
    assert reason == (
        "no SPXW expiry listed in 7-21 DTE on 2003-05-02: SPX Weeklys (SPXW) began "
        "2005-10-28; monthly SPX (AM-settled) is a different trading class"
    )
    vix = not_listed_reason("VIX", "VIX", date(2006, 2, 23), 45, 90)
    assert vix is not None and "VIX options first traded 2006-02-24" in vix
    assert not_listed_reason("VIX", "VIX", date(2006, 2, 24), 45, 90) is None
    assert not_listed_reason("SPX", "SPXW", date(2005, 10, 28), 7, 21) is None


def test_vix_expiries_not_before_2006_02_24() -> None:
    expiries = [date(2006, 3, 22), date(2006, 4, 19)]
    assert vix_listed(date(2006, 2, 23), expiries) == []
    assert vix_listed(date(2006, 2, 24), expiries) == expiries
