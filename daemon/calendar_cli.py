"""``alvh calendar``: show exchange sessions and macro events, import iCalendar files.

``alvh calendar show --from DATE --to DATE [--json] [--config FILE] [--user-calendar CSV]``
lists, day by day, the NYSE sessions (early closes marked), weekday holidays
and the macro events (shipped calendar plus the configured user calendar).

Text output, one line per item::

    2026-11-26 Thu  closed (exchange holiday)
    2026-11-27 Fri  session 09:30-13:00 ET  EARLY CLOSE
    2026-12-09 Wed  event   14:00 ET  FOMC  grade A  scheduled  FED_PRESS_RELEASE;DRKAKIMAKI

JSON output (``--json``): one array of objects, ordered by date, each date's
session (or holiday) first, then its events by time (unknown times first).
Every object has all of these keys:

* ``kind``: ``"session"``, ``"holiday"`` (a weekday without a session) or ``"event"``;
* ``date``: ``YYYY-MM-DD`` (America/New_York);
* ``time_et``: ``HH:MM`` ET -- the open for a session, the event time for an
  event, ``null`` for a holiday or an event of unknown time;
* ``event``: ``"session"``, ``"early_close"``, ``"holiday"``, or the event
  name (``"FOMC"``, ``"CPI"``, ``"PPI"`` or a user name);
* ``datetime_et``: ISO 8601 with UTC offset of ``time_et`` on ``date``, or ``null``;
* ``open``, ``close`` (``HH:MM`` ET) and ``early_close`` (bool): for sessions,
  ``null`` otherwise;
* ``scheduled`` (bool), ``grade`` (``A``/``B``/``C``/``user``), ``source``:
  for events, ``null`` otherwise.

Sessions are listed only inside the exchange calendar's range (1990 to about
one year ahead); events beyond it are still listed, with a note on stderr.

``alvh calendar import FILE.ics [--into USER_CSV] [--config FILE] [--only-known]``
maps the file's events (see :mod:`daemon.calendars.ics`) into the user
calendar CSV (``--into``, else ``[events].user_calendar`` from the config).

Errors a user can fix print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from daemon.exits import ExitStatus

__all__ = ["EXIT_USAGE", "add_parser", "build_items", "run"]

EXIT_USAGE = ExitStatus.USAGE

#: Event kinds named in the import summary line (the most frequent first).
_BREAKDOWN_KINDS = 8


class _Usage(Exception):
    """A user-fixable problem: one line on stderr, exit 2."""


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``calendar`` command (with ``show`` and ``import``) to ``subparsers``.

    ``subparsers`` is the object returned by ``ArgumentParser.add_subparsers``.
    Dispatch parsed arguments with ``args.command == "calendar"`` to :func:`run`.
    """
    calendar = subparsers.add_parser(
        "calendar", help="show exchange sessions and macro events; import iCalendar files"
    )
    sub = calendar.add_subparsers(dest="calendar_command", required=True, metavar="ACTION")

    show = sub.add_parser("show", help="list sessions, holidays and macro events in a range")
    show.add_argument("--from", dest="start", type=_iso_date, required=True, help="YYYY-MM-DD")
    show.add_argument("--to", dest="end", type=_iso_date, required=True, help="YYYY-MM-DD")
    show.add_argument("--json", action="store_true", help="print one JSON array")
    show.add_argument("--config", type=Path, help="TOML config (for [events] settings)")
    show.add_argument(
        "--user-calendar", type=Path, help="user events CSV (default: [events].user_calendar)"
    )
    show.add_argument(
        "--events-only", action="store_true", help="list macro events only, no sessions"
    )

    imp = sub.add_parser("import", help="import an iCalendar (.ics) file into the user calendar")
    imp.add_argument("file", type=Path, help="the .ics file")
    imp.add_argument(
        "--into", type=Path, help="user calendar CSV to write (default: [events].user_calendar)"
    )
    imp.add_argument("--config", type=Path, help="TOML config (for [events].user_calendar)")
    imp.add_argument(
        "--only-known", action="store_true", help="import FOMC, CPI and PPI events only"
    )
    return calendar


