"""The 3-month Treasury bill rate that cash earns in replay (FRED ``DTB3``, bundled).

``bundle/dtb3.csv`` (``date,dtb3``) is FRED's DTB3 series: the 3-month
(13-week) Treasury bill secondary-market rate, **discount basis, percent**,
one row per business day, empty on bond-market holidays (provenance in
``bundle/SOURCES.md``). A discount rate is not an interest rate: it is the
price discount per year of face value on a 360-day year. To pay interest on
a cash balance it is converted to the bill's **bond-equivalent (investment)
yield**, the simple annual rate on an actual/365 basis that the bill's price
earns to maturity (Treasury's "coupon equivalent"; e.g. Fabozzi, *Bond
Markets, Analysis and Strategies*, ch. on money-market yields)::

    price = 1 - d * t / 360              d = DTB3 / 100, t = 91 days
    bey   = 365 * d / (360 - d * t)      (decimal per year, actual/365)

Interest then accrues as ``balance * bey * days / 365`` over the calendar days
between sessions (:func:`daemon.brokers.interest.accrued_interest`). This is
the same money as the money-market yield ``360 * d / (360 - d * t)`` on an
actual/360 basis: the two conventions only rescale the rate and the day
count together. Calendar days (not sessions) because a bill earns over
weekends and holidays like any other day.

Missing values (holidays) carry the last published rate; so do dates after
the file's last row. A date before the first row has no rate
(:class:`~daemon.marketdata.history.MarketDataError`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from daemon.brokers.interest import CashRate, fixed_rate
from daemon.marketdata.files import BUNDLE_DIR, FileSpec, read_csv
from daemon.marketdata.history import MarketDataError

__all__ = [
    "TBILL_DAYS",
    "TBILL_FILE",
    "TBILL_SPEC",
    "TbillSeries",
    "bond_equivalent_yield",
    "cash_rate",
    "load_tbill",
]

#: Days to maturity of a 13-week (3-month) bill at issue.
TBILL_DAYS = 91
#: The bundle file (FRED DTB3 with the header renamed ``date,dtb3``).
TBILL_FILE = "dtb3.csv"
#: Its header and believable range, percent (DTB3 has ranged -0.05..6.24 since 2000).
TBILL_SPEC = FileSpec("dtb3", ("dtb3",), ("dtb3",), low=-5.0, high=25.0)


def bond_equivalent_yield(discount_pct: float, days: int = TBILL_DAYS) -> float:
    """Bond-equivalent yield (decimal per year, actual/365) of a bill quoted at a discount.

    Args:
        discount_pct: the discount rate, percent (FRED DTB3's unit).
        days: days to maturity (91 for the 3-month bill).

    Returns:
        ``365 d / (360 - d t)`` with ``d = discount_pct / 100`` and ``t = days``;
        e.g. 5.00 -> 0.05134, 0.24 -> 0.002435.
    """
    d = discount_pct / 100.0
    return 365.0 * d / (360.0 - d * days)


@dataclass(frozen=True, slots=True)
class TbillSeries:
    """Published DTB3 observations (holiday rows left out), in date order.

    Attributes:
        dates: observation dates, ascending.
        discount_pct: DTB3 on each date, discount basis, percent.
        source: the file read (for messages).
    """

    dates: tuple[date, ...]
    discount_pct: tuple[float, ...]
    source: str = TBILL_FILE

    def discount_on(self, day: date) -> float:
        """DTB3 in force on ``day``: its own value, else the last one before (percent).

        Raises:
            MarketDataError: ``day`` is before the first observation.
        """
        i = bisect.bisect_right(self.dates, day) - 1
        if i < 0:
            first = self.dates[0].isoformat() if self.dates else "(empty)"
            raise MarketDataError(
                f"{self.source}: no T-bill rate on {day.isoformat()}: the series starts {first}"
                " (set [replay] cash_rate to a number for earlier dates)"
            )
        return self.discount_pct[i]

    def annual_rate(self, day: date) -> float:
        """Bond-equivalent yield in force on ``day``, decimal per year (actual/365)."""
        return bond_equivalent_yield(self.discount_on(day))


def load_tbill(path: Path | None = None) -> TbillSeries:
    """Read the bundled DTB3 file (or ``path``), dropping the empty holiday rows.

    Raises:
        MarketDataError: missing or malformed file, naming file and line.
    """
    path = path if path is not None else BUNDLE_DIR / TBILL_FILE
    table = read_csv(path, TBILL_SPEC)
    pairs = [
        (d, float(v))
        for d, v in zip(table.dates, table.values[:, 0].tolist(), strict=True)
        if not math.isnan(v)
    ]
    if not pairs:
        raise MarketDataError(f"{path}: no T-bill rates")
    dates, values = zip(*pairs, strict=True)
    return TbillSeries(tuple(dates), tuple(values), str(path))


def cash_rate(setting: str | float, start: date, path: Path | None = None) -> CashRate | None:
    """The rate cash earns for the ``[replay] cash_rate`` setting, from ``start`` on.

    ``"tbill"``: the bundled DTB3 (or ``path``) as a bond-equivalent yield; a
    number: that fixed annual rate (decimal); 0: ``None`` (no interest).

    Raises:
        MarketDataError: the T-bill file is missing or malformed, or starts after ``start``.
    """
    if setting == "tbill":
        series = load_tbill(path)
        series.discount_on(start)  # fail now, with the fix in the message, not mid-replay
        return series.annual_rate
    rate = float(setting)
    return None if rate == 0.0 else fixed_rate(rate)
