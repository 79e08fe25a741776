"""The NYSE (XNYS) session calendar, precomputed for fast lookups in a replay loop.

A thin wrapper over ``exchange_calendars``' ``XNYS`` calendar (which carries
the NYSE holiday and early-close history, including one-off closures such as
national days of mourning). ``exchange_calendars`` (and with it pandas) is
imported lazily, the first time an :class:`ExchangeCalendar` is built; after
construction every query works on plain Python/numpy structures:

* :meth:`ExchangeCalendar.is_session` is a set lookup, O(1);
* :meth:`ExchangeCalendar.next_session`, :meth:`~ExchangeCalendar.previous_session`
  and :meth:`~ExchangeCalendar.sessions` bisect a sorted list, O(log n).

Dates are session dates in America/New_York (``datetime.date``, no time zone).
Open and close times are returned as timezone-aware ``datetime`` objects in
America/New_York, so daylight-saving time is handled by :mod:`zoneinfo`.
SPX options trade on Cboe, which follows the NYSE holiday calendar.

Every query raises :class:`CalendarError` for a date outside the calendar's
supported range (:attr:`ExchangeCalendar.range_start` ..
:attr:`ExchangeCalendar.range_end`), instead of silently answering "not a
session" for dates the calendar knows nothing about.
"""

from __future__ import annotations

import bisect
import warnings
from datetime import date, datetime, time
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from daemon.clock import NEW_YORK

#: First date of the default calendar: the SPX history in the bundle starts 1990-01-02.
DEFAULT_START = date(1990, 1, 1)

#: Regular NYSE hours, America/New_York.
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)


class CalendarError(ValueError):
    """A date is outside the calendar's supported range, or no session satisfies a query."""