def run(args: argparse.Namespace) -> int:
    """Run ``alvh calendar show|import``; returns the exit status (0, or 2 on a usage error)."""
    try:
        if args.calendar_command == "show":
            return _show(args)
        if args.calendar_command == "import":
            return _import(args)
        raise _Usage(f"unknown action {args.calendar_command!r}")
    except _Usage as exc:
        print(f"alvh calendar {args.calendar_command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _events_config(config_path: Path | None) -> Any:
    """The ``[events]`` settings from the config file, or their defaults."""
    from daemon.calendars.event_rules import EventRulesConfig

    if config_path is None:
        return EventRulesConfig()
    from daemon.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise _Usage(f"bad config: {exc}") from None
    events = getattr(config, "events", None)
    return events if isinstance(events, EventRulesConfig) else EventRulesConfig()


def build_items(
    start: date,
    end: date,
    calendar: Any,
    sessions: Any,
    include_sessions: bool = True,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``calendar show`` items (JSON shape in the module docstring) and notes.

    Args:
        start, end: inclusive date range.
        calendar: a :class:`~daemon.calendars.macro.MacroCalendar`.
        sessions: an :class:`~daemon.calendars.exchange.ExchangeCalendar`.
        include_sessions: list sessions and holidays, not only events.

    Returns:
        ``(items, notes)``; notes are human-readable warnings (e.g. the range
        exceeds the exchange calendar).
    """
    from daemon.clock import NEW_YORK

    items: list[tuple[tuple[date, int, str], dict[str, Any]]] = []
    notes: list[str] = []
    if include_sessions:
        lo, hi = max(start, sessions.range_start), min(end, sessions.range_end)
        if (lo, hi) != (start, end):
            notes.append(
                f"sessions are known only for {sessions.range_start}..{sessions.range_end}; "
                f"sessions outside it are not listed"
            )
        day = lo
        while day <= hi:
            if sessions.is_session(day):
                opens = sessions.session_open(day)
                closes = sessions.session_close(day)
                early = sessions.is_early_close(day)
                item = _blank(day, "session")
                item.update(
                    time_et=f"{opens:%H:%M}",
                    event="early_close" if early else "session",
                    datetime_et=opens.isoformat(),
                    open=f"{opens:%H:%M}",
                    close=f"{closes:%H:%M}",
                    early_close=early,
                )
                items.append(((day, 0, ""), item))
            elif day.weekday() < 5:
                item = _blank(day, "holiday")
                item["event"] = "holiday"
                items.append(((day, 0, ""), item))
            day += timedelta(days=1)
    for event in calendar.events_between(start, end):
        item = _blank(event.date, "event")
        at = event.at
        item.update(
            time_et=f"{event.time_et:%H:%M}" if event.time_et is not None else None,
            event=event.kind,
            datetime_et=at.astimezone(NEW_YORK).isoformat() if at is not None else None,
            scheduled=event.scheduled,
            grade=event.grade,
            source=event.source,
        )
        items.append(((event.date, 1, item["time_et"] or ""), item))
    items.sort(key=lambda pair: pair[0])
    return [item for _, item in items], notes


def _blank(day: date, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "date": day.isoformat(),
        "time_et": None,
        "event": None,
        "datetime_et": None,
        "open": None,
        "close": None,
        "early_close": None,
        "scheduled": None,
        "grade": None,
        "source": None,
    }


def _render(item: dict[str, Any]) -> str:
    day = date.fromisoformat(item["date"])
    head = f"{item['date']} {day:%a}"
    if item["kind"] == "session":
        mark = "  EARLY CLOSE" if item["early_close"] else ""
        return f"{head}  session {item['open']}-{item['close']} ET{mark}"
    if item["kind"] == "holiday":
        return f"{head}  closed (exchange holiday)"
    when = f"{item['time_et']} ET" if item["time_et"] else "time unknown"
    sched = "scheduled" if item["scheduled"] else "UNSCHEDULED"
    return (
        f"{head}  event   {when:<12} {item['event']:<5} grade {item['grade']}  {sched}  "
        f"{item['source']}"
    )


def _show(args: argparse.Namespace) -> int:
    from daemon.calendars.exchange import CalendarError, default_calendar
    from daemon.calendars.macro import CalendarFileError, MacroCalendar

    if args.end < args.start:
        raise _Usage(f"--to {args.end} is before --from {args.start}")
    rules = _events_config(args.config)
    user_file = args.user_calendar or rules.user_calendar
    try:
        calendar = MacroCalendar.load(shipped=rules.shipped_calendar, user_file=user_file)
    except CalendarFileError as exc:
        raise _Usage(str(exc)) from None
    try:
        items, notes = build_items(
            args.start,
            args.end,
            calendar,
            default_calendar(),
            include_sessions=not args.events_only,
        )
    except CalendarError as exc:
        raise _Usage(str(exc)) from None
    for note in notes:
        print(f"alvh calendar show: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(items))
    else:
        for item in items:
            print(_render(item))
        n_events = sum(1 for i in items if i["kind"] == "event")
        print(f"{n_events} events from {', '.join(calendar.sources) or 'no calendar'}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from daemon.calendars.ics import IcsImportError, import_ics, write_user_events
    from daemon.calendars.macro import CalendarFileError

    into: Path | None = args.into
    if into is None:
        into = _events_config(args.config).user_calendar
    if into is None:
        raise _Usage(
            "no user calendar to write: pass --into FILE.csv or set [events] user_calendar"
        )
    try:
        events = import_ics(args.file, only_known=args.only_known)
        summary = write_user_events(into, events)
    except (IcsImportError, CalendarFileError) as exc:
        raise _Usage(str(exc)) from None
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    ranked = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    breakdown = ", ".join(f"{k} {n}" for k, n in ranked[:_BREAKDOWN_KINDS]) or "none"
    if len(ranked) > _BREAKDOWN_KINDS:
        breakdown += f", {len(ranked) - _BREAKDOWN_KINDS} more kinds"
    print(
        f"imported {len(events)} events from {args.file} into {into} "
        f"({summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged; "
        f"{breakdown})"
    )
    return 0
