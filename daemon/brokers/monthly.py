"""Standard monthly SPX expiries (trading class ``SPX``, AM-settled) for the simulated broker.

The standard monthly SPX option expires on the third Friday of its month
(Cboe; OCC "Standard expiration"). When that Friday is not an exchange
session (Good Friday) the expiry moves to the session before it. These
options settle to the special opening quotation (SOQ) of the expiry morning;
the daily bundle has no SOQ series, so the simulated broker uses the SPX
open of the expiry session as its proxy (see
:mod:`daemon.brokers.simulated`). Cboe's CNDR, BXM and PUT indexes trade
this class. The bundle's SPX open equals the previous close on many
sessions of 2006-07 and 2011-13 (the index's stale first print), so on
those expiry days the proxy is the previous close rather than the SOQ.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta


def third_friday(year: int, month: int) -> date:
    """The third Friday of ``month`` (a calendar date, session or not)."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def monthly_expiry(year: int, month: int, is_session: Callable[[date], bool]) -> date:
    """The standard SPX expiry of ``month``: its third Friday, or the session before it."""
    day = third_friday(year, month)
    for _ in range(7):
        if is_session(day):
            return day
        day -= timedelta(days=1)
    return third_friday(year, month)  # no session in the week before: keep the nominal date


def spx_monthly_expiries(
    session: date, min_dte: int, max_dte: int, is_session: Callable[[date], bool]
) -> list[date]:
    """Standard monthly SPX expiries with ``min_dte <= DTE <= max_dte`` calendar days.

    Raises:
        ValueError: ``min_dte`` negative or greater than ``max_dte``.
    """
    if min_dte < 0 or min_dte > max_dte:
        raise ValueError(f"bad DTE window [{min_dte}, {max_dte}]")
    lo, hi = session + timedelta(days=min_dte), session + timedelta(days=max_dte)
    found: list[date] = []
    year, month = lo.year, lo.month
    while date(year, month, 1) <= hi:
        expiry = monthly_expiry(year, month, is_session)
        if lo <= expiry <= hi:
            found.append(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found
