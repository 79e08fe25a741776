"""Import macro events from an iCalendar (``.ics``) file into the user calendar CSV.

Official schedules are published as iCalendar files (the BLS release
calendar, the Federal Reserve's FOMC calendar, commercial economic
calendars). :func:`import_ics` reads one with the maintained ``icalendar``
library and maps each ``VEVENT`` to a :class:`~daemon.calendars.macro.MacroEvent`;
:func:`write_user_events` merges events into the user calendar CSV that
:meth:`MacroCalendar.load(user_file=...) <daemon.calendars.macro.MacroCalendar.load>` reads.

Mapping rules:

* ``SUMMARY`` -> kind: text naming the Federal Open Market Committee
  (``FOMC``, "Federal Open Market Committee", "FOMC statement/meeting",
  "Fed interest rate decision") becomes ``FOMC`` -- except FOMC *minutes*,
  which stay a user event; "Consumer Price Index" or the word ``CPI``
  becomes ``CPI``; "Producer Price Index" or ``PPI`` becomes ``PPI``.
  Anything else is kept as a user-defined event named after the summary
  (whitespace collapsed), unless ``only_known=True``.
* ``DTSTART`` -> date and ET wall time: a time with a zone (``TZID=`` or
  ``Z``) is converted to America/New_York; a floating time (no zone) is taken
  as America/New_York. An all-day ``DTSTART`` (a date) has no time, except
  that the official release time is assumed for the known kinds (FOMC
  14:00 ET, the statement time since 2013; CPI/PPI 08:30 ET), noted in
  ``source``. A multi-day all-day FOMC *meeting* (``DTEND`` more than one day
  later) is dated on its last day, when the statement is released.
* ``STATUS:CANCELLED`` events are skipped; recurring events (``RRULE``) are
  rejected, since economic release calendars list each release explicitly.
* Imported events get grade ``user`` and source ``ics:<file name>``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from daemon.boundedio import (
    MAX_CALENDAR_BYTES,
    LimitedReadError,
    read_limited,
    read_limited_text,
)
from daemon.calendars.macro import (
    COLUMNS,
    CalendarFileError,
    MacroEvent,
    normalize_kind,
    read_calendar_file,
)
from daemon.clock import NEW_YORK
from daemon.strictmodel import bad_text

__all__ = [
    "IcsImportError",
    "WriteSummary",
    "classify_summary",
    "import_ics",
    "write_user_events",
]

#: Release time assumed for an all-day event of a known kind (ET wall time).
ASSUMED_TIMES: Final = {"FOMC": time(14, 0), "CPI": time(8, 30), "PPI": time(8, 30)}

_MINUTES = re.compile(r"\bminutes\b", re.IGNORECASE)
_FOMC = re.compile(
    r"\bFOMC\b|federal\s+open\s+market\s+committee|"
    r"\bfed(eral\s+reserve)?\b.*\b(interest\s+)?rate\s+decision",
    re.IGNORECASE,
)
_CPI = re.compile(r"consumer\s+price\s+index|\bCPI\b", re.IGNORECASE)
_PPI = re.compile(r"producer\s+price\s+index|\bPPI\b", re.IGNORECASE)


class IcsImportError(ValueError):
    """An iCalendar file cannot be read or imported.

    ``str()`` is one line naming the file (and line, when known).
    """

    def __init__(self, file: str | Path, problem: str, line: int | None = None) -> None:
        self.file = str(file)
        self.line = line
        self.problem = problem
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {problem}")


def classify_summary(summary: str) -> str | None:
    """``"FOMC"``, ``"CPI"`` or ``"PPI"`` when the summary names one, else ``None``.

    Examples: "Consumer Price Index for October 2025" -> CPI; "Producer Price
    Index" -> PPI; "FOMC Meeting" -> FOMC; "Minutes of the Federal Open Market
    Committee" -> None (minutes are not a policy announcement).
    """
    if _FOMC.search(summary):
        return None if _MINUTES.search(summary) else "FOMC"
    if _CPI.search(summary):
        return "CPI"
    if _PPI.search(summary):
        return "PPI"
    return None


# --------------------------------------------------------------------------- reading


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded iCalendar content lines with the physical line each starts on (1-based)."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and out:
            start, body = out[-1]
            out[-1] = (start, body + raw[1:])
        else:
            out.append((number, raw))
    return out


def _find_line(lines: list[tuple[int, str]], prop: str | None, needle: str) -> int | None:
    """Physical line of the first content line matching ``prop`` and containing ``needle``."""
    for number, body in lines:
        if prop is not None:
            name = re.split(r"[;:]", body, maxsplit=1)[0]
            if name.upper() != prop.upper():
                continue
        if needle in body:
            return number
    return None


def _component_error(
    path: Path, lines: list[tuple[int, str]], errors: list[tuple[str | None, str]]
) -> IcsImportError:
    prop, message = errors[0]
    quoted = re.search(r"'([^']*)'", message)
    needle = quoted.group(1) if quoted else ""
    line = _find_line(lines, prop, needle) if (prop or needle) else None
    where = f"{prop}: " if prop else ""
    return IcsImportError(path, f"invalid iCalendar content: {where}{message}", line)


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` with its whitespace collapsed, cut at ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _check_tzid(tzid: str) -> str | None:
    """Why a ``TZID`` parameter is refused (path-like or unknown), or ``None``."""
    if "\\" in tzid or ".." in tzid or tzid.startswith("/") or len(tzid) > 64:
        return f"time zone TZID={tzid[:60]!r} is not a time zone name"
    problem = bad_text(tzid)
    if problem is not None:
        return f"time zone TZID {problem}"
    return None


def _uid_lines(lines: list[tuple[int, str]]) -> dict[str, int]:
    """UID value -> physical line of its first ``UID`` content line (one pass: linear import)."""
    out: dict[str, int] = {}
    for number, body in lines:
        name, sep, value = body.partition(":")
        if sep and name.split(";", 1)[0].strip().upper() == "UID":
            out.setdefault(value.strip(), number)
    return out


def import_ics(path: Path, *, only_known: bool = False) -> list[MacroEvent]:
    """Read the ``VEVENT``s of an iCalendar file as macro events (see module docstring).

    Args:
        path: the ``.ics`` file.
        only_known: drop events whose summary names no FOMC, CPI or PPI release.

    Returns:
        Events in file order; times are America/New_York wall times.

    Raises:
        IcsImportError: the file is missing, unreadable, larger than
            :data:`~daemon.boundedio.MAX_CALENDAR_BYTES`, not UTF-8, not an
            iCalendar file, cut off (no final ``END:VCALENDAR``), has a ``TZID``
            naming no known zone, a ``SUMMARY`` with control characters, a
            content line or property the library cannot parse, or an event
            lacks ``SUMMARY``/``DTSTART`` or recurs
            (``RRULE``). The message names the file and, when it can be
            located, the line.
    """

    path = Path(path)
    try:
        raw = read_limited(path, MAX_CALENDAR_BYTES)
    except LimitedReadError as exc:
        raise IcsImportError(path, str(exc)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise IcsImportError(path, f"not UTF-8 text (byte {exc.start})", bad_line) from None
    lines = _logical_lines(text)
    first = next(((n, body) for n, body in lines if body.strip()), None)
    if first is None or first[1].strip().upper() != "BEGIN:VCALENDAR":
        raise IcsImportError(
            path, "not an iCalendar file (first line is not BEGIN:VCALENDAR)", first and first[0]
        )
    last = next(((n, body) for n, body in reversed(lines) if body.strip()), first)
    if last[1].strip().upper() != "END:VCALENDAR":
        # a cut-off download: importing what is there would silently drop events
        raise IcsImportError(
            path, "truncated iCalendar file (last line is not END:VCALENDAR)", last[0]
        )
    # icalendar warns on stderr about TZIDs it guesses; every TZID is checked
    # here (_check_tzid, unknown zones refused), so its warnings would only
    # add lines to a one-line error.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse(path, text, lines, only_known)


def _parse(
    path: Path, text: str, lines: list[tuple[int, str]], only_known: bool
) -> list[MacroEvent]:
    """The body of :func:`import_ics` once the text is read and checked."""
    import icalendar  # lazy: only the importer needs it

    try:
        cal = icalendar.Calendar.from_ical(text)
    except RecursionError:
        raise IcsImportError(path, "invalid iCalendar file: components nested too deeply") from None
    except OSError as exc:  # the library looked a TZID up as a file name
        raise IcsImportError(path, f"invalid iCalendar file: {_one_line(str(exc))}") from None
    except ValueError as exc:
        message = _one_line(str(exc))
        quoted = re.search(r"'([^']*)'", message)
        where = _find_line(lines, None, quoted.group(1)) if quoted and quoted.group(1) else None
        raise IcsImportError(path, f"invalid iCalendar file: {message}", where) from None

    events: list[MacroEvent] = []
    uid_lines = _uid_lines(lines)
    for component in cal.walk():
        errors = list(getattr(component, "errors", []) or [])
        if errors:
            raise _component_error(path, lines, errors)
        if component.name != "VEVENT":
            continue
        event = _to_event(path, uid_lines, component, only_known)
        if event is not None:
            events.append(event)
    return events


def _to_event(
    path: Path, uid_lines: dict[str, int], component: Any, only_known: bool
) -> MacroEvent | None:
    uid = str(component.get("UID")) if component.get("UID") is not None else None
    line = uid_lines.get(uid.strip()) if uid else None
    status = str(component.get("STATUS", "")).upper()
    if status == "CANCELLED":
        return None
    summary_prop = component.get("SUMMARY")
    summary = " ".join(str(summary_prop).split()) if summary_prop is not None else ""
    if not summary:
        raise IcsImportError(path, f"event {uid or '(no UID)'} has no SUMMARY", line)
    problem = bad_text(summary)
    if problem is not None:
        raise IcsImportError(path, f"event {summary[:60]!r}: SUMMARY {problem}", line)
    if component.get("RRULE") is not None:
        raise IcsImportError(
            path, f"event {summary!r} recurs (RRULE); list each release explicitly", line
        )
    start_prop = component.get("DTSTART")
    if start_prop is None:
        raise IcsImportError(path, f"event {summary!r} has no DTSTART", line)
    kind = classify_summary(summary)
    if kind is None and only_known:
        return None
    source = f"ics:{path.name}"
    start = start_prop.dt
    tzid = getattr(start_prop, "params", {}).get("TZID")
    if tzid is not None:
        problem = _check_tzid(str(tzid))
        if problem is not None:
            raise IcsImportError(path, f"event {summary!r}: {problem}", line)
    if isinstance(start, datetime) and tzid is not None and start.tzinfo is None:
        # icalendar leaves a time naive when it cannot resolve the zone; reading it
        # as New York time would silently move the event.
        raise IcsImportError(
            path, f"event {summary!r}: unknown time zone TZID={str(tzid)[:60]!r}", line
        )
    if isinstance(start, datetime):
        local = start.replace(tzinfo=NEW_YORK) if start.tzinfo is None else start
        local = local.astimezone(NEW_YORK)
        day, at = local.date(), local.time().replace(second=0, microsecond=0)
    elif isinstance(start, date):
        day, at = start, None
        end_prop = component.get("DTEND")
        end = end_prop.dt if end_prop is not None else None
        if (
            kind == "FOMC"
            and isinstance(end, date)
            and not isinstance(end, datetime)
            and end - start > timedelta(days=1)
        ):
            day = end - timedelta(days=1)  # statement on the meeting's last day
        if kind is not None:
            at = ASSUMED_TIMES[kind]
            source += f" (time assumed {at:%H:%M} ET)"
    else:  # pragma: no cover - icalendar gives date/datetime for DTSTART
        raise IcsImportError(path, f"event {summary!r}: unsupported DTSTART {start!r}", line)
    try:
        name = kind or normalize_kind(summary)
    except ValueError as exc:
        raise IcsImportError(path, f"event {summary[:60]!r}: {exc}", line) from None
    return MacroEvent(
        date=day,
        time_et=at,
        kind=name,
        scheduled=True,
        grade="user",
        source=source,
    )


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class WriteSummary:
    """What :func:`write_user_events` did: counts of events added, updated, unchanged."""

    added: int
    updated: int
    unchanged: int


def _format_row(event: MacroEvent) -> str:
    buffer = io.StringIO()
    row = event.to_row()
    csv.writer(buffer, lineterminator="\n").writerow([row[c] for c in COLUMNS])
    return buffer.getvalue()


def write_user_events(path: Path, events: Iterable[MacroEvent]) -> WriteSummary:
    """Merge ``events`` into the user calendar CSV at ``path``.

    A missing file is created with the standard header. An event whose date
    and event name (case-insensitive) already appear in the file replaces
    that line in place (counted as updated, or unchanged if identical); others
    are appended. Comment and blank lines are kept. The file is rewritten
    atomically (temporary file + rename). The existing file must have all six
    columns (files written by this function do).

    Raises:
        CalendarFileError: the existing file is malformed or lacks columns
            (names file and line), or cannot be written.
    """
    path = Path(path)
    incoming: dict[tuple[date, str], MacroEvent] = {}
    for event in events:
        incoming[event.key] = event
    if path.exists():
        existing = read_calendar_file(path)  # bounded read; the text again, same limits
        try:
            text = read_limited_text(path, MAX_CALENDAR_BYTES)
        except LimitedReadError as exc:
            raise CalendarFileError(path, str(exc)) from None
        header = next(
            (
                line
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ),
            "",
        )
        columns = [c.strip().lower() for c in header.split(",")]
        if columns != list(COLUMNS):
            raise CalendarFileError(
                path,
                f"cannot append: header must be exactly {','.join(COLUMNS)} (got {header})",
                1,
            )
    else:
        existing = []
        text = ",".join(COLUMNS) + "\n"
    physical = text.splitlines(keepends=True)
    if physical and not physical[-1].endswith("\n"):
        physical[-1] += "\n"
    added = updated = unchanged = 0
    for line_no, old in existing:
        new = incoming.pop(old.key, None)
        if new is None:
            continue
        if new == old:
            unchanged += 1
        else:
            physical[line_no - 1] = _format_row(new)
            updated += 1
    for new in sorted(incoming.values(), key=MacroEvent.sort_key):
        physical.append(_format_row(new))
        added += 1
    _atomic_write(path, "".join(physical))
    return WriteSummary(added, updated, unchanged)


def _atomic_write(path: Path, content: str) -> None:
    """Replace ``path``'s content atomically; a symbolic link is written through.

    The temporary file is created next to the link's target and renamed onto
    the target, so ``--into link.csv`` updates the file the link points to and
    leaves the link itself in place.
    """
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CalendarFileError(path, f"cannot write file ({exc.strerror or exc})") from None
