"""Load the bundled daily market history into session-aligned numpy columns.

:func:`load_history` reads the eight CSV files of a bundle directory (default
:data:`BUNDLE_DIR`, shipped with the package; provenance and refresh steps in
``bundle/SOURCES.md``) and aligns every series to the NYSE (XNYS) sessions on
which the S&P 500 has a close. The result, :class:`MarketHistory`, is
column-oriented: one float64 array per series, index ``i`` = the ``i``-th
session, ``NaN`` = no value. Replay loops read the arrays directly or call
:meth:`MarketHistory.context` for a :class:`strategies.domain.MarketContext`.

Units: index levels in index points (SPX, VIX, VIX9D, VIX3M, VVIX, SKEW), VIX
futures in VIX points, breadth in NYSE issue counts. Dates are session dates
in America/New_York. All values are end-of-day (Cboe/S&P daily files), except
the ``*_open`` columns.

How the documented quirks of the data are handled:

* **Session alignment.** The history's sessions are the XNYS sessions from the
  first to the last SPX row that have an SPX close. XNYS sessions inside that
  span without an SPX close are *excluded* (not sessions of the history) and
  listed in :attr:`MarketHistory.excluded_sessions`. Rows of any file dated on
  a non-session (from 2022 the Cboe VIX file has rows on NYSE holidays, Cboe
  global trading hours; also 2004-06-11) are dropped and listed in
  :attr:`MarketHistory.dropped_rows`.
* **Different start dates.** Each series is NaN before its first row; that is
  not a gap. :meth:`MarketHistory.coverage` gives each series' span.
* **VVIX before 2007** (sparse, with bad values such as 15.71 on 2006-03-15)
  is discarded.
* **VIX 1990-91 close-only rows** (open = high = low = close): the open is not
  a real open, so ``vix_open`` is NaN on every such row; ``vix_close`` is kept.
  (~47 rows 1992-2006 have open/close outside high-low; high/low are not
  exposed, so nothing is changed.)
* **Gaps** (SKEW 13 sessions in Sep-Oct 2000, breadth 1992-94, single missing
  days): a run of at most :data:`MAX_FFILL_SESSIONS` missing sessions after a
  series has started is forward-filled from the last row; longer runs stay
  NaN. Every run is recorded in :attr:`MarketHistory.gaps`. A run that reaches
  the last session (the series ends earlier than SPX) is treated the same way:
  a one-day lag is filled, VIX futures after 2024-12-31 stay NaN.
* **VIX futures expiries.** ``futures_expiries[i, k]`` is the Cboe-rule expiry
  (:func:`daemon.calendars.vix_expiry.vix_expiry`) of rank ``k + 1`` on
  session ``i``: M1 is the first monthly expiry strictly after the session
  (the series rolls on expiry day). The file's ``m1_days_to_expiration``
  column is used as a cross-check. Despite its name it counts the XNYS
  sessions strictly *between* the date and M1's expiry (trading days to expiry
  minus one), not calendar days. It agrees with the rule on 98.8% of rows; the
  rest are three windows (Aug 2018, Aug 2022, Jun 2024 - in the last two the
  prices roll on the rule's date while the column is a day off), listed in
  :attr:`MarketHistory.expiry_mismatches`.

Loading the full bundle takes about 0.15 s plus the one-off construction of the
exchange calendar (about 0.4 s including the pandas import).
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.calendars.vix_expiry import vix_expiry
from strategies.domain import MarketContext

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

#: The bundle shipped inside the package (CSV files plus SOURCES.md).
BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"

#: Longest run of missing sessions that is forward-filled. A missing print of
#: one to three sessions (a vendor hiccup, a Cboe index not published on a day
#: NYSE traded, a long weekend plus one day) leaves a level that is at most a
#: few days stale, which a daily decision can tolerate; filling longer runs
#: (SKEW's 13 sessions in 2000, months of breadth in 1992-94, futures after
#: 2024) would feed weeks-old numbers to the rules as if they were current, so
#: those stay NaN and the rules see ``None``.
MAX_FFILL_SESSIONS = 3

#: VVIX rows before this date are discarded (2006 is sparse with bad values).
VVIX_FIRST_VALID = date(2007, 1, 1)

#: Number of constant-rank VIX futures columns (M1..M7).
FUTURES_RANKS = 7

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


@dataclass(frozen=True, slots=True)
class _FileSpec:
    """One bundle file: its name, the columns after ``date`` and which must be set."""

    series: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # a row counts as data only if these are non-empty

    @property
    def filename(self) -> str:
        return f"{self.series}.csv"

    @property
    def header(self) -> tuple[str, ...]:
        return ("date", *self.columns)


_OHLC = ("open", "high", "low", "close")
_FUTURES_COLUMNS = tuple(f"m{k}" for k in range(1, FUTURES_RANKS + 1))

#: The files of a bundle, with their exact headers.
FILE_SPECS: Mapping[str, _FileSpec] = {
    s.series: s
    for s in (
        _FileSpec("spx", _OHLC, ("close",)),
        _FileSpec("vix", _OHLC, ("close",)),
        _FileSpec("vix9d", _OHLC, ("close",)),
        _FileSpec("vix3m", _OHLC, ("close",)),
        _FileSpec("vvix", ("close",), ("close",)),
        _FileSpec("skew", ("close",), ("close",)),
        _FileSpec("vix_futures", (*_FUTURES_COLUMNS, "m1_days_to_expiration"), ("m1",)),
        _FileSpec(
            "nyse_breadth", ("advancing", "declining", "unchanged"), ("advancing", "declining")
        ),
    )
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


_A = TypeVar("_A", bound=np.ndarray)


def _ro(a: _A) -> _A:
    a.flags.writeable = False
    return a


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else x


@dataclass(eq=False, repr=False)
class MarketHistory:
    """Daily market history aligned to the sessions of the S&P 500 history.

    Every array has length ``n = len(sessions)`` (``futures`` and
    ``futures_expiries`` have shape ``(n, 7)``, columns M1..M7); index ``i``
    is session ``sessions[i]``; ``NaN`` (``NaT`` for dates) means no value.
    Arrays are read-only. Levels are end-of-day in index points; the
    ``*_open`` arrays are opening levels. ``advancing``/``declining``/
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
    vix_close: FloatArray
    vix9d: FloatArray
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


