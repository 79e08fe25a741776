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
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

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

    @property
    def filename(self) -> str:
        return f"{self.series}.csv"

    @property
    def header(self) -> tuple[str, ...]:
        return ("date", *self.columns)


_OHLC = ("open", "high", "low", "close")
_FUTURES_COLUMNS = tuple(f"m{k}" for k in range(1, FUTURES_RANKS + 1))

#: The files of a bundle, with their exact headers.
FILE_SPECS: Mapping[str, FileSpec] = {
    s.series: s
    for s in (
        FileSpec("spx", _OHLC, ("close",)),
        FileSpec("vix", _OHLC, ("close",)),
        FileSpec("vix9d", _OHLC, ("close",)),
        FileSpec("vix3m", _OHLC, ("close",)),
        FileSpec("vvix", ("close",), ("close",)),
        FileSpec("skew", ("close",), ("close",)),
        FileSpec("vix_futures", (*_FUTURES_COLUMNS, "m1_days_to_expiration"), ("m1",)),
        FileSpec(
            "nyse_breadth", ("advancing", "declining", "unchanged"), ("advancing", "declining")
        ),
    )
}


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
    return CsvTable(dates, lines, values)
