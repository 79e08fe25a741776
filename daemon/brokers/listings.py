"""Which options were listed on a given date, for the simulated broker.

Live trading reads listings from the broker (``reqSecDefOptParams``); replay
needs the historical listing calendar instead, so it trades nothing that did
not exist yet. :data:`LISTINGS` is the sourced table of when each product or
expiry kind became tradable; the functions here read it and nothing else.

SPXW (PM-settled SPX weeklys) per Cboe launch notices (see each
:class:`Listing`'s ``source``):

* Friday expiries from 2005-10-28. A Friday holiday moves the expiry to the
  preceding session (e.g. Good Friday).
* Wednesday expiries listed from 2016-02-23 (first expiry 2016-03-02), Monday
  from 2016-08-15 (first expiry 2016-08-22), Tuesday from 2022-04-18 and
  Thursday from 2022-05-11. A holiday on these days means no expiry that
  week for that weekday.

Simplifications (stated, not modelled): before 2014 Cboe listed fewer Friday
weeklys at a time (up to six from January 2014, Cboe RG14-010), and
end-of-month expiries (SPXW, from 2014-07-07) are in the table as a reference
but not simulated: their Tuesday/Thursday month-ends before 2022 would
otherwise change replay results.

VIX options: the standard monthly expiries only (Wednesday 30 days before the
following month's third Friday; see :mod:`daemon.calendars.vix_expiry`), not
before the first trading day 2006-02-24. VIX weeklys are not simulated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class Listing:
    """When one product or expiry kind became tradable.

    Attributes:
        symbol: underlying symbol (``"SPX"``, ``"VIX"``).
        trading_class: IB trading class the expiries are listed under.
        kind: which expiries (``"Friday"``, ``"Wednesday"``, ``"monthly"``, ...).
        listed: first session the series could be traded.
        first_expiry: earliest expiry of that kind (``None``: any after ``listed``).
        source: the public notice the dates come from (title, publisher, date).
    """

    symbol: str
    trading_class: str
    kind: str
    listed: date
    first_expiry: date | None
    source: str


SPXW_FRIDAY = Listing(
    "SPX", "SPXW", "Friday", date(2005, 10, 28), None,
    "Cboe, 'Weeklys Options' product page: Cboe introduced Weeklys in October 2005 "
    "(SPX Weeklys first listed 2005-10-28); Cboe Options Hub, 'CBOE Launches New "
    "S&P 500 End-Of-Month Options' (2014-08-05): 'the 2005 launch of S&P 500 Weekly options'",
)  # fmt: skip
SPXW_WEDNESDAY = Listing(
    "SPX", "SPXW", "Wednesday", date(2016, 2, 23), date(2016, 3, 2),
    "Cboe Options Hub blog (2016-02-22): 'Beginning Tuesday, February 23, CBOE will list "
    "... SPX Wednesday Weeklys'; first series expire 2016-03-02 and 2016-03-09",
)  # fmt: skip
SPXW_MONDAY = Listing(
    "SPX", "SPXW", "Monday", date(2016, 8, 15), date(2016, 8, 22),
    "Cboe press release 'CBOE to List SPX Monday-Expiring Weeklys Options' (2016-07-12): "
    "listed from 2016-08-15, initial expirations 2016-08-22 and 2016-08-29; Cboe Options "
    "Hub 'Successful Launch of New SPX Monday-Expiring Weeklys Options' (2016-08-17)",
)  # fmt: skip
SPXW_TUESDAY = Listing(
    "SPX", "SPXW", "Tuesday", date(2022, 4, 18), None,
    "Cboe press release 'Cboe to Add Tuesday, Thursday Expirations for SPX Weeklys "
    "Options' (April 2022, via Traders Magazine): Tuesday expirations beginning "
    "Monday, April 18 [2022]",
)  # fmt: skip
SPXW_THURSDAY = Listing(
    "SPX", "SPXW", "Thursday", date(2022, 5, 11), None,
    "Cboe press release 'Cboe to Add Tuesday, Thursday Expirations for SPX Weeklys "
    "Options' (April 2022, via Traders Magazine): Thursday expirations beginning "
    "Wednesday, May 11 [2022]",
)  # fmt: skip
SPXW_END_OF_MONTH = Listing(
    "SPX", "SPXW", "end-of-month", date(2014, 7, 7), None,
    "Cboe Options Hub 'New S&P 500 End-of-Month Options to Launch in July' (2014-05-29): "
    "'Effective July 7, 2014 ... under the SPXW options root'. Not simulated.",
)  # fmt: skip
VIX_MONTHLY = Listing(
    "VIX", "VIX", "monthly", date(2006, 2, 24), None,
    "CBOE press release 'CBOE To Begin Trading Options On The CBOE Volatility Index (VIX) "
    "On Friday, February 24, 2006' (2006-02-21); 'CBOE Volatility Index (VIX) Options Make "
    "Successful Debut' (2006-02-27): first trading day 2006-02-24",
)  # fmt: skip

#: Every sourced listing date, earliest first.
LISTINGS: tuple[Listing, ...] = tuple(
    sorted(
        (SPXW_FRIDAY, VIX_MONTHLY, SPXW_END_OF_MONTH, SPXW_WEDNESDAY, SPXW_MONDAY,
         SPXW_TUESDAY, SPXW_THURSDAY),
        key=lambda item: item.listed,
    )
)  # fmt: skip

#: SPXW listing of each expiry weekday (Monday = 0) that the simulated broker lists.
SPXW_WEEKDAYS: dict[int, Listing] = {
    0: SPXW_MONDAY,
    1: SPXW_TUESDAY,
    2: SPXW_WEDNESDAY,
    3: SPXW_THURSDAY,
    4: SPXW_FRIDAY,
}

#: First listing date of each SPXW expiry weekday (Monday = 0).
SPXW_WEEKDAY_LAUNCH: dict[int, date] = {day: item.listed for day, item in SPXW_WEEKDAYS.items()}


def _listed(item: Listing, session: date, expiry: date) -> bool:
    return session >= item.listed and (item.first_expiry is None or expiry >= item.first_expiry)


def first_listed(symbol: str, trading_class: str) -> Listing | None:
    """The earliest simulated listing of ``symbol``/``trading_class`` (``None``: none)."""
    if (symbol, trading_class) == ("SPX", "SPXW"):
        return SPXW_FRIDAY
    if (symbol, trading_class) == ("VIX", "VIX"):
        return VIX_MONTHLY
    return None


def not_listed_reason(
    symbol: str, trading_class: str, session: date, min_dte: int, max_dte: int
) -> str | None:
    """Why ``symbol``/``trading_class`` had no listed options on ``session``, or ``None``.

    ``None`` once the product's first series was listed (an empty DTE window
    after that is an ordinary "no expiry" for the rule to report).
    """
    item = first_listed(symbol, trading_class)
    if item is None or session >= item.listed:
        return None
    if trading_class == "SPXW":
        why = (
            f"SPX Weeklys (SPXW) began {item.listed.isoformat()}; monthly SPX (AM-settled) "
            "is a different trading class"
        )
    else:
        why = f"{symbol} options first traded {item.listed.isoformat()}"
    return (
        f"no {trading_class} expiry listed in {min_dte}-{max_dte} DTE on "
        f"{session.isoformat()}: {why}"
    )


def vix_listed(session: date, expiries: list[date]) -> list[date]:
    """The VIX monthly ``expiries`` that were listed on ``session`` (none before 2006-02-24)."""
    return [e for e in expiries if _listed(VIX_MONTHLY, session, e)]


def spxw_expiries(
    session: date, min_dte: int, max_dte: int, is_session: Callable[[date], bool]
) -> list[date]:
    """SPXW expiries listed on ``session`` with ``min_dte <= DTE <= max_dte``.

    DTE counts calendar days from ``session``. Expiries are exchange sessions.
    An expiry weekday counts from its :data:`SPXW_WEEKDAYS` listing date (and,
    where the notice names one, not before its first expiry).

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
        if weekday > 4 or not _listed(SPXW_WEEKDAYS[weekday], session, day):
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
    return sorted(found)


def listing_notes(start: date, products: list[tuple[str, str]]) -> list[str]:
    """One line per ``(symbol, trading_class)`` first listed after ``start``.

    The replay prints these after its summary so a range that begins before a
    product existed says why nothing (or less) was traded; the per-session
    reasons are the journaled SKIPs.
    """
    notes = []
    for symbol, trading_class in products:
        item = first_listed(symbol, trading_class)
        if item is not None and start < item.listed:
            notes.append(
                f"note: {symbol} {trading_class} options were first listed "
                f"{item.listed.isoformat()}; entries before then are journaled skips"
            )
    return notes
