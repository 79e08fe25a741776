"""Read and validate the CSV files of a market-data bundle, one file at a time.

:data:`FILE_SPECS` names the eight files of a bundle with their exact
headers; :func:`read_csv` parses one of them strictly (header, field count,
ISO dates in ascending order without duplicates, finite numbers, empty cell =
no value) into a :class:`CsvTable`. Every problem raises
:class:`~daemon.marketdata.history.MarketDataError` naming the file and line.
Aligning the tables to sessions is :func:`daemon.marketdata.loader.load_history`'s job.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from daemon.boundedio import (
    MAX_BUNDLE_FILE_BYTES,
    LimitedReadError,
    read_limited_text,
)
from daemon.marketdata.history import FloatArray, MarketDataError

__all__ = ["BUNDLE_DIR", "FILE_SPECS", "FUTURES_RANKS", "CsvTable", "FileSpec", "read_csv"]

#: The bundle shipped inside the package (CSV files plus SOURCES.md).
BUNDLE_DIR = Path(__file__).resolve().parent / "bundle"

#: Number of constant-rank VIX futures columns (M1..M7).
FUTURES_RANKS = 7


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One bundle file: its name, the columns after ``date`` and which must be set."""

    series: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # a row counts as data only if these are non-empty
    #: Inclusive range of believable values (units of the series); anything
    #: outside is a corrupt file, not a market move.
    low: float = 0.0
    high: float = 1e6

    @property
    def filename(self) -> str:
        return f"{self.series}.csv"

    @property
    def header(self) -> tuple[str, ...]:
        return ("date", *self.columns)


_OHLC = ("open", "high", "low", "close")
_FUTURES_COLUMNS = tuple(f"m{k}" for k in range(1, FUTURES_RANKS + 1))

#: The files of a bundle, with their exact headers.
#: Value ranges (inclusive). SPX: index points, its lowest close since 1990
#: was 295 and the bundle never goes below 10 (a close of -1, 0, 1 or 1e308 is
#: corruption). Volatility indexes and futures: vol points, strictly positive
#: (VIX never closed below 8.5 nor above 90; VIX9D's record is about 7); SKEW
#: is defined around 100-170; breadth: NYSE issue counts. The bounds are
#: wide on purpose: they catch corrupt files, not unusual markets.
FILE_SPECS: Mapping[str, FileSpec] = {
    s.series: s
    for s in (
        FileSpec("spx", _OHLC, ("close",), low=10.0, high=1e6),
        FileSpec("vix", _OHLC, ("close",), low=0.5, high=1000.0),
        FileSpec("vix9d", _OHLC, ("close",), low=0.5, high=1000.0),
        FileSpec("vix3m", _OHLC, ("close",), low=0.5, high=1000.0),
        FileSpec("vvix", ("close",), ("close",), low=0.5, high=1000.0),
        FileSpec("skew", ("close",), ("close",), low=50.0, high=500.0),
        FileSpec(
            "vix_futures",
            (*_FUTURES_COLUMNS, "m1_days_to_expiration"),
            ("m1",),
            low=0.5,
            high=1000.0,
        ),
        FileSpec(
            "nyse_breadth",
            ("advancing", "declining", "unchanged"),
            ("advancing", "declining"),
            low=0.0,
            high=100_000.0,
        ),
    )
}


#: Columns whose range differs from their file's: sessions to the M1 expiry.
_COLUMN_RANGES: Mapping[str, tuple[float, float]] = {"m1_days_to_expiration": (0.0, 400.0)}


@dataclass(slots=True)
class CsvTable:
    """One parsed bundle file: row dates, their line numbers, values (NaN = empty cell)."""

    dates: list[date]
    lines: list[int]
    values: FloatArray  # (rows, len(columns))


def read_csv(path: Path, spec: FileSpec) -> CsvTable:
    """Parse one bundle file strictly; every problem names the file and line."""
    if not path.is_file():
        raise MarketDataError(
            f"{path}: file not found (a bundle needs {', '.join(FILE_SPECS)} as CSV files "
            f"with header {','.join(spec.header)})"
        )
    try:
        text = read_limited_text(path, MAX_BUNDLE_FILE_BYTES)
    except LimitedReadError as exc:
        raise MarketDataError(f"{path}: {exc}") from None
    try:
        return _parse(path, spec, text)
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise MarketDataError(f"{path}: malformed CSV: {exc}") from None


def _parse(path: Path, spec: FileSpec, text: str) -> CsvTable:
    """The body of :func:`read_csv` on the file's text."""
    ncols = len(spec.columns)
    dates: list[date] = []
    lines: list[int] = []
    flat: list[float] = []
    nan = math.nan
    fh = io.StringIO(text, newline="")
    reader = csv.reader(fh)
    header = next(reader, None)
    while header is not None and not any(h.strip() for h in header):
        header = next(reader, None)
    if header is None:
        raise MarketDataError(f"{path}: line 1: missing header, expected {','.join(spec.header)}")
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
                    f"{path}: line {line}: duplicate date {d.isoformat()} (also on line {seen[d]})"
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
            if math.isnan(v):
                flat.append(nan)  # an explicit "nan" is a missing value
                continue
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
    _check_ranges(path, spec, values, lines)
    return CsvTable(dates, lines, values)


def _check_ranges(path: Path, spec: FileSpec, values: FloatArray, lines: list[int]) -> None:
    """Refuse the first value outside its column's believable range (vectorised: one pass).

    Raises:
        MarketDataError: naming the file, line, column and value.
    """
    for k, col in enumerate(spec.columns):
        low, high = _COLUMN_RANGES.get(col, (spec.low, spec.high))
        column = values[:, k]
        bad = (column < low) | (column > high)  # NaN compares False: missing is fine
        if bad.any():
            row = int(np.argmax(bad))
            raise MarketDataError(
                f"{path}: line {lines[row]}: column {col}: {column[row]:g} is outside the "
                f"believable range {low:g}..{high:g}"
            )
