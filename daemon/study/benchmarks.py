"""Benchmark series the study reads from files the user gives (never shipped).

* **CNDR** (Cboe S&P 500 Iron Condor Index), daily levels, ``date,CNDR``:
  download ``CNDR_History.csv`` from Cboe's CNDR page
  (https://www.cboe.com/us/indices/dashboard/CNDR, "Historical data"); Cboe's
  terms do not allow redistributing it. Cboe's own file lacks a few days
  (2018-12-03, 2019-07-05, 2020-10-16): the study uses month-end levels.
* **S&P 500 total return**, daily levels, ``date,close`` (any source of the
  S&P 500 Total Return index, e.g. S&P Dow Jones Indices' SPXT history or
  Yahoo Finance ``^SP500TR``); licensed by S&P, so not shipped either.
* **3-month T-bill rate** (FRED ``DTB3``, percent, discount basis, public
  domain), ``observation_date,DTB3`` or ``date,<value>``: the risk-free rate
  of the Sharpe and Sortino ratios. Empty values (holidays) carry the last
  rate forward. The discount rate is converted to the bill's bond-equivalent
  yield (:func:`daemon.marketdata.tbill.bond_equivalent_yield`), the rate the
  replay pays on cash, so the Sharpe ratio's risk-free return is the one the
  replay's cash earned.

Files: a header line, then one row per date; the first column an ISO date
(``YYYY-MM-DD``, or ``MM/DD/YYYY`` as in Cboe's downloads), the value in the
named column or the second column. Rows with an empty or non-numeric value
are skipped.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from daemon.marketdata.tbill import bond_equivalent_yield


class BenchmarkError(ValueError):
    """A benchmark file cannot be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Series:
    """A dated level (or rate) series read from a file, ascending by date."""

    name: str
    path: Path
    dates: tuple[date, ...]
    values: tuple[float, ...]

    def between(self, start: date, end: date) -> Series:
        """The part of the series from ``start`` to ``end`` (inclusive)."""
        pairs = [(d, v) for d, v in zip(self.dates, self.values, strict=True) if start <= d <= end]
        return Series(self.name, self.path, tuple(d for d, _ in pairs), tuple(v for _, v in pairs))

    def on(self, sessions: list[date] | tuple[date, ...]) -> list[float]:
        """The value on each session, the last earlier value carried forward (NaN before any)."""
        out: list[float] = []
        i, last = 0, math.nan
        for session in sessions:
            while i < len(self.dates) and self.dates[i] <= session:
                last = self.values[i]
                i += 1
            out.append(last)
        return out


def _parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.strptime(text, "%m/%d/%Y").date()


def read_series(path: Path, name: str, column: str | None = None) -> Series:
    """Read a ``date,value`` CSV file.

    Args:
        path: the file.
        name: what the series is called in messages and outputs.
        column: the value column's header (case-insensitive); ``None`` for
            the second column.

    Raises:
        BenchmarkError: the file is missing or unreadable, has no such
            column, a date that cannot be read, dates out of order, or no
            value at all.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise BenchmarkError(f"{name} file {path}: {exc.strerror or exc}") from None
    if not rows:
        raise BenchmarkError(f"{name} file {path}: empty")
    header = [h.strip().lower() for h in rows[0]]
    if column is None:
        index = 1
    elif column.lower() in header:
        index = header.index(column.lower())
    else:
        raise BenchmarkError(f"{name} file {path} line 1: no column {column!r} (header {rows[0]})")
    dates: list[date] = []
    values: list[float] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = _parse_date(row[0])
        except ValueError:
            raise BenchmarkError(f"{name} file {path} line {line}: bad date {row[0]!r}") from None
        try:
            value = float(row[index])
        except (IndexError, ValueError):
            continue  # an empty value (holiday) or a note: skip the row
        if not math.isfinite(value):
            continue
        if dates and day <= dates[-1]:
            raise BenchmarkError(
                f"{name} file {path} line {line}: date {day} not after {dates[-1]}"
            )
        dates.append(day)
        values.append(value)
    if not dates:
        raise BenchmarkError(f"{name} file {path}: no values")
    return Series(name, path, tuple(dates), tuple(values))


def read_cndr(path: Path) -> Series:
    """Cboe CNDR levels (column ``CNDR``, else the second column)."""
    return read_series(path, "CNDR", _column_if_present(path, "CNDR"))


def read_sp500tr(path: Path) -> Series:
    """S&P 500 total-return levels (column ``close``, else the second column)."""
    return read_series(path, "S&P 500 TR", _column_if_present(path, "close"))


def read_tbill(path: Path) -> Series:
    """The 3-month T-bill bond-equivalent yield, decimal per year (file: FRED DTB3, %)."""
    raw = read_series(path, "T-bill", _column_if_present(path, "DTB3"))
    return Series(
        raw.name, raw.path, raw.dates, tuple(bond_equivalent_yield(v) for v in raw.values)
    )


def _column_if_present(path: Path, column: str) -> str | None:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline()
    except OSError:
        return None  # read_series reports the problem
    names = [h.strip().lower() for h in header.split(",")]
    return column if column.lower() in names else None


def bundled_tbill() -> Path | None:
    """The T-bill file shipped in the market bundle, if this version ships one."""
    bundle = Path(__file__).resolve().parent.parent / "marketdata" / "bundle"
    found = sorted(bundle.glob("dtb3*.csv"))
    return found[0] if found else None
