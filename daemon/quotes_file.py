"""Reader for plain option-quote files (one row per quote).

Format: a CSV header with at least ``quote_date,underlying,expiry,strike,right``
and either ``bid,ask`` or ``mid`` (both may be present); other columns are
ignored. One row per quote:

* ``quote_date``, ``expiry``: ISO dates (``2008-10-24``);
* ``underlying``: ``VIX`` (AM-settled on the expiry's special opening
  quotation), ``SPX`` (AM-settled monthly) or ``SPXW`` (PM-settled);
* ``strike``: index points (> 0); ``right``: ``C``/``P`` (or ``call``/``put``);
* ``bid``, ``ask``, ``mid``: index points. The mid is ``(bid + ask) / 2``
  when both are positive; ``bid = ask = 0`` (or empty) means "use the
  ``mid`` column" (Cboe's VXTH file gives only the mid before 2011).

Rows without a usable price (no positive bid/ask pair and no positive mid),
crossed markets, zero strikes and expiries before the quote date (Cboe's VXTH file has a
few with the wrong year) are skipped and counted; a row that cannot be parsed
(bad date, number or right) is an error naming the file and the line.
Example: Cboe's VXTH daily data as described in ``../shared/data/SOURCES.md``
(``vix_options/vxth_vix_calls_2006_2013.csv``).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["REQUIRED_COLUMNS", "QuoteRows", "QuotesFormatError", "is_quotes_file", "read_quotes"]

#: Columns every quotes file must have (plus ``bid,ask`` or ``mid``).
REQUIRED_COLUMNS: tuple[str, ...] = ("quote_date", "underlying", "expiry", "strike", "right")
_UNDERLYINGS = ("VIX", "SPX", "SPXW")
_RIGHTS = {"c": True, "call": True, "p": False, "put": False}


class QuotesFormatError(ValueError):
    """A quotes file cannot be read; the message names the file and line."""


@dataclass(frozen=True, eq=False)
class QuoteRows:
    """The usable quotes of one file (parallel arrays, file order).

    Attributes:
        path: the file.
        line: 1-based line number of each quote in the file.
        quote_date, expiry: ``datetime64[D]``.
        underlying: ``VIX``, ``SPX`` or ``SPXW`` per quote.
        strike, bid, ask, mid: index points (bid = ask = 0 when only a mid was given).
        is_call: True for calls.
        skipped: rows without a usable price, crossed, with a zero strike, or
            expiring before the quote date.
    """

    path: Path
    line: npt.NDArray[np.int64]
    quote_date: npt.NDArray[np.datetime64]
    expiry: npt.NDArray[np.datetime64]
    underlying: npt.NDArray[np.str_]
    strike: npt.NDArray[np.float64]
    is_call: npt.NDArray[np.bool_]
    bid: npt.NDArray[np.float64]
    ask: npt.NDArray[np.float64]
    mid: npt.NDArray[np.float64]
    skipped: int

    def __len__(self) -> int:
        return len(self.strike)


def is_quotes_file(path: Path) -> bool:
    """True if the first non-blank line of ``path`` is a header naming ``quote_date``."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            for raw in fh:
                if raw.strip(" ,\r\n"):
                    cells = [c.strip().lower() for c in raw.split(",")]
                    return "quote_date" in cells
    except OSError:
        return False
    return False


def _number(text: str, path: Path, line: int, column: str, *, empty: float) -> float:
    t = text.strip()
    if not t:
        return empty
    try:
        x = float(t)
    except ValueError:
        raise QuotesFormatError(
            f"{path}: line {line}: column {column}: expected a number, found {t!r}"
        ) from None
    if not math.isfinite(x) or x < 0.0:
        raise QuotesFormatError(
            f"{path}: line {line}: column {column}: expected a number >= 0, found {t!r}"
        )
    return x


def _date(text: str, path: Path, line: int, column: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise QuotesFormatError(
            f"{path}: line {line}: column {column}: expected an ISO date, found {text.strip()!r}"
        ) from None


def read_quotes(path: Path) -> QuoteRows:
    """Read a plain quotes file (format in the module docstring).

    Raises:
        QuotesFormatError: missing file or columns, or a row that cannot be parsed.
    """
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise QuotesFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        header: list[str] | None = None
        cols: dict[str, int] = {}
        out: dict[str, list[object]] = {k: [] for k in QuoteRows.__dataclass_fields__}
        skipped = 0
        for row in reader:
            line = reader.line_num
            if header is None:
                if not any(c.strip() for c in row):
                    continue
                header = [c.strip().lower() for c in row]
                cols = {name: i for i, name in enumerate(header)}
                missing = [c for c in REQUIRED_COLUMNS if c not in cols]
                if "mid" not in cols and not ("bid" in cols and "ask" in cols):
                    missing.append("bid,ask or mid")
                if missing:
                    raise QuotesFormatError(
                        f"{path}: line {line}: header lacks column(s) {', '.join(missing)}"
                    )
                continue
            if not any(c.strip() for c in row):
                continue
            if len(row) < len(header):
                raise QuotesFormatError(
                    f"{path}: line {line}: expected {len(header)} columns, found {len(row)}"
                )

            def cell(name: str, row: list[str] = row, cols: dict[str, int] = cols) -> str:
                return row[cols[name]] if name in cols else ""

            qd = _date(cell("quote_date"), path, line, "quote_date")
            ex = _date(cell("expiry"), path, line, "expiry")
            und = cell("underlying").strip().upper()
            if und not in _UNDERLYINGS:
                raise QuotesFormatError(
                    f"{path}: line {line}: column underlying: expected one of "
                    f"{', '.join(_UNDERLYINGS)}, found {und!r}"
                )
            right = _RIGHTS.get(cell("right").strip().lower())
            if right is None:
                raise QuotesFormatError(
                    f"{path}: line {line}: column right: expected C or P, found "
                    f"{cell('right').strip()!r}"
                )
            strike = _number(cell("strike"), path, line, "strike", empty=0.0)
            if strike <= 0.0 or ex < qd:  # e.g. a year typo in the source: not a quote we can price
                skipped += 1
                continue
            bid = _number(cell("bid"), path, line, "bid", empty=0.0)
            ask = _number(cell("ask"), path, line, "ask", empty=0.0)
            mid_col = _number(cell("mid"), path, line, "mid", empty=0.0)
            if bid > 0.0 and ask > 0.0:
                if ask < bid:
                    skipped += 1
                    continue
                mid = 0.5 * (bid + ask)
            elif mid_col > 0.0:
                bid = ask = 0.0
                mid = mid_col
            else:
                skipped += 1
                continue
            for key, value in (
                ("line", line), ("quote_date", qd), ("expiry", ex), ("underlying", und),
                ("strike", strike), ("is_call", right), ("bid", bid), ("ask", ask), ("mid", mid),
            ):  # fmt: skip
                out[key].append(value)
        if header is None:
            raise QuotesFormatError(f"{path}: line 1: empty file (expected a header)")
    return QuoteRows(
        path=path,
        line=np.array(out["line"], dtype=np.int64),
        quote_date=np.array(out["quote_date"], dtype="datetime64[D]"),
        expiry=np.array(out["expiry"], dtype="datetime64[D]"),
        underlying=np.array(out["underlying"], dtype=np.str_),
        strike=np.array(out["strike"], dtype=np.float64),
        is_call=np.array(out["is_call"], dtype=np.bool_),
        bid=np.array(out["bid"], dtype=np.float64),
        ask=np.array(out["ask"], dtype=np.float64),
        mid=np.array(out["mid"], dtype=np.float64),
        skipped=skipped,
    )
