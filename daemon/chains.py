"""Reader for Cboe delayed-quote option-chain downloads (SPX/SPXW and VIX).

Format (``../shared/data/SOURCES.md``, "chains/"): a few preamble lines (blank
or only commas), a line ``<index name>,Last: <underlying>,Change: ...``, a line
``Date: <download time>,Bid: ...``, then the header::

    Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,
    Open Interest,Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest

and one row per (expiry, strike): the call on the left, the put on the right.
Option symbols such as ``SPXW230217P04000000`` carry the trading class
(``SPX`` AM-settled monthly, ``SPXW`` PM-settled, ``VIX``), the expiry, the
right and the strike times 1000.

Units: prices (underlying, bid, ask, strike) in index points; ``iv`` decimal
(Cboe's, e.g. 0.2154); ``delta`` per index point (Cboe's).

**Time caveat.** Cboe computed each file's IV and delta with the time to expiry
measured from the moment of the download (the ``Date:`` line), which can be
days after the quote date (a file saved on a weekend). :attr:`OptionChain.downloaded`
keeps that timestamp and :attr:`OptionChain.quote_time` the moment the quotes
are from (16:00 ET of the quote date, or the download time for an intraday
file); the model check recomputes IV from the mid with time measured from
``quote_time`` (see :mod:`daemon.modelcheck`) so model and market are compared
like with like.

The quote date is taken from the file name (``SPX_2023-02-03.csv``: the file
name is the quote date) when it holds an ISO date, else from the download
time (the download date if downloaded during the session, otherwise the last
weekday on or before the download date).

Robustness: a file that does not follow the layout raises :class:`ChainFormatError`
(from :func:`read_chain`) or is reported and skipped (:func:`read_chains`);
rows that cannot be parsed, quotes with a zero bid or ask, a crossed market,
or no IV are skipped and counted in :attr:`OptionChain.skipped`.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from daemon.boundedio import MAX_CHAIN_BYTES, LimitedReadError, read_limited

__all__ = [
    "HEADER",
    "ChainFormatError",
    "OptionChain",
    "parse_download_time",
    "read_chain",
    "read_chains",
]

FloatArray = npt.NDArray[np.float64]

#: The column header of the quote table (22 columns).
HEADER: tuple[str, ...] = (
    "Expiration Date", "Calls", "Last Sale", "Net", "Bid", "Ask", "Volume", "IV", "Delta",
    "Gamma", "Open Interest", "Strike", "Puts", "Last Sale", "Net", "Bid", "Ask", "Volume",
    "IV", "Delta", "Gamma", "Open Interest",
)  # fmt: skip

#: Largest believable underlying level, index points (SPX is about 6,000).
MAX_UNDERLYING = 1e6

#: Time of the SPX/VIX options close, ET.
CLOSE_TIME = time(16, 0)

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
# Russian genitive month names (one download has a Russian-locale timestamp).
_MONTHS_RU = {
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7,
    "август": 8, "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12,
}  # fmt: skip
_SYMBOL = re.compile(r"^(?P<cls>[A-Z]+?)(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_ISO_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


class ChainFormatError(ValueError):
    """A chain file does not follow the Cboe delayed-quote layout (message names the file)."""


@dataclass(frozen=True, eq=False)
class OptionChain:
    """One chain snapshot as parallel arrays (one entry per usable quote).

    Attributes:
        path: the file read.
        symbol: ``"SPX"`` or ``"VIX"`` (underlying, from the option symbols).
        underlying: the ``Last:`` underlying level, index points (spot; for
            VIX the spot index, not the future).
        quote_date: session date the quotes belong to.
        downloaded: download time from the ``Date:`` line, naive America/New_York.
        quote_time: moment the quotes are from, naive ET: 16:00 on
            ``quote_date`` for end-of-day files, else ``downloaded``.
        intraday: True if downloaded during the quote date's session.
        expiry: expiry date of each quote (``datetime64[D]``).
        strike: strike, index points.
        is_call: True for calls.
        trading_class: ``"SPX"``, ``"SPXW"`` or ``"VIX"`` per quote.
        bid, ask: quotes, index points (both > 0, ``bid <= ask``).
        iv: Cboe's implied vol (decimal, > 0), time measured from ``downloaded``.
        delta: Cboe's delta.
        skipped: reasons for skipped quotes/rows with counts.
    """

    path: Path
    symbol: str
    underlying: float
    quote_date: date
    downloaded: datetime
    quote_time: datetime
    intraday: bool
    expiry: npt.NDArray[np.datetime64]
    strike: FloatArray
    is_call: npt.NDArray[np.bool_]
    trading_class: npt.NDArray[np.str_]
    bid: FloatArray
    ask: FloatArray
    iv: FloatArray
    delta: FloatArray
    skipped: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.strike)

    @property
    def mid(self) -> FloatArray:
        """Mid quotes, index points."""
        return (self.bid + self.ask) * 0.5

    @property
    def expiries(self) -> list[date]:
        """Distinct expiries, ascending."""
        return [d.astype(object) for d in np.unique(self.expiry)]

    def dte(self) -> npt.NDArray[np.int64]:
        """Calendar days from ``quote_date`` to each quote's expiry."""
        return (self.expiry - np.datetime64(self.quote_date, "D")).astype(np.int64)

    def summary(self) -> str:
        """One line: file, symbol, date, quote count and skipped counts."""
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return (
            f"{self.path.name}: {self.symbol} {self.quote_date} underlying {self.underlying:g}, "
            f"{len(self)} quotes, {len(self.expiries)} expiries"
            + (f"; skipped {skipped}" if skipped else "")
        )


