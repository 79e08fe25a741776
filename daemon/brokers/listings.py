"""Which option expiries were listed on a given date, for the simulated broker.

Live trading reads listings from the broker (``reqSecDefOptParams``); replay
needs the historical listing calendar instead, so it does not trade an expiry
that did not exist yet.

SPXW (PM-settled SPX weeklys), per Cboe product launch notices:

* Friday expiries for the whole replay range (SPX Weeklys since 2005); a
  Friday holiday moves the expiry to the preceding session (e.g. Good Friday).
* Wednesday expiries from 2016-02-23, Monday from 2016-08-15, Tuesday from
  2022-04-18 and Thursday from 2022-05-11. A holiday on these days means no
  expiry that week for that weekday.

VIX options: the standard monthly expiries only (Wednesday 30 days before the
following month's third Friday; see :mod:`daemon.calendars.vix_expiry`).
VIX weeklys are not simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

#: First listing date of each SPXW expiry weekday (Monday = 0).
SPXW_WEEKDAY_LAUNCH: dict[int, date] = {
    0: date(2016, 8, 15),
    1: date(2022, 4, 18),
    2: date(2016, 2, 23),
    3: date(2022, 5, 11),
    4: date(1900, 1, 1),
}


def spxw_expiries(
    session: date, min_dte: int, max_dte: int, is_session: Callable[[date], bool]
) -> list[date]:
    """SPXW expiries listed on ``session`` with ``min_dte <= DTE <= max_dte``.

    DTE counts calendar days from ``session``. Expiries are exchange sessions.

    Raises:
        ValueError: ``min_dte`` negative or greater than ``max_dte``.
    """
    if min_dte < 0 or min_dte > max_dte:
        raise ValueError(f"bad DTE window [{min_dte}, {max_dte}]")
    found: set[date] = set()
    # Look up to a week past the window: a Friday holiday just beyond it can
    # move its expiry back inside.
    for offset in range(min_dte, max_dte + 8):
        day = session + timedelta(days=offset)
        weekday = day.weekday()
        if weekday > 4 or session < SPXW_WEEKDAY_LAUNCH[weekday]:
            continue
        if is_session(day):
            if offset <= max_dte:
                found.add(day)
        elif weekday == 4:
            # A Friday holiday moves that week's Friday expiry to the session before it.
            earlier = day - timedelta(days=1)
            while not is_session(earlier) and earlier > session:
                earlier -= timedelta(days=1)
            if is_session(earlier) and min_dte <= (earlier - session).days <= max_dte:
                found.add(earlier)
    return sorted(set(found))
