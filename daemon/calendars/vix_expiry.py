"""Expiration dates of monthly VIX futures and VIX options (Cboe / CFE rule).

The rule, from the CFE VX contract specification and the Cboe VIX option
specification: the final settlement date of the contract month is **the
Wednesday 30 calendar days before the third Friday of the following calendar
month** (that Friday being the expiry of the standard SPX options the VIX
settlement is computed from). Two holiday adjustments apply:

* if that third Friday is not a trading day (e.g. Good Friday 2019-04-19),
  count 30 days back from the trading day preceding it instead;
* if the resulting day is not a trading day (e.g. Juneteenth 2024-06-19),
  use the trading day before it.

Examples: March 2020 -> 2020-03-18; March 2019 -> Tuesday 2019-03-19 (Good
Friday); June 2024 -> Tuesday 2024-06-18 (Juneteenth).

Both functions take the trading-day predicate as an argument
(``ExchangeCalendar.is_session`` in the daemon) so they stay pure and
testable; dates are session dates in America/New_York. VIX weekly futures and
options (other expiries) are not covered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

#: Longest run of non-trading days the holiday adjustments will step over
#: before concluding that ``is_session`` is broken.
_MAX_STEP_BACK = 10


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``year``-``month`` (always the 15th..21st)."""
    d = date(year, month, 15)
    return d + timedelta(days=(4 - d.weekday()) % 7)


def _on_or_before_session(d: date, is_session: Callable[[date], bool]) -> date:
    for _ in range(_MAX_STEP_BACK):
        if is_session(d):
            return d
        d -= timedelta(days=1)
    raise ValueError(f"no trading day in the {_MAX_STEP_BACK} days up to {d.isoformat()}")


def vix_expiry(year: int, month: int, is_session: Callable[[date], bool]) -> date:
    """Final settlement date of the monthly VIX future/option of contract month ``year``-``month``.

    Args:
        year, month: the contract month (the month the contract expires in;
            e.g. ``(2020, 3)`` for the March 2020 "VXH0" future).
        is_session: trading-day predicate (``ExchangeCalendar.is_session``).

    Returns:
        The expiry as a session date (normally a Wednesday; the day before
        when a holiday intervenes).

    Raises:
        ValueError: if ``month`` is not 1..12, or ``is_session`` finds no
            trading day within 10 days of the dates involved.
        CalendarError: propagated from ``is_session`` for dates outside the
            calendar's range.
    """
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1..12, got {month}")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = _on_or_before_session(third_friday(next_year, next_month), is_session)
    return _on_or_before_session(friday - timedelta(days=30), is_session)


def vix_expiries_between(start: date, end: date, is_session: Callable[[date], bool]) -> list[date]:
    """Monthly VIX expiries ``e`` with ``start <= e <= end`` (inclusive), ascending.

    Every expiry falls inside its own contract month, so only the months from
    ``start``'s to ``end``'s are examined. Returns ``[]`` when ``end < start``.

    Raises:
        CalendarError: propagated from ``is_session``.
    """
    out: list[date] = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        e = vix_expiry(year, month, is_session)
        if start <= e <= end:
            out.append(e)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def next_vix_expiries(
    d: date, count: int, is_session: Callable[[date], bool], *, include_today: bool = False
) -> list[date]:
    """The next ``count`` monthly VIX expiries after ``d``, ascending.

    With ``include_today=False`` (the default) an expiry on ``d`` itself is
    skipped, matching a constant-rank futures series whose M1 rolls to the
    next contract on expiry day: ``next_vix_expiries(d, 7, ...)`` are the
    expiries of M1..M7 on session ``d``.

    Raises:
        CalendarError: propagated from ``is_session``.
    """
    out: list[date] = []
    year, month = d.year, d.month
    while len(out) < count:
        e = vix_expiry(year, month, is_session)
        if e > d or (include_today and e == d):
            out.append(e)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
