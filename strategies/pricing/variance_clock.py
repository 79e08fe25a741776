"""The SPX surface's variance clock: calendar days -> session-day equivalents -> years.

Implied variance does not accrue evenly over calendar time: a weekend or
holiday carries far less variance than a session, and a CPI or FOMC day
more. Each calendar day ``d`` after the quote session counts
``1`` if it is a session, ``nonsession_weight`` otherwise, plus
``cpi_weight``/``fomc_weight`` extra session-days on event days; a
partial last day (AM settlement at 09:30, 17.5 h after the previous
close) counts pro rata.
:meth:`~strategies.pricing.spx_surface.SpxSurface.tau` converts that
weighted day count to years by dividing by :data:`CLOCK_DAYS_PER_YEAR`
weighted days (so ``tau`` is close to calendar years). Without a session date the
clock is calendar time (``tau = t``).

Used by :class:`strategies.pricing.spx_surface.SpxSurface`; a session's clock
with the knots' clock times is a :class:`SessionClock` (:func:`session_clock`).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from strategies.pricing.spx_params import KNOT_DAYS, SpxSurfaceParams

__all__ = [
    "CLOCK_DAYS_PER_YEAR",
    "SessionClock",
    "day_counter",
    "session_clock",
    "variance_days",
]

#: Weighted clock days per year used to express ``tau`` in years: a fixed
#: normalisation (252 sessions + 113 non-session days at weight 0.15 + 12 CPI
#: and 8 FOMC days at 0.5 extra), independent of the parameters so that the
#: smile's term factor means the same thing whatever the fitted weights;
#: ``tau`` is then close to calendar time. Part of the calibration: changing
#: it requires a refit.
CLOCK_DAYS_PER_YEAR = 278.95


def variance_days(
    session: date,
    t_years: float,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> float:
    """Weighted day count of the variance clock from the ``session`` close.

    Args:
        session: quote session (the clock starts at its 16:00 ET close).
        t_years: calendar time to settlement, years (days / 365); a
            fractional last day (AM settlement) counts pro rata.
        params: supplies ``nonsession_weight``, ``cpi_weight``, ``fomc_weight``.
        holidays: weekday exchange holidays (count as non-session days).
        events: date -> event kinds (``"CPI"``, ``"FOMC"``; others ignored).

    Returns:
        Session-day equivalents (>= 0).
    """
    return day_counter(session, params, holidays, events)(max(t_years, 0.0) * 365.0)


def day_counter(
    session: date,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> Callable[[float], float]:
    """The variance clock of :func:`variance_days` as ``calendar days -> session-day equivalents``.

    A surface counts many expiries on one clock: taking the counter once spares
    rebuilding the clock's key (the sorted events) for every count; each count
    is bit for bit :func:`variance_days`'s.
    """
    if not holidays and not events:
        weight = params.nonsession_weight
        return lambda days: _weekday_clock(session, days, weight)
    ev = tuple(sorted((d, tuple(k)) for d, k in events.items())) if events else ()
    return _clock(session, params, frozenset(holidays), ev).count


def _variance_days_loop(
    session: date,
    t_years: float,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> float:
    """:func:`variance_days` day by day: the reference :class:`_VarianceClock` is tested against."""
    days = max(t_years, 0.0) * 365.0
    total = 0.0
    j = 1
    while days > j - 1:
        d = session + timedelta(days=j)
        frac = min(days - (j - 1), 1.0)
        is_session = d.weekday() < 5 and d not in holidays
        total += frac * (1.0 if is_session else params.nonsession_weight)
        if events and frac > 0.5 and d in events:
            kinds = events[d]
            if "CPI" in kinds:
                total += params.cpi_weight
            if "FOMC" in kinds and frac >= 1.0:
                total += params.fomc_weight
        j += 1
    return total


class _VarianceClock:
    """The variance clock of one session and calendar, as running totals of whole days.

    ``totals[n]`` is the count after ``n`` whole days, accumulated in the
    order :func:`_variance_days_loop` adds its terms, so a count read from it
    is bit for bit the loop's (only the partial last day is added per call).
    The table grows on demand; the replay reads it for every quote, the loop
    cost O(days) each time.
    """

    __slots__ = (
        "_base",
        "_event_days",
        "_holiday_days",
        "events",
        "holidays",
        "params",
        "session",
        "totals",
    )

    def __init__(
        self,
        session: date,
        params: SpxSurfaceParams,
        holidays: frozenset[date],
        events: Mapping[date, Collection[str]],
    ) -> None:
        self.session = session
        self.params = params
        self.holidays = holidays
        self.events = events
        # doubles in an array, not a list of float objects: a quarter of the
        # memory (a sweep worker keeps ~4,500 clocks); the same IEEE values
        self.totals = array("d", [0.0])
        # days as ordinals: the table grows by ~100 days per session, one
        # date object, weekday and hash fewer per day (same tests, same sums)
        self._base = session.toordinal()
        self._holiday_days = frozenset(d.toordinal() for d in holidays)
        self._event_days = {d.toordinal(): kinds for d, kinds in events.items()}

    def _day(self, total: float, j: int, frac: float) -> float:
        p = self.params
        day = self._base + j
        # date.weekday() is (ordinal + 6) % 7 (Monday 0)
        is_session = (day + 6) % 7 < 5 and day not in self._holiday_days
        total += frac * (1.0 if is_session else p.nonsession_weight)
        if self._event_days and frac > 0.5 and day in self._event_days:
            kinds = self._event_days[day]
            if "CPI" in kinds:
                total += p.cpi_weight
            if "FOMC" in kinds and frac >= 1.0:
                total += p.fomc_weight
        return total

    def count(self, days: float) -> float:
        """Weighted day count for ``days`` calendar days (>= 0) after the session close."""
        n = math.ceil(days)  # the loop's iterations: every j with j - 1 < days
        if n <= 0:
            return 0.0
        totals = self.totals
        if len(totals) < n:
            self._grow(n)
        frac = min(days - (n - 1), 1.0)
        return self._day(totals[n - 1], n, frac)

    def _grow(self, n: int) -> None:
        """Extend :attr:`totals` to ``n`` whole days: :meth:`_day` with ``frac = 1``, inlined."""
        p = self.params
        rest, cpi, fomc = p.nonsession_weight, p.cpi_weight, p.fomc_weight
        holidays, events = self._holiday_days, self._event_days
        totals = self.totals
        total = totals[-1]
        for day in range(self._base + len(totals), self._base + n):
            total += 1.0 * (1.0 if (day + 6) % 7 < 5 and day not in holidays else rest)
            if events and day in events:  # frac = 1: both event terms apply
                kinds = events[day]
                if "CPI" in kinds:
                    total += cpi
                if "FOMC" in kinds:
                    total += fomc
            totals.append(total)


@lru_cache(maxsize=32)
def _clock(
    session: date,
    params: SpxSurfaceParams,
    holidays: frozenset[date],
    events: tuple[tuple[date, tuple[str, ...]], ...],
) -> _VarianceClock:
    return _VarianceClock(session, params, holidays, dict(events))


def _weekday_clock(session: date, days: float, nonsession_weight: float) -> float:
    """:func:`variance_days` with weekends as the only non-session days, in O(1)."""
    full = math.floor(days)
    frac = days - full
    weeks, rest = divmod(full, 7)
    start = session.weekday()
    weekdays = weeks * 5 + sum(1 for j in range(1, rest + 1) if (start + j) % 7 < 5)
    total = weekdays + (full - weekdays) * nonsession_weight
    if frac > 0.0:
        total += frac * (1.0 if (start + full + 1) % 7 < 5 else nonsession_weight)
    return total


@dataclass(frozen=True, slots=True)
class SessionClock:
    """A session's variance clock with the clock times of the surface's knots.

    Every surface of one session and calendar shares it (the session's open,
    the extremes of its range and its close have different index levels, not
    a different clock): :func:`build_spx_surface` takes one instead of
    counting the knots again. Built by :func:`session_clock`.
    """

    session: date
    holidays: frozenset[date]
    events: Mapping[date, Collection[str]]
    count: Callable[[float], float]
    knot_tau: tuple[float, float, float]


def session_clock(
    session: date,
    params: SpxSurfaceParams,
    holidays: Collection[date] = (),
    events: Mapping[date, Collection[str]] | None = None,
) -> SessionClock:
    """The variance clock of ``session`` (:func:`day_counter`) and its knots' clock times, years."""
    hol = frozenset(holidays)
    ev = dict(events) if events else {}
    count = day_counter(session, params, hol, ev)
    t9, t30, t93 = (count(max(d / 365.0, 0.0) * 365.0) / CLOCK_DAYS_PER_YEAR for d in KNOT_DAYS)
    return SessionClock(session, hol, ev, count, (t9, t30, t93))