# -- parsing -------------------------------------------------------------------


@dataclass(slots=True)
class _Table:
    dates: list[date]
    lines: list[int]
    values: FloatArray  # (rows, len(columns))


def _read_csv(path: Path, spec: _FileSpec) -> _Table:
    """Parse one bundle file strictly; every problem names the file and line."""
    if not path.is_file():
        raise MarketDataError(
            f"{path}: file not found (a bundle needs {', '.join(FILE_SPECS)} as CSV files "
            f"with header {','.join(spec.header)})"
        )
    ncols = len(spec.columns)
    dates: list[date] = []
    lines: list[int] = []
    flat: list[float] = []
    nan = math.nan
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise MarketDataError(
                f"{path}: line 1: missing header, expected {','.join(spec.header)}"
            )
        found = tuple(h.strip().lower() for h in header)
        if found != spec.header:
            raise MarketDataError(
                f"{path}: line {reader.line_num}: wrong header {','.join(header)}, "
                f"expected {','.join(spec.header)}"
            )
        prev: date | None = None
        seen: dict[date, int] = {}
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != ncols + 1:
                raise MarketDataError(
                    f"{path}: line {line}: expected {ncols + 1} fields "
                    f"({','.join(spec.header)}), found {len(row)}"
                )
            text = row[0].strip()
            try:
                if len(text) != 10:
                    raise ValueError(text)
                d = date.fromisoformat(text)
            except ValueError:
                raise MarketDataError(
                    f"{path}: line {line}: unparsable date {row[0]!r} (expected YYYY-MM-DD)"
                ) from None
            if prev is not None and d <= prev:
                if d in seen:
                    raise MarketDataError(
                        f"{path}: line {line}: duplicate date {d.isoformat()} "
                        f"(also on line {seen[d]})"
                    )
                raise MarketDataError(
                    f"{path}: line {line}: date {d.isoformat()} is earlier than "
                    f"{prev.isoformat()} on line {lines[-1]}; rows must be in ascending date order"
                )
            for col, cell in zip(spec.columns, row[1:], strict=True):
                s = cell.strip()
                if not s:
                    flat.append(nan)
                    continue
                try:
                    v = float(s)
                except ValueError:
                    raise MarketDataError(
                        f"{path}: line {line}: column {col}: unparsable number {cell!r}"
                    ) from None
                if math.isinf(v):
                    raise MarketDataError(
                        f"{path}: line {line}: column {col}: not a finite number {cell!r}"
                    )
                flat.append(v)
            seen[d] = line
            dates.append(d)
            lines.append(line)
            prev = d
    values = np.array(flat, dtype=np.float64).reshape(len(dates), ncols)
    return _Table(dates, lines, values)


