"""The macro-event calendar: FOMC statements, CPI and PPI releases, user events.

The package ships ``daemon/calendars/data/macro_events.csv`` (2006-01 ..
2027-12; provenance and confirmation grades in ``data/SOURCES.md`` next to it).
Users may add events, or correct shipped ones, with a CSV file of the same
columns (see :meth:`MacroCalendar.load`), or import an iCalendar file with
:mod:`daemon.calendars.ics`.

CSV format (UTF-8, header required, one record per physical line)::

    date,time_et,event,scheduled,grade,source
    2024-03-20,14:00,FOMC,true,A,FED_PRESS_RELEASE;MARGARET2931
    2008-01-22,,FOMC,false,A,MARGARET2931

* ``date``: ``YYYY-MM-DD``, the event's date in America/New_York.
* ``time_et``: ``HH:MM`` (24 h) wall-clock time in America/New_York, or blank
  when unknown (some unscheduled FOMC actions). A wall time keeps its meaning
  across daylight-saving changes: 08:30 is 08:30 EST in January and 08:30 EDT
  in July.
* ``event``: ``FOMC`` (statement release), ``CPI``, ``PPI`` (release at
  08:30 ET), or any other name for a user-defined event. The three known
  kinds are matched case-insensitively and stored upper-case.
* ``scheduled``: ``true``/``false`` (also ``yes``/``no``, ``1``/``0``);
  ``false`` marks an unscheduled action that was not known in advance.
  Optional in user files (default ``true``).
* ``grade``: ``A``, ``B``, ``C`` (see ``data/SOURCES.md``) or ``user``.
  Optional in user files (default ``user``).
* ``source``: free text, ``;``-separated source tags. Optional in user files
  (default ``user:<file name>``).

Blank lines and lines whose first cell starts with ``#`` are ignored. Any other
problem (bad date, bad time, unknown column, the same date and event twice in
one file, ...) raises :class:`CalendarFileError` naming the file and line.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Final, Literal

from daemon.boundedio import MAX_CALENDAR_BYTES, LimitedReadError, read_limited
from daemon.clock import NEW_YORK
from daemon.strictmodel import bad_text

__all__ = [
    "COLUMNS",
    "KNOWN_KINDS",
    "SHIPPED_FILE",
    "CalendarFileError",
    "Grade",
    "MacroCalendar",
    "MacroEvent",
    "normalize_kind",
    "parse_calendar_csv",
    "shipped_events",
]

#: Longest event name, characters.
MAX_EVENT_NAME: Final = 200

#: Event kinds the daemon knows; any other ``event`` text is a user-defined kind.
KNOWN_KINDS: Final = ("FOMC", "CPI", "PPI")

#: CSV columns, in the shipped file's order.
COLUMNS: Final = ("date", "time_et", "event", "scheduled", "grade", "source")
_REQUIRED: Final = ("date", "time_et", "event")

#: Confirmation grade: A/B/C for shipped rows (see data/SOURCES.md), "user" for user rows.
Grade = Literal["A", "B", "C", "user"]
_GRADES: Final = ("A", "B", "C", "user")

#: Display name of the shipped file in error messages and ``source`` fields.
SHIPPED_FILE: Final = "daemon/calendars/data/macro_events.csv"

_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})
_KIND_ORDER: Final = {k: i for i, k in enumerate(KNOWN_KINDS)}

_Date = date  # the name ``date`` is shadowed by MacroEvent's field inside the class


class CalendarFileError(ValueError):
    """A calendar file cannot be read or has a malformed line.

    ``str()`` is one line: ``<file>:<line>: <problem>`` (``<file>: <problem>``
    when the problem is not tied to a line, e.g. a missing file).
    """

    def __init__(self, file: str | Path, problem: str, line: int | None = None) -> None:
        self.file = str(file)
        self.line = line
        self.problem = problem
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {problem}")


def normalize_kind(text: str) -> str:
    """The canonical event kind: ``FOMC``/``CPI``/``PPI`` upper-cased, others stripped as given.

    Raises:
        ValueError: ``text`` is blank, longer than :data:`MAX_EVENT_NAME`, or
            holds a control character (NUL, ...) or a bidirectional override
            (text that displays differently from what it says).
    """
    kind = " ".join(text.split())
    if not kind:
        raise ValueError("event name is blank")
    problem = bad_text(kind)
    if problem is not None:
        raise ValueError(f"event name {problem}")
    if len(kind) > MAX_EVENT_NAME:
        raise ValueError(
            f"event name is too long ({len(kind)} characters, at most {MAX_EVENT_NAME})"
        )
    upper = kind.upper()
    return upper if upper in KNOWN_KINDS else kind


@dataclass(frozen=True, slots=True)
class MacroEvent:
    """One macro event.

    Attributes:
        date: the event's date in America/New_York.
        time_et: wall-clock time in America/New_York (naive ``time``), or
            ``None`` when unknown.
        kind: ``"FOMC"``, ``"CPI"``, ``"PPI"`` or a user-defined name
            (see :func:`normalize_kind`).
        scheduled: ``False`` for unscheduled actions not known in advance.
        grade: ``"A"``/``"B"``/``"C"`` confirmation grade of shipped rows, ``"user"``.
        source: ``;``-separated source tags, or where a user event came from.
    """

    date: date
    time_et: time | None
    kind: str
    scheduled: bool = True
    grade: str = "user"
    source: str = ""

    @property
    def key(self) -> tuple[_Date, str]:
        """Identity used for overrides: the date and the case-folded kind."""
        return (self.date, self.kind.casefold())

    @property
    def at(self) -> datetime | None:
        """The event time, timezone-aware America/New_York, or ``None`` if the time is unknown."""
        if self.time_et is None:
            return None
        return datetime.combine(self.date, self.time_et, tzinfo=NEW_YORK)

    @property
    def starts(self) -> datetime:
        """Earliest moment the event can happen (aware, America/New_York).

        The event time when known, else 00:00 ET of its date.
        """
        return self.at or datetime.combine(self.date, time(0, 0), tzinfo=NEW_YORK)

    @property
    def ends(self) -> datetime:
        """Moment by which the event has surely happened (aware, America/New_York).

        The event time when known, else 00:00 ET of the next day.
        """
        return self.at or datetime.combine(
            self.date + timedelta(days=1), time(0, 0), tzinfo=NEW_YORK
        )

    @property
    def is_known_kind(self) -> bool:
        """Whether the kind is one of :data:`KNOWN_KINDS`."""
        return self.kind in KNOWN_KINDS

    def label(self) -> str:
        """Human-readable one-liner, e.g. ``"FOMC 2024-03-20 14:00 ET (grade A)"``."""
        when = f"{self.time_et:%H:%M} ET" if self.time_et is not None else "(time unknown)"
        extra = "" if self.scheduled else ", unscheduled"
        return f"{self.kind} {self.date.isoformat()} {when} (grade {self.grade}{extra})"

    def sort_key(self) -> tuple[datetime, int, str]:
        """Order: start time, then FOMC/CPI/PPI before user kinds, then name."""
        return (self.starts, _KIND_ORDER.get(self.kind, len(KNOWN_KINDS)), self.kind.casefold())

    def to_row(self) -> dict[str, str]:
        """The event as a CSV row (``COLUMNS`` keys, text values)."""
        return {
            "date": self.date.isoformat(),
            "time_et": f"{self.time_et:%H:%M}" if self.time_et is not None else "",
            "event": self.kind,
            "scheduled": "true" if self.scheduled else "false",
            "grade": self.grade,
            "source": self.source,
        }


# --------------------------------------------------------------------------- parsing


def _parse_date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date: not a date YYYY-MM-DD: {text!r}") from None


def _parse_time(text: str) -> time | None:
    if not text:
        return None
    try:
        hh, mm = text.split(":")
        if len(hh) != 2 or len(mm) != 2:
            raise ValueError
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"time_et: not a time HH:MM (24 h, ET) or blank: {text!r}") from None


def _parse_bool(text: str, default: bool) -> bool:
    low = text.lower()
    if not low:
        return default
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"scheduled: must be true or false: {text!r}")


def _parse_grade(text: str, default: str) -> str:
    if not text:
        return default
    grade = text if text == "user" else text.upper()
    if grade not in _GRADES:
        raise ValueError(f"grade: must be A, B, C or user: {text!r}")
    return grade


def _parse_source(text: str) -> str:
    problem = bad_text(text)
    if problem is not None:
        raise ValueError(f"source: {problem}")
    return text


def parse_calendar_csv(
    text: str, file: str | Path, *, strict_columns: bool = False
) -> list[tuple[int, MacroEvent]]:
    """Parse calendar CSV text into ``(line number, event)`` pairs, in file order.

    Args:
        text: the file's content.
        file: the name used in error messages and in the default ``source``.
        strict_columns: require all six :data:`COLUMNS` (the shipped file);
            otherwise ``scheduled``, ``grade`` and ``source`` are optional.

    Raises:
        CalendarFileError: naming ``file`` and the 1-based line of the first problem.
    """
    name = str(file)
    default_source = f"user:{Path(name).name}"
    default_grade = "user"
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    seen: dict[tuple[date, str], int] = {}
    out: list[tuple[int, MacroEvent]] = []
    start_line = 1
    try:
        for row in reader:
            line = start_line
            start_line = reader.line_num + 1
            if reader.line_num != line:
                raise CalendarFileError(name, "a field spans several lines", line)
            if not row or all(not cell.strip() for cell in row):
                continue
            if row[0].lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in row]
            if header is None:
                header = [c.lower() for c in cells]
                unknown = [c for c in header if c not in COLUMNS]
                if unknown:
                    raise CalendarFileError(
                        name,
                        f"unknown column {unknown[0]!r} (expected {', '.join(COLUMNS)})",
                        line,
                    )
                required = COLUMNS if strict_columns else _REQUIRED
                missing = [c for c in required if c not in header]
                if missing:
                    raise CalendarFileError(
                        name, f"header lacks column {missing[0]!r} (got {','.join(cells)})", line
                    )
                dup = [c for c in header if header.count(c) > 1]
                if dup:
                    raise CalendarFileError(name, f"column {dup[0]!r} appears twice", line)
                continue
            if len(cells) != len(header):
                raise CalendarFileError(
                    name, f"expected {len(header)} fields, got {len(cells)}", line
                )
            values = dict(zip(header, cells, strict=True))
            try:
                event = MacroEvent(
                    date=_parse_date(values["date"]),
                    time_et=_parse_time(values["time_et"]),
                    kind=normalize_kind(values["event"]),
                    scheduled=_parse_bool(values.get("scheduled", ""), True),
                    grade=_parse_grade(values.get("grade", ""), default_grade),
                    source=_parse_source(values.get("source", "")) or default_source,
                )
            except ValueError as exc:
                raise CalendarFileError(name, str(exc), line) from None
            previous = seen.get(event.key)
            if previous is not None:
                raise CalendarFileError(
                    name,
                    f"{event.kind} on {event.date.isoformat()} already listed on line {previous}",
                    line,
                )
            seen[event.key] = line
            out.append((line, event))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise CalendarFileError(name, f"malformed CSV: {exc}", reader.line_num) from None
    if header is None:
        raise CalendarFileError(name, "empty file: no header line")
    return out


def _read_text(path: Path) -> str:
    try:
        raw = read_limited(path, MAX_CALENDAR_BYTES)
    except LimitedReadError as exc:
        raise CalendarFileError(path, str(exc)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CalendarFileError(path, f"not UTF-8 text (byte {exc.start})", line) from None


def shipped_events() -> list[MacroEvent]:
    """The events of the shipped ``macro_events.csv``, in file order.

    Raises:
        CalendarFileError: the packaged file is missing or malformed (a broken install).
    """
    resource = resources.files("daemon.calendars").joinpath("data", "macro_events.csv")
    try:
        text = resource.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise CalendarFileError(SHIPPED_FILE, f"cannot read packaged file ({exc})") from None
    return [e for _, e in parse_calendar_csv(text, SHIPPED_FILE, strict_columns=True)]


def read_calendar_file(path: Path) -> list[tuple[int, MacroEvent]]:
    """Read a user calendar CSV into ``(line number, event)`` pairs.

    Raises:
        CalendarFileError: missing, unreadable or malformed file (names file and line).
    """
    return parse_calendar_csv(_read_text(Path(path)), path)


# --------------------------------------------------------------------------- calendar


class MacroCalendar:
    """An immutable, time-ordered collection of :class:`MacroEvent`.

    Build it with :meth:`load` (shipped data and/or a user file) or
    :meth:`from_events`. At most one event per date and kind: later sources
    override earlier ones on the same ``(date, kind)``.

    Attributes:
        sources: where the events came from, e.g. the shipped file and a user file.
    """

    def __init__(self, events: Iterable[MacroEvent], sources: Sequence[str] = ()) -> None:
        merged: dict[tuple[date, str], MacroEvent] = {}
        for event in events:
            merged[event.key] = event
        self._events: tuple[MacroEvent, ...] = tuple(
            sorted(merged.values(), key=MacroEvent.sort_key)
        )
        self._dates: list[date] = [e.date for e in self._events]
        self.sources: tuple[str, ...] = tuple(sources)

    @classmethod
    def from_events(cls, events: Iterable[MacroEvent]) -> MacroCalendar:
        """A calendar of exactly ``events`` (later duplicates of a date+kind win)."""
        return cls(events, ("(in memory)",))

    @classmethod
    def load(cls, shipped: bool = True, user_file: Path | None = None) -> MacroCalendar:
        """Load the shipped calendar and/or a user CSV file.

        Args:
            shipped: include the package's ``macro_events.csv``.
            user_file: a CSV file (format in the module docstring). Its events
                are added; an event with the same date and (case-insensitive)
                event name as a shipped one replaces it.

        Raises:
            CalendarFileError: a file is missing, unreadable or malformed; the
                message names the file and line.
        """
        events: list[MacroEvent] = []
        sources: list[str] = []
        if shipped:
            events.extend(shipped_events())
            sources.append(SHIPPED_FILE)
        if user_file is not None:
            events.extend(e for _, e in read_calendar_file(Path(user_file)))
            sources.append(str(user_file))
        return cls(events, sources)

    # -- queries -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[MacroEvent]:
        return iter(self._events)

    @property
    def events(self) -> tuple[MacroEvent, ...]:
        """All events, ordered by :meth:`MacroEvent.sort_key`."""
        return self._events

    @property
    def first_date(self) -> date | None:
        """Date of the first event, ``None`` for an empty calendar."""
        return self._dates[0] if self._dates else None

    @property
    def last_date(self) -> date | None:
        """Date of the last event, ``None`` for an empty calendar."""
        return self._dates[-1] if self._dates else None

    def events_between(self, start: date, end: date) -> list[MacroEvent]:
        """Events dated ``start <= date <= end`` (ET dates, both inclusive), in time order.

        Returns an empty list when ``end < start``.

        Raises:
            TypeError: ``start`` or ``end`` is a ``datetime`` (pass dates).
        """
        for d in (start, end):
            if isinstance(d, datetime):
                raise TypeError(f"events_between takes dates, got datetime {d!r}")
        lo = bisect.bisect_left(self._dates, start)
        hi = bisect.bisect_right(self._dates, end)
        return list(self._events[lo:hi])

    def events_on(self, day: date) -> list[MacroEvent]:
        """Events dated ``day`` (America/New_York), in time order (unknown times first)."""
        return self.events_between(day, day)

    def next_events(self, after: datetime, n: int = 1) -> list[MacroEvent]:
        """The first ``n`` events that have not happened at ``after``.

        An event with a known time qualifies when its time is strictly after
        ``after``; one with an unknown time while its date (ET) has not ended.

        Args:
            after: timezone-aware moment (any zone; compared as instants).
            n: how many events at most (``n >= 0``).

        Raises:
            ValueError: ``after`` is naive or ``n`` is negative.
        """
        if after.tzinfo is None:
            raise ValueError(f"next_events needs a timezone-aware datetime, got {after!r}")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        local = after.astimezone(NEW_YORK)
        lo = bisect.bisect_left(self._dates, local.date())
        out: list[MacroEvent] = []
        for event in self._events[lo:]:
            if len(out) >= n:
                break
            if event.ends > after:
                out.append(event)
        return out

    def kinds(self) -> set[str]:
        """Every event kind present."""
        return {e.kind for e in self._events}