class ExchangeCalendar:
    """NYSE sessions between ``start`` and ``end`` with their open and close times.

    Construct once (it costs about 0.1 s, mostly ``exchange_calendars``) and
    share the instance; :func:`default_calendar` returns a cached one.

    Args:
        start: first date the calendar must answer for (default 1990-01-01).
        end: last date the calendar must answer for. ``None`` uses
            ``exchange_calendars``' default bound, about one year after today:
            NYSE holidays further out are not announced, so answers beyond it
            would be guesses.
        code: the ``exchange_calendars`` calendar code (``"XNYS"``).

    Raises:
        CalendarError: if ``exchange_calendars`` rejects the bounds (e.g.
            ``end`` before ``start``).
    """

    def __init__(self, start: date = DEFAULT_START, end: date | None = None, code: str = "XNYS"):
        import exchange_calendars as xcals  # lazy: pulls in pandas

        try:
            with warnings.catch_warnings():
                # exchange_calendars 4.x on pandas >= 3.1 trips this deprecation internally.
                warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
                cal = xcals.get_calendar(
                    code, start=start.isoformat(), end=end.isoformat() if end is not None else None
                )
        except Exception as exc:  # exchange_calendars raises several of its own types
            raise CalendarError(f"cannot build {code} calendar for {start}..{end}: {exc}") from exc

        self.code = code
        days: npt.NDArray[np.datetime64] = cal.sessions.values.astype("datetime64[D]")
        self._array = days
        self._dates: list[date] = days.astype(object).tolist()
        if not self._dates:
            raise CalendarError(f"{code} calendar for {start}..{end} has no sessions")
        self._index = {d: i for i, d in enumerate(self._dates)}
        self.range_start: date = start
        self.range_end: date = end if end is not None else self._dates[-1]

        # Only sessions whose hours differ from 09:30-16:00 ET are stored.
        opens = cal.opens.dt.tz_convert(str(NEW_YORK))
        closes = cal.closes.dt.tz_convert(str(NEW_YORK))
        open_min = (opens.dt.hour * 60 + opens.dt.minute).to_numpy()
        close_min = (closes.dt.hour * 60 + closes.dt.minute).to_numpy()
        self._special_open: dict[date, time] = {
            self._dates[i]: time(int(open_min[i]) // 60, int(open_min[i]) % 60)
            for i in np.flatnonzero(open_min != 9 * 60 + 30)
        }
        self._special_close: dict[date, time] = {
            self._dates[i]: time(int(close_min[i]) // 60, int(close_min[i]) % 60)
            for i in np.flatnonzero(close_min != 16 * 60)
        }

    # -- range -------------------------------------------------------------

    @property
    def first_session(self) -> date:
        """The first session of the supported range."""
        return self._dates[0]

    @property
    def last_session(self) -> date:
        """The last session of the supported range."""
        return self._dates[-1]

    @property
    def session_dates(self) -> tuple[date, ...]:
        """Every session in the range, ascending (a copy; cache it in hot loops)."""
        return tuple(self._dates)

    @property
    def session_array(self) -> npt.NDArray[np.datetime64]:
        """Every session in the range as a sorted ``datetime64[D]`` array (read-only view)."""
        view = self._array.view()
        view.flags.writeable = False
        return view

    def _check(self, d: date) -> None:
        if isinstance(d, datetime):  # a datetime is a date; refuse the ambiguity
            raise TypeError(f"expected a session date, got datetime {d!r}")
        if not self.range_start <= d <= self.range_end:
            raise CalendarError(
                f"{d.isoformat()} is outside the {self.code} calendar's supported range "
                f"{self.range_start.isoformat()}..{self.range_end.isoformat()}"
            )

    # -- queries -----------------------------------------------------------

    def is_session(self, d: date) -> bool:
        """Whether the exchange is open on ``d``. O(1).

        Raises:
            CalendarError: if ``d`` is outside the supported range.
        """
        if d in self._index:
            return True
        self._check(d)
        return False

    def session_index(self, d: date) -> int:
        """Position of session ``d`` in :attr:`session_dates`.

        Raises:
            CalendarError: if ``d`` is outside the range or not a session.
        """
        try:
            return self._index[d]
        except KeyError:
            self._check(d)
            raise CalendarError(f"{d.isoformat()} is not a {self.code} session") from None

    def sessions(self, start: date, end: date) -> list[date]:
        """Sessions ``d`` with ``start <= d <= end`` (both inclusive), ascending.

        Returns an empty list when ``end < start`` or no session lies between.

        Raises:
            CalendarError: if ``start`` or ``end`` is outside the supported range.
        """
        self._check(start)
        self._check(end)
        lo = bisect.bisect_left(self._dates, start)
        hi = bisect.bisect_right(self._dates, end)
        return self._dates[lo:hi]

    def next_session(self, d: date) -> date:
        """The first session strictly after ``d`` (``d`` need not be a session).

        Raises:
            CalendarError: if ``d`` is outside the range or no later session is in it.
        """
        self._check(d)
        i = bisect.bisect_right(self._dates, d)
        if i >= len(self._dates):
            raise CalendarError(
                f"no {self.code} session after {d.isoformat()} within the calendar's range "
                f"(last session {self.last_session.isoformat()})"
            )
        return self._dates[i]

    def previous_session(self, d: date) -> date:
        """The last session strictly before ``d`` (``d`` need not be a session).

        Raises:
            CalendarError: if ``d`` is outside the range or no earlier session is in it.
        """
        self._check(d)
        i = bisect.bisect_left(self._dates, d)
        if i == 0:
            raise CalendarError(
                f"no {self.code} session before {d.isoformat()} within the calendar's range "
                f"(first session {self.first_session.isoformat()})"
            )
        return self._dates[i - 1]

    def session_open(self, d: date) -> datetime:
        """Opening time of session ``d``, timezone-aware America/New_York (usually 09:30).

        Raises:
            CalendarError: if ``d`` is outside the range or not a session.
        """
        self.session_index(d)
        return datetime.combine(d, self._special_open.get(d, REGULAR_OPEN), tzinfo=NEW_YORK)

    def session_close(self, d: date) -> datetime:
        """Closing time of session ``d``, timezone-aware America/New_York.

        16:00 normally, 13:00 on early closes (day after Thanksgiving, Christmas
        Eve, July 3rd ...); some early closes before 2000 were at 14:00.

        Raises:
            CalendarError: if ``d`` is outside the range or not a session.
        """
        self.session_index(d)
        return datetime.combine(d, self._special_close.get(d, REGULAR_CLOSE), tzinfo=NEW_YORK)

    def is_early_close(self, d: date) -> bool:
        """Whether session ``d`` closes before 16:00 ET.

        Raises:
            CalendarError: if ``d`` is outside the range or not a session.
        """
        self.session_index(d)
        return d in self._special_close

    def early_closes(self) -> list[date]:
        """Every session in the range that closes before 16:00 ET, ascending."""
        return sorted(self._special_close)

    def add_sessions(self, d: date, n: int) -> date:
        """The session ``n`` sessions after (``n > 0``) or before (``n < 0``) session ``d``.

        Raises:
            CalendarError: if ``d`` is not a session or the result leaves the range.
        """
        j = self.session_index(d) + n
        if not 0 <= j < len(self._dates):
            raise CalendarError(
                f"{d.isoformat()} {n:+d} sessions leaves the {self.code} calendar's range"
            )
        return self._dates[j]


@lru_cache(maxsize=1)
def default_calendar() -> ExchangeCalendar:
    """A shared XNYS calendar from 1990-01-01 to about one year after today."""
    return ExchangeCalendar()