# -- alignment -----------------------------------------------------------------


def _runs(missing: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` index pairs of the runs of True in ``missing``."""
    if not missing.any():
        return []
    padded = np.concatenate(([False], missing, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _align(
    spec: _FileSpec,
    table: _Table,
    index: Mapping[date, int],
    sessions: Sequence[date],
    is_xnys_session: Mapping[date, bool | None],
    dropped: dict[str, list[tuple[date, str]]],
    gaps: list[Gap],
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Place a file's rows on the history's sessions and forward-fill short gaps.

    Returns the aligned ``(n, ncols)`` values and the mask of sessions that
    had a real (unfilled) row.
    """
    n = len(sessions)
    out = np.full((n, len(spec.columns)), np.nan)
    has = np.zeros(n, dtype=bool)
    key_cols = [spec.columns.index(k) for k in spec.key]
    drops = dropped.setdefault(spec.series, [])
    rows: list[int] = []
    where: list[int] = []
    for r, d in enumerate(table.dates):
        i = index.get(d)
        if i is None:
            if spec.series == "vvix" and d < VVIX_FIRST_VALID:
                why = f"before {VVIX_FIRST_VALID.isoformat()} (sparse, bad values)"
            elif is_xnys_session.get(d) is None:
                why = "outside the exchange calendar's range"
            elif not is_xnys_session[d]:
                why = "on dates that are not NYSE sessions"
            else:
                why = "on sessions outside the SPX history"
            drops.append((d, why))
            continue
        if spec.series == "vvix" and d < VVIX_FIRST_VALID:
            drops.append((d, f"before {VVIX_FIRST_VALID.isoformat()} (sparse, bad values)"))
            continue
        rows.append(r)
        where.append(i)
    if rows:
        out[where] = table.values[rows]
        has[where] = ~np.isnan(out[where][:, key_cols]).any(axis=1)
    if not drops:
        del dropped[spec.series]
    if not has.any():
        return out, has
    first = int(np.argmax(has))
    for a, b in _runs(~has[first:]):
        a += first
        b += first
        length = b - a + 1
        fill = length <= MAX_FFILL_SESSIONS
        if fill:
            out[a : b + 1] = out[a - 1]
        gaps.append(Gap(spec.series, sessions[a], sessions[b], length, fill, b == n - 1))
    return out, has


def _futures_expiries(
    sessions: list[date],
    first: int,
    calendar: ExchangeCalendar,
) -> DateArray:
    """Rule-based M1..M7 expiries for sessions ``first..n-1`` (NaT before ``first``)."""
    n = len(sessions)
    out = np.full((n, FUTURES_RANKS), np.datetime64("NaT"), dtype="datetime64[D]")
    if first >= n:
        return out
    expiries: list[date] = []
    year, month = sessions[first].year, sessions[first].month
    horizon = sessions[-1] + timedelta(days=31 * (FUTURES_RANKS + 1))
    while date(year, month, 1) <= horizon:
        try:
            expiries.append(vix_expiry(year, month, calendar.is_session))
        except CalendarError:
            break  # beyond the calendar: later ranks stay NaT
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    exp_arr = np.array(expiries, dtype="datetime64[D]")
    days = np.array(sessions[first:], dtype="datetime64[D]")
    j = np.searchsorted(exp_arr, days, side="right")  # M1 = first expiry strictly after
    for k in range(FUTURES_RANKS):
        ok = j + k < len(exp_arr)
        col = out[first:, k]
        col[ok] = exp_arr[(j + k)[ok]]
    return out


def _check_expiry_column(
    table: _Table,
    calendar: ExchangeCalendar,
    path: Path,
) -> list[tuple[date, date, date]]:
    """Compare ``m1_days_to_expiration`` (sessions strictly before expiry) with the rule."""
    col = table.values[:, FUTURES_RANKS]
    mismatches: list[tuple[date, date, date]] = []
    cache: dict[tuple[int, int], date] = {}
    for d, days, line in zip(table.dates, col.tolist(), table.lines, strict=True):
        if math.isnan(days):
            continue
        if days < 0 or days != int(days):
            raise MarketDataError(
                f"{path}: line {line}: column m1_days_to_expiration: expected a whole "
                f"number of days >= 0, found {days:g}"
            )
        try:
            if not calendar.is_session(d):
                continue
            implied = calendar.add_sessions(d, int(days) + 1)
            ym = (d.year, d.month)
            if ym not in cache:
                cache[ym] = vix_expiry(d.year, d.month, calendar.is_session)
            rule = cache[ym]
            if rule <= d:
                nxt = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
                if nxt not in cache:
                    cache[nxt] = vix_expiry(nxt[0], nxt[1], calendar.is_session)
                rule = cache[nxt]
        except CalendarError:
            continue  # beyond the calendar's range: cannot check
        if implied != rule:
            mismatches.append((d, implied, rule))
    return mismatches


def load_history(
    bundle_dir: Path | None = None, calendar: ExchangeCalendar | None = None
) -> MarketHistory:
    """Read a bundle directory and align every series to the SPX sessions.

    Args:
        bundle_dir: directory holding ``spx.csv``, ``vix.csv``, ``vix9d.csv``,
            ``vix3m.csv``, ``vvix.csv``, ``skew.csv``, ``vix_futures.csv`` and
            ``nyse_breadth.csv`` (headers in :data:`FILE_SPECS`; ISO dates,
            ascending, empty cell = no value). Default: :data:`BUNDLE_DIR`.
        calendar: the XNYS calendar to align to; default
            :func:`daemon.calendars.exchange.default_calendar` (1990-01-01 on).
            SPX rows outside its range are dropped.

    Returns:
        The :class:`MarketHistory` (see the module docstring for the quirks handled).

    Raises:
        MarketDataError: for a missing file, a missing or wrong header, a
            wrong number of fields, an unparsable date or number, a
            duplicated or out-of-order date (message: file, line, problem),
            or if no SPX row falls on a session of the calendar.
    """
    bundle = Path(bundle_dir) if bundle_dir is not None else BUNDLE_DIR
    cal = calendar if calendar is not None else default_calendar()
    tables = {name: _read_csv(bundle / spec.filename, spec) for name, spec in FILE_SPECS.items()}

    all_dates = {d for t in tables.values() for d in t.dates}
    is_xnys: dict[date, bool | None] = {}  # None: outside the calendar's range
    for d in all_dates:
        try:
            is_xnys[d] = cal.is_session(d)
        except CalendarError:
            is_xnys[d] = None

    spx = tables["spx"]
    spx_close_col = FILE_SPECS["spx"].columns.index("close")
    with_close = [
        d
        for d, c in zip(spx.dates, spx.values[:, spx_close_col].tolist(), strict=True)
        if is_xnys[d] and not math.isnan(c)
    ]
    if not with_close:
        raise MarketDataError(
            f"{bundle / 'spx.csv'}: no row with a close falls on an NYSE session of the "
            f"calendar ({cal.range_start}..{cal.range_end})"
        )
    span = cal.sessions(with_close[0], with_close[-1])
    close_set = set(with_close)
    sessions = [d for d in span if d in close_set]
    excluded = tuple(d for d in span if d not in close_set)
    index = {d: i for i, d in enumerate(sessions)}
    n = len(sessions)

    dropped: dict[str, list[tuple[date, str]]] = {}
    gaps: list[Gap] = []
    aligned: dict[str, FloatArray] = {}
    real: dict[str, npt.NDArray[np.bool_]] = {}
    for name, spec in FILE_SPECS.items():
        aligned[name], real[name] = _align(
            spec, tables[name], index, sessions, is_xnys, dropped, gaps
        )
    # SPX rows on sessions but without a close are reported as excluded, not dropped.
    if "spx" in dropped:
        excluded_set = set(excluded)
        dropped["spx"] = [(d, why) for d, why in dropped["spx"] if d not in excluded_set]
        if not dropped["spx"]:
            del dropped["spx"]

    notes: list[str] = []
    vix = aligned["vix"]
    close_only = real["vix"] & (vix[:, 0] == vix[:, 1]) & (vix[:, 1] == vix[:, 2])
    close_only &= vix[:, 2] == vix[:, 3]
    vix_open = vix[:, 0].copy()
    vix_open[close_only] = np.nan
    # A forward-filled row copies its source row, so blank its open too.
    for g in gaps:
        if g.series == "vix" and g.filled:
            a = index[g.first]
            if close_only[a - 1]:
                vix_open[a : index[g.last] + 1] = np.nan
    if close_only.any():
        years = sorted({sessions[i].year for i in np.flatnonzero(close_only)})
        notes.append(
            f"vix.csv: {int(close_only.sum())} close-only rows (open = high = low = close, "
            f"years {', '.join(map(str, years))}): vix_open set to NaN"
        )

    fut = aligned["vix_futures"]
    first_fut = int(np.argmax(real["vix_futures"])) if real["vix_futures"].any() else n
    expiries = _futures_expiries(sessions, first_fut, cal)
    mismatches = _check_expiry_column(tables["vix_futures"], cal, bundle / "vix_futures.csv")
    if tables["vix_futures"].dates:
        notes.append(
            f"vix_futures.csv: m1_days_to_expiration agrees with the Cboe expiry rule on "
            f"{len(tables['vix_futures'].dates) - len(mismatches)} of "
            f"{len(tables['vix_futures'].dates)} rows"
        )

    coverage: dict[str, tuple[int, int]] = {}
    for name, spec in FILE_SPECS.items():
        key = [spec.columns.index(k) for k in spec.key]
        ok = ~np.isnan(aligned[name][:, key]).any(axis=1)
        if ok.any():
            hits = np.flatnonzero(ok)
            coverage[name] = (int(hits[0]), int(hits[-1]))

    gaps.sort(key=lambda g: (list(FILE_SPECS).index(g.series), g.first))
    spx_v = aligned["spx"]
    breadth = aligned["nyse_breadth"]
    return MarketHistory(
        sessions=sessions,
        session_array=_ro(np.array(sessions, dtype="datetime64[D]")),
        spx_open=_ro(spx_v[:, 0].copy()),
        spx_high=_ro(spx_v[:, 1].copy()),
        spx_low=_ro(spx_v[:, 2].copy()),
        spx_close=_ro(spx_v[:, 3].copy()),
        vix_open=_ro(vix_open),
        vix_close=_ro(vix[:, 3].copy()),
        vix9d=_ro(aligned["vix9d"][:, 3].copy()),
        vix3m=_ro(aligned["vix3m"][:, 3].copy()),
        vvix=_ro(aligned["vvix"][:, 0].copy()),
        skew=_ro(aligned["skew"][:, 0].copy()),
        advancing=_ro(breadth[:, 0].copy()),
        declining=_ro(breadth[:, 1].copy()),
        unchanged=_ro(breadth[:, 2].copy()),
        futures=_ro(np.ascontiguousarray(fut[:, :FUTURES_RANKS])),
        futures_expiries=_ro(expiries),
        calendar=cal,
        bundle_dir=bundle,
        gaps=tuple(gaps),
        dropped_rows={k: tuple(v) for k, v in dropped.items()},
        excluded_sessions=excluded,
        expiry_mismatches=tuple(mismatches),
        notes=tuple(notes),
        _index=index,
        _coverage=coverage,
    )
