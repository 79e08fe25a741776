"""The session-aligned daily market history: :class:`MarketHistory` and its gaps and errors.

A :class:`MarketHistory` is built by :func:`daemon.marketdata.loader.load_history`
(see that module for how the bundle's quirks are handled); this module holds
the object itself: column-oriented float64 arrays indexed by session, with
lookups by date (:meth:`MarketHistory.index_of`), ranges that must be covered
by given series (:meth:`MarketHistory.range_indices`), the end-of-day
:class:`strategies.domain.MarketContext` of a session
(:meth:`MarketHistory.context`) and the loader's report.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from daemon.calendars.exchange import CalendarError, ExchangeCalendar
from strategies.domain import MarketContext

__all__ = [
    "SERIES_LABELS",
    "DateArray",
    "FloatArray",
    "Gap",
    "MarketDataError",
    "MarketHistory",
    "NotASessionError",
]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

#: Human-readable name of each series, as used in messages.
SERIES_LABELS: Mapping[str, str] = {
    "spx": "SPX",
    "vix": "VIX",
    "vix9d": "VIX9D",
    "vix3m": "VIX3M",
    "vvix": "VVIX",
    "skew": "SKEW",
    "vix_futures": "VIX futures",
    "nyse_breadth": "NYSE breadth",
}


class MarketDataError(ValueError):
    """A bundle file is missing or malformed, or a request is outside the data.

    File problems read ``"<path>: line <n>: <problem>"``.
    """


class NotASessionError(MarketDataError, KeyError):
    """A date is not a session of the history (also a ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True, slots=True)
