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

Layout: :mod:`~daemon.marketdata.files` reads and validates each CSV file,
:mod:`~daemon.marketdata.history` holds :class:`MarketHistory` (with
:class:`Gap` and the errors); this module aligns the files to the sessions and
builds the history. Their public names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.calendars.vix_expiry import vix_expiry
from daemon.marketdata.files import (
    BUNDLE_DIR,
    FILE_SPECS,
    FUTURES_RANKS,
    CsvTable,
    FileSpec,
    read_csv,
)
from daemon.marketdata.history import (
    SERIES_LABELS,
    DateArray,
    FloatArray,
    Gap,
    MarketDataError,
    MarketHistory,
    NotASessionError,
)

__all__ = [
    "BUNDLE_DIR",
    "FILE_SPECS",
    "FUTURES_RANKS",
    "MAX_FFILL_SESSIONS",
    "SERIES_LABELS",
    "VVIX_FIRST_VALID",
    "DateArray",
    "FloatArray",
    "Gap",
    "MarketDataError",
    "MarketHistory",
    "NotASessionError",
    "load_history",
]

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

_A = TypeVar("_A", bound=np.ndarray)


def _ro(a: _A) -> _A:
    a.flags.writeable = False
    return a


def _real_open(values: FloatArray, real: npt.NDArray[np.bool_]) -> FloatArray:
    """The open column of an ``open,high,low,close`` series where it is a real open.

    NaN on forward-filled rows (a copy of an older row) and on close-only rows
    (open = high = low = close: Cboe's early VIX9D rows carry only a close).
    """
    o, h, lo, c = (values[:, k] for k in range(4))
    close_only = (o == h) & (h == lo) & (lo == c)
    return np.where(real & ~close_only, o, np.nan)


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
    spec: FileSpec,
    table: CsvTable,
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
    table: CsvTable,
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
    tables = {name: read_csv(bundle / spec.filename, spec) for name, spec in FILE_SPECS.items()}

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
        vix_high=_ro(vix[:, 1].copy()),
        vix_close=_ro(vix[:, 3].copy()),
        vix9d_open=_ro(_real_open(aligned["vix9d"], real["vix9d"])),
        vix9d=_ro(aligned["vix9d"][:, 3].copy()),
        vix3m_open=_ro(_real_open(aligned["vix3m"], real["vix3m"])),
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