def parse_download_time(text: str) -> datetime:
    """Parse the ``Date:`` line's timestamp to a naive America/New_York datetime.

    Handles the variants seen in the downloads, e.g. ``"January 9, 2022, 3:11 AM
    EST"``, ``"February 3, 2023 at 11:24 PM EST"``, ``"10 April 2023, 20:51
    UTC−4"``, ``"8 June 2023 7:56 PM EDT"``, ``"9 декабря 2023 г. в 13:49 GMT-5"``.
    An explicit UTC/GMT offset other than ET's -5/-4 is converted to ET
    (EST -5 is assumed between November and March, EDT -4 otherwise).

    Raises:
        ValueError: if no day, month, year and time can be found.
    """
    s = text.replace("Date:", "").replace("\u2212", "-").strip().strip('"').strip()
    low = s.lower()
    month = None
    for m in re.finditer(r"[a-zа-я]+", low):
        word = m.group(0)
        if word[:3] in _MONTHS and word not in ("at", "est", "edt", "utc", "gmt", "am", "pm"):
            month = _MONTHS[word[:3]]
            break
        for stem, num in _MONTHS_RU.items():
            if word.startswith(stem) and (stem != "ма" or word in ("мая", "май")):
                month = num
                break
        if month is not None:
            break
    year_m = re.search(r"\b(19|20)\d{2}\b", s)
    time_m = re.search(r"\b(\d{1,2}):(\d{2})\s*([AaPp][Mm])?", s)
    if month is None or year_m is None or time_m is None:
        raise ValueError(f"unrecognised download time {text!r}")
    rest = s[: time_m.start()].replace(year_m.group(0), " ")
    day_m = re.search(r"\b(\d{1,2})\b", rest)
    if day_m is None:
        raise ValueError(f"no day of month in download time {text!r}")
    hour, minute = int(time_m.group(1)), int(time_m.group(2))
    ampm = (time_m.group(3) or "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    stamp = datetime(int(year_m.group(0)), month, int(day_m.group(1)), hour, minute)
    off_m = re.search(r"(?:UTC|GMT)\s*([+-])\s*(\d{1,2})", s, flags=re.IGNORECASE)
    if off_m is not None:
        offset = int(off_m.group(2)) * (1 if off_m.group(1) == "+" else -1)
        et_offset = -4 if 3 < stamp.month < 11 else -5
        stamp += timedelta(hours=et_offset - offset)
    return stamp


def _num(cell: str) -> float:
    s = cell.strip()
    return float(s) if s else 0.0


def _previous_weekday(d: date) -> date:
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def read_chain(path: str | Path) -> OptionChain:
    """Read one Cboe delayed-quote chain file.

    Args:
        path: the CSV file.

    Returns:
        The usable quotes (two-sided, IV > 0) as an :class:`OptionChain`.

    Raises:
        ChainFormatError: the file is missing, unreadable, has no ``Last:``,
            ``Date:`` or header line, or not a single usable quote.
    """
    p = Path(path)
    try:
        raw = read_limited(p, MAX_CHAIN_BYTES)
    except LimitedReadError as exc:
        raise ChainFormatError(f"{p}: {exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    name_date = _name_date(p)
    lines = text.splitlines()
    try:
        return _parse_chain(p, lines, name_date)
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise ChainFormatError(f"{p}: malformed CSV: {exc}") from None


def _name_date(p: Path) -> date | None:
    """The quote date an ISO date in the file name gives, or ``None`` if it holds none.

    Raises:
        ChainFormatError: the name holds an impossible date (``SPX_2023-02-30.csv``).
    """
    name_m = _ISO_IN_NAME.search(p.name)
    if name_m is None:
        return None
    try:
        return date.fromisoformat(name_m.group(1))
    except ValueError:
        raise ChainFormatError(
            f"{p}: the file name's date {name_m.group(1)} is not a calendar date"
        ) from None


def _parse_chain(p: Path, lines: list[str], name_date: date | None) -> OptionChain:
    """The body of :func:`read_chain` (after the file is read)."""
    underlying = None
    downloaded = None
    header_at = None
    for n, line in enumerate(lines[:20]):
        cells = next(csv.reader([line]), [])
        if len(cells) >= 2 and cells[1].strip().startswith("Last:") and underlying is None:
            try:
                underlying = float(cells[1].split(":", 1)[1])
                if not 0.0 < underlying < MAX_UNDERLYING:
                    raise ValueError(underlying)
            except ValueError:
                raise ChainFormatError(
                    f"{p}: line {n + 1}: unparsable underlying {cells[1]!r}"
                ) from None
        elif cells and cells[0].strip().strip('"').startswith("Date:") and downloaded is None:
            # unquoted timestamps contain commas: take everything before ",Bid:"
            stamp = cells[0] if cells[0].count(":") > 1 else line.split(",Bid:", 1)[0]
            try:
                downloaded = parse_download_time(stamp)
            except ValueError as exc:
                raise ChainFormatError(f"{p}: line {n + 1}: {exc}") from None
        elif cells and cells[0].strip() == "Expiration Date":
            if tuple(c.strip() for c in cells[: len(HEADER)]) != HEADER:
                raise ChainFormatError(f"{p}: line {n + 1}: unexpected header {line[:120]!r}")
            header_at = n
            break
    if underlying is None or downloaded is None or header_at is None:
        missing = [
            name
            for name, v in (("'Last:'", underlying), ("'Date:'", downloaded), ("header", header_at))
            if v is None
        ]
        raise ChainFormatError(f"{p}: not a Cboe chain download: no {', '.join(missing)} line")

    skipped: Counter[str] = Counter()
    cols: dict[str, list[object]] = {
        k: [] for k in ("expiry", "strike", "call", "cls", "bid", "ask", "iv", "delta")
    }
    for row in csv.reader(lines[header_at + 1 :]):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < len(HEADER):
            skipped["malformed rows"] += 1
            continue
        try:
            strike = float(row[11])
            if not 0.0 < strike < MAX_UNDERLYING:
                raise ValueError(row[11])
            sides = []
            for right_col, base in ((1, 2), (12, 13)):
                m = _SYMBOL.match(row[right_col].strip())
                if m is None:
                    raise ValueError(row[right_col])
                ymd = m.group("ymd")
                expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
                if abs(int(m.group("strike")) / 1000.0 - strike) > 1e-6:
                    raise ValueError("strike mismatch")
                bid, ask = _num(row[base + 2]), _num(row[base + 3])
                iv, delta = _num(row[base + 5]), _num(row[base + 6])
                sides.append((m.group("cls"), expiry, m.group("right") == "C", bid, ask, iv, delta))
        except (ValueError, IndexError):
            skipped["malformed rows"] += 1
            continue
        for cls, expiry, call, bid, ask, iv, delta in sides:
            if not all(math.isfinite(v) for v in (bid, ask, iv, delta)):
                skipped["non-finite numbers"] += 1
            elif bid <= 0.0 or ask <= 0.0:
                skipped["zero bid or ask"] += 1
            elif ask < bid:
                skipped["crossed quotes"] += 1
            elif not iv > 0.0:
                skipped["missing IV"] += 1
            else:
                for k, v in zip(
                    cols, (expiry, strike, call, cls, bid, ask, iv, delta), strict=True
                ):
                    cols[k].append(v)
    if not cols["strike"]:
        why = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items())) or "no rows"
        raise ChainFormatError(f"{p}: no usable quote (two-sided with an IV; skipped {why})")

    classes = set(map(str, cols["cls"]))
    symbol = "VIX" if classes <= {"VIX", "VIXW"} else "SPX"
    intraday = False
    if name_date is not None:
        quote_date = name_date
    else:
        quote_date = _previous_weekday(downloaded.date())
        if downloaded.date() == quote_date and downloaded.time() < time(9, 30):
            quote_date = _previous_weekday(quote_date - timedelta(days=1))
    if downloaded.date() == quote_date and time(9, 30) <= downloaded.time() < CLOSE_TIME:
        intraday = True
    quote_time = downloaded if intraday else datetime.combine(quote_date, CLOSE_TIME)
    return OptionChain(
        path=p,
        symbol=symbol,
        underlying=float(underlying),
        quote_date=quote_date,
        downloaded=downloaded,
        quote_time=quote_time,
        intraday=intraday,
        expiry=np.array(cols["expiry"], dtype="datetime64[D]"),
        strike=np.array(cols["strike"], dtype=np.float64),
        is_call=np.array(cols["call"], dtype=bool),
        trading_class=np.array(cols["cls"], dtype=np.str_),
        bid=np.array(cols["bid"], dtype=np.float64),
        ask=np.array(cols["ask"], dtype=np.float64),
        iv=np.array(cols["iv"], dtype=np.float64),
        delta=np.array(cols["delta"], dtype=np.float64),
        skipped=dict(skipped),
    )


def read_chains(
    paths: Iterable[str | Path],
) -> tuple[list[OptionChain], list[str]]:
    """Read several chain files (a directory expands to its ``*.csv`` files, sorted).

    Returns:
        ``(chains, problems)``: the files read, and one message per file that
        could not be read (malformed files are reported, never raised).
    """
    chains: list[OptionChain] = []
    problems: list[str] = []
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        files.extend(sorted(p.glob("*.csv")) if p.is_dir() else [p])
    for f in files:
        try:
            chains.append(read_chain(f))
        except ChainFormatError as exc:
            problems.append(str(exc))
    return chains, problems