class Gap:
    """A run of consecutive history sessions on which a series had no row.

    Attributes:
        series: the series (file stem), e.g. ``"skew"``.
        first, last: first and last missing session (inclusive).
        sessions: length of the run in history sessions.
        filled: whether the run was forward-filled (``sessions <= MAX_FFILL_SESSIONS``).
        at_end: whether the run reaches the last session of the history (the
            series ends before SPX does).
    """

    series: str
    first: date
    last: date
    sessions: int
    filled: bool
    at_end: bool = False

    def describe(self) -> str:
        """One line, e.g. ``"SKEW: 13 sessions 2000-09-20..2000-10-06 missing, left NaN"``."""
        what = "forward-filled" if self.filled else "left NaN"
        tail = " (series ends)" if self.at_end else ""
        span = (
            self.first.isoformat()
            if self.first == self.last
            else f"{self.first.isoformat()}..{self.last.isoformat()}"
        )
        plural = "session" if self.sessions == 1 else "sessions"
        return (
            f"{SERIES_LABELS[self.series]}: {self.sessions} {plural} {span} missing{tail}, {what}"
        )


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(eq=False, repr=False)
class MarketHistory:
    """Daily market history aligned to the sessions of the S&P 500 history.

    Every array has length ``n = len(sessions)`` (``futures`` and
    ``futures_expiries`` have shape ``(n, 7)``, columns M1..M7); index ``i``
    is session ``sessions[i]``; ``NaN`` (``NaT`` for dates) means no value.
    Arrays are read-only. Levels are end-of-day in index points; the
    ``*_open`` arrays are opening levels (NaN where the file has none, or
    only a close copied into open/high/low) and ``spx_high``/``spx_low``/
    ``vix_high`` the session's range. What a job may see of a session
    before its close is :mod:`daemon.marketdata.visibility`'s business. ``advancing``/``declining``/
    ``unchanged`` are NYSE issue counts stored as float64 (NaN = unknown).

    Attributes:
        sessions: session dates (America/New_York), ascending.
        session_array: the same as ``datetime64[D]``.
        futures: VIX futures settlements by constant rank, VIX points.
        futures_expiries: expiry (final settlement date) of each rank per
            session, ``datetime64[D]``; NaT before the futures file starts.
        gaps: every run of missing sessions of every series (see :class:`Gap`).
        dropped_rows: per file, the dates of rows that were not used
            (non-session dates, dates outside the SPX history, VVIX before 2007).
        excluded_sessions: XNYS sessions inside the SPX span without an SPX close.
        expiry_mismatches: ``(session, expiry implied by m1_days_to_expiration,
            expiry by the Cboe rule)`` where they differ; the rule is used.
        notes: other remarks made while loading.
        calendar: the exchange calendar the history was aligned to.
        bundle_dir: where the CSV files were read from.
    """

    sessions: list[date]
    session_array: DateArray
    spx_open: FloatArray
    spx_high: FloatArray
    spx_low: FloatArray
    spx_close: FloatArray
    vix_open: FloatArray
    vix_high: FloatArray
    vix_close: FloatArray
    vix9d_open: FloatArray
    vix9d: FloatArray
    vix3m_open: FloatArray
    vix3m: FloatArray
    vvix: FloatArray
    skew: FloatArray
    advancing: FloatArray
    declining: FloatArray
    unchanged: FloatArray
    futures: FloatArray
    futures_expiries: DateArray
    calendar: ExchangeCalendar
    bundle_dir: Path
    gaps: tuple[Gap, ...] = ()
    dropped_rows: Mapping[str, tuple[tuple[date, str], ...]] = field(default_factory=dict)
    excluded_sessions: tuple[date, ...] = ()
    expiry_mismatches: tuple[tuple[date, date, date], ...] = ()
    notes: tuple[str, ...] = ()
    _index: dict[date, int] = field(default_factory=dict, repr=False)
    _coverage: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        return (
            f"MarketHistory({len(self.sessions)} sessions "
            f"{self.first_session.isoformat()}..{self.last_session.isoformat()}, "
            f"{len(self.gaps)} gaps, bundle={str(self.bundle_dir)!r})"
        )

    @property
    def first_session(self) -> date:
        """First session of the history (first SPX close)."""
        return self.sessions[0]

    @property
    def last_session(self) -> date:
        """Last session of the history (last SPX close)."""
        return self.sessions[-1]

    def index_of(self, d: date) -> int:
        """Position of session ``d`` in :attr:`sessions`. O(1).

        Raises:
            NotASessionError: (a ``KeyError`` and a :class:`MarketDataError`)
                if ``d`` is not a session of the history, saying why.
        """
        try:
            return self._index[d]
        except KeyError:
            pass
        if d < self.first_session or d > self.last_session:
            why = f"outside the history {self.first_session}..{self.last_session}"
        elif d in self.excluded_sessions:
            why = "an NYSE session without an SPX close in the bundle"
        else:
            why = "not an NYSE session (weekend or holiday)"
        raise NotASessionError(f"{d.isoformat()} is not a session of the market history: {why}")

    def coverage(self, series: str) -> tuple[date, date] | None:
        """First and last session on which ``series`` has a value (after filling).

        ``series`` is a file stem (``"vix"``, ``"vix_futures"``, ...). Returns
        ``None`` if the series has no value at all.

        Raises:
            KeyError: for an unknown series name.
        """
        if series not in SERIES_LABELS:
            raise KeyError(f"unknown series {series!r}; known: {', '.join(SERIES_LABELS)}")
        span = self._coverage.get(series)
        if span is None:
            return None
        return self.sessions[span[0]], self.sessions[span[1]]

    def range_indices(self, start: date, end: date, require: Iterable[str] = ()) -> range:
        """Indices of the sessions ``d`` with ``start <= d <= end`` (inclusive).

        Args:
            start, end: calendar dates (need not be sessions).
            require: series (file stems, e.g. ``("vix_futures",)``) that must
                have data over the whole range; SPX always must.

        Raises:
            MarketDataError: if ``start > end``; if the range reaches an NYSE
                session before the first or after the last SPX close ("no SPX
                data before 1990-01-02"); if a required series starts after
                the range does or ends before it does ("no VIX futures data
                after 2024-12-31"); or if no session lies in the range.
        """
        if start > end:
            raise MarketDataError(f"start {start.isoformat()} is after end {end.isoformat()}")
        if start < self.first_session and self._has_calendar_session(
            start, self.first_session - timedelta(days=1)
        ):
            raise MarketDataError(
                f"no SPX data before {self.first_session.isoformat()} "
                f"(requested start {start.isoformat()})"
            )
        if end > self.last_session and self._has_calendar_session(
            self.last_session + timedelta(days=1), end
        ):
            raise MarketDataError(
                f"no SPX data after {self.last_session.isoformat()} "
                f"(requested end {end.isoformat()})"
            )
        lo = bisect.bisect_left(self.sessions, start)
        hi = bisect.bisect_right(self.sessions, end)
        if lo >= hi:
            raise MarketDataError(f"no sessions between {start.isoformat()} and {end.isoformat()}")
        for series in require:
            label = SERIES_LABELS.get(series)
            if label is None:
                raise MarketDataError(
                    f"unknown series {series!r}; known: {', '.join(SERIES_LABELS)}"
                )
            span = self._coverage.get(series)
            if span is None:
                raise MarketDataError(f"no {label} data in the bundle")
            if lo < span[0]:
                raise MarketDataError(
                    f"no {label} data before {self.sessions[span[0]].isoformat()} "
                    f"(requested start {start.isoformat()})"
                )
            if hi - 1 > span[1]:
                raise MarketDataError(
                    f"no {label} data after {self.sessions[span[1]].isoformat()} "
                    f"(requested end {end.isoformat()})"
                )
        return range(lo, hi)

    def _has_calendar_session(self, start: date, end: date) -> bool:
        try:
            return bool(self.calendar.sessions(start, end))
        except CalendarError:
            return True  # the calendar cannot vouch for those dates: treat as missing data

    def context(self, i: int) -> MarketContext:
        """The end-of-day :class:`MarketContext` of session ``i``.

        Optional series with no value are ``None``; ``vix_futures`` maps each
        expiry to its settlement for the ranks that have one (empty after
        2024-12-31).

        Raises:
            IndexError: if ``i`` is not in ``range(len(self))``.
            MarketDataError: if VIX (required by ``MarketContext``) has no
                value on that session.
        """
        if not 0 <= i < len(self.sessions):
            raise IndexError(f"session index {i} out of range 0..{len(self.sessions) - 1}")
        session = self.sessions[i]
        vix = float(self.vix_close[i])
        if math.isnan(vix):
            raise MarketDataError(f"no VIX close on {session.isoformat()}")
        curve: dict[date, float] = {}
        prices = self.futures[i]
        if not np.isnan(prices[0]):
            for expiry, price in zip(
                self.futures_expiries[i].tolist(), prices.tolist(), strict=True
            ):
                if expiry is not None and not math.isnan(price):
                    curve[expiry] = price
        adv = float(self.advancing[i])
        dec = float(self.declining[i])
        return MarketContext(
            session=session,
            spx=float(self.spx_close[i]),
            vix=vix,
            vix9d=_opt(float(self.vix9d[i])),
            vix3m=_opt(float(self.vix3m[i])),
            vvix=_opt(float(self.vvix[i])),
            skew=_opt(float(self.skew[i])),
            vix_futures=curve,
            advancing=None if math.isnan(adv) else int(adv),
            declining=None if math.isnan(dec) else int(dec),
        )

    def gap_report(self) -> list[str]:
        """One line per gap (series, missing span, length, filled or not), by series then date."""
        return [g.describe() for g in self.gaps]

    def report(self) -> list[str]:
        """Everything the loader changed or noticed: notes, dropped rows, exclusions, gaps."""
        lines = list(self.notes)
        for series, rows in self.dropped_rows.items():
            reasons: dict[str, list[date]] = {}
            for d, why in rows:
                reasons.setdefault(why, []).append(d)
            for why, ds in reasons.items():
                shown = ", ".join(x.isoformat() for x in ds[:5]) + (" ..." if len(ds) > 5 else "")
                lines.append(f"{series}.csv: dropped {len(ds)} rows {why}: {shown}")
        if self.excluded_sessions:
            shown = ", ".join(d.isoformat() for d in self.excluded_sessions[:10])
            lines.append(
                f"{len(self.excluded_sessions)} NYSE sessions without an SPX close are not "
                f"sessions of the history: {shown}"
            )
        if self.expiry_mismatches:
            lines.append(
                f"vix_futures.csv: m1_days_to_expiration disagrees with the Cboe expiry rule on "
                f"{len(self.expiry_mismatches)} rows (first {self.expiry_mismatches[0][0]}); "
                "the rule is used"
            )
        lines.extend(self.gap_report())
        return lines
