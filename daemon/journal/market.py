"""The ``market_daily`` table (schema version 3): end-of-day market values per session.

One row per exchange session, shared by every run (the market does not depend
on the run): the closes the hedge signals read (VIX, VVIX, SPX), NYSE
advancing and declining issues, and the front and second VIX futures with
their expiries. Written by the live signal source
(:mod:`daemon.marketdata.live_signals`): rows back-filled from IB daily bars
and the row the mark job records after the close. Replay never reads or
writes it (it has the bundle).

A missing value is SQL NULL (NaN in :class:`MarketDayRecord`). Writing a
session that already has a row keeps every old value the new row lacks
(``COALESCE``), so a later write never erases a number.

Units: VIX, VVIX and the futures in VIX points, SPX in index points, breadth
in NYSE issues; sessions are ISO dates (America/New_York), ``recorded_at`` an
ISO 8601 time with its UTC offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from daemon.journal.schema import TABLES

__all__ = ["MARKET_SOURCES", "MarketDayRecord", "market_day_params", "market_day_record"]

#: Allowed ``market_daily.source`` values: IB daily bars (back-fill), the mark
#: job's end-of-day record, and rows written by hand or by tests.
MARKET_SOURCES = ("ib_bars", "mark", "manual")

_COLUMNS = tuple(TABLES["market_daily"]["columns"])
_VALUES = tuple(c for c in _COLUMNS if c not in ("session", "source", "recorded_at"))

#: Upsert of one session's row: values the new row lacks (NULL) keep the old ones.
SQL_UPSERT = (
    f"INSERT INTO market_daily ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT(session) DO UPDATE SET "
    + ", ".join(f"{c} = COALESCE(excluded.{c}, market_daily.{c})" for c in _VALUES)
    + ", source = excluded.source, recorded_at = excluded.recorded_at"
)
SQL_SELECT = (
    f"SELECT {', '.join(_COLUMNS)} FROM market_daily WHERE session >= ? AND session <= ? "
    "ORDER BY session"
)


@dataclass(frozen=True, slots=True)
class MarketDayRecord:
    """One session's end-of-day market values (NaN where unknown).

    Attributes:
        session: the exchange session (America/New_York date).
        vix, vvix: index closes, VIX / VVIX points.
        spx: SPX close, index points.
        advancing, declining: NYSE advancing and declining issues, counts.
        vix_m1, vix_m2: front and second monthly VIX futures' closes, VIX
            points (the front rolls on its expiry day, as in the bundle).
        vix_m1_expiry, vix_m2_expiry: their expiries (``None`` unknown).
        source: one of :data:`MARKET_SOURCES`: who wrote the row last.
        recorded_at: when the row was (last) written.
    """

    session: date
    vix: float = math.nan
    vvix: float = math.nan
    spx: float = math.nan
    advancing: float = math.nan
    declining: float = math.nan
    vix_m1: float = math.nan
    vix_m1_expiry: date | None = None
    vix_m2: float = math.nan
    vix_m2_expiry: date | None = None
    source: str = "manual"
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.source not in MARKET_SOURCES:
            raise ValueError(
                f"market_daily.source must be one of {MARKET_SOURCES}: {self.source!r}"
            )


def _real(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def market_day_params(row: MarketDayRecord, recorded_at: datetime) -> tuple[Any, ...]:
    """The parameters of :data:`SQL_UPSERT` for ``row`` (NaN -> NULL)."""
    return (
        row.session.isoformat(),
        _real(row.vix),
        _real(row.vvix),
        _real(row.spx),
        _real(row.advancing),
        _real(row.declining),
        _real(row.vix_m1),
        row.vix_m1_expiry.isoformat() if row.vix_m1_expiry else None,
        _real(row.vix_m2),
        row.vix_m2_expiry.isoformat() if row.vix_m2_expiry else None,
        row.source,
        recorded_at.isoformat(),
    )


def market_day_record(values: tuple[Any, ...]) -> MarketDayRecord:
    """A :class:`MarketDayRecord` from one row of :data:`SQL_SELECT` (NULL -> NaN)."""
    row = dict(zip(_COLUMNS, values, strict=True))

    def num(name: str) -> float:
        v = row[name]
        return math.nan if v is None else float(v)

    def day(name: str) -> date | None:
        v = row[name]
        return date.fromisoformat(v) if v else None

    stamp = row["recorded_at"]
    return MarketDayRecord(
        session=date.fromisoformat(row["session"]),
        vix=num("vix"),
        vvix=num("vvix"),
        spx=num("spx"),
        advancing=num("advancing"),
        declining=num("declining"),
        vix_m1=num("vix_m1"),
        vix_m1_expiry=day("vix_m1_expiry"),
        vix_m2=num("vix_m2"),
        vix_m2_expiry=day("vix_m2_expiry"),
        source=row["source"] if row["source"] in MARKET_SOURCES else "manual",
        recorded_at=datetime.fromisoformat(stamp) if stamp else None,
    )
