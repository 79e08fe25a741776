"""Macro-event rules: entry blackouts and extra hedge/re-evaluation jobs around events.

The same pure functions drive replay and live trading, so a replay of 2024
blocks exactly the entries the live daemon would have blocked:

* :func:`entry_block_reason` -- within ``no_entry_before_hours`` before an
  event no new iron condor is opened. Wire it into
  :class:`daemon.engine.TradingEngine` with :func:`make_entry_guard`.
* :func:`event_jobs` -- one-off fire times: a hedge check
  ``hedge_check_before_minutes`` before each event and a re-evaluation
  ``reevaluate_after_minutes`` after it. Live, each becomes an APScheduler
  ``DateTrigger``; in replay :func:`merge_fire_times` interleaves them with the
  daily cron fires of :func:`daemon.scheduling.jobs.virtual_fire_times`.

Time handling (all times America/New_York unless stated):

* Windows are measured in elapsed time (UTC arithmetic), so "48 h before"
  across a daylight-saving change is 48 real hours; event times themselves are
  ET wall times (08:30 stays 08:30 in EST and EDT).
* An event with an unknown time (some unscheduled FOMC actions, all-day user
  events) is treated as spanning its whole ET date: the entry blackout runs
  from ``no_entry_before_hours`` before 00:00 ET of that date until 24:00, and
  its re-evaluation is placed after the date has ended.
* Extra jobs only fire inside exchange sessions, between ``open +
  session_buffer_minutes`` and ``close - session_buffer_minutes`` (09:40-15:50
  by default; 09:40-12:50 on a 13:00 early close). A target outside that band
  moves:

  - a **pre-event hedge check** to the latest in-band moment *before* its
    target: an 08:30 CPI check (target 08:00) runs at the previous session's
    15:50 (12:50 after an early close), because the hedge must be in place
    before the release and the daemon trades regular hours only; a Sunday
    17:00 emergency FOMC check runs on Friday at 15:50;
  - a **post-event re-evaluation** to the earliest in-band moment *after*
    its target: an 08:30 CPI re-evaluation (target 09:00) runs at 09:40 the
    same day; one falling after the close or on a holiday runs at the next
    session's 09:40.

* Unscheduled events (``scheduled=false``) were not known in advance; acting
  before them in a replay would use future information. By default they
  neither block entries nor get a pre-event hedge check
  (``act_before_unscheduled = false``); they do get a post-event re-evaluation.

Defaults, chosen for 7-21 DTE condors entered at 15:30 ET:

============  =====================  ==========================  =========================
event         no_entry_before_hours  hedge_check_before_minutes  reevaluate_after_minutes
============  =====================  ==========================  =========================
FOMC          48                     30                          30
CPI           24                     30                          30
PPI           18                     30                          30
other (user)  0 (no blackout)        off                         off
============  =====================  ==========================  =========================

FOMC (14:00 ET since 2013) is the largest scheduled volatility event: 48 h
blocks the two sessions before a Wednesday statement (Monday and Tuesday 15:30
entries) and the statement day's morning; entries after the statement are
allowed again. CPI (08:30 ET) moves SPX most among data releases: 24 h blocks
the whole previous session. PPI moves SPX less: 18 h blocks the previous
session's afternoon only (the 15:30 entry is 17 h before 08:30). Events of
other kinds (imported from an iCalendar file, say) are informational until
configured in ``[events.other]`` or ``[events.custom."<event name>"]``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple, TypeVar

from pydantic import Field

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.calendars.macro import MacroCalendar, MacroEvent
from daemon.clock import NEW_YORK
from daemon.strictmodel import StrictModel

__all__ = [
    "EventJob",
    "EventJobKind",
    "EventRulesConfig",
    "EventTypeRules",
    "entry_block_reason",
    "event_jobs",
    "make_entry_guard",
    "merge_fire_times",
    "post_event_fire_time",
    "pre_event_fire_time",
]

#: How far outside ``[start, end]`` :func:`event_jobs` looks for events whose
#: moved fire times may fall inside (holiday stretches plus the 24 h offsets).
_SCAN_PAD = timedelta(days=10)

T = TypeVar("T")


class _Section(StrictModel):
    """A sub-table of the configuration with the strict scalar checks of every section."""


class EventTypeRules(_Section):
    """Rules for one kind of event (a sub-table of ``[events]``).

    Attributes:
        no_entry_before_hours: hours (elapsed) before the event during which no
            new condor is entered; 0 disables the blackout. 0-336.
        pre_event_hedge_check: run an extra hedge check before the event.
        hedge_check_before_minutes: minutes before the event for that check, 0-1440.
        post_event_reevaluation: run an extra re-evaluation after the event.
        reevaluate_after_minutes: minutes after the event for it, 0-1440.
    """

    no_entry_before_hours: float = Field(default=0.0, ge=0.0, le=336.0)
    pre_event_hedge_check: bool = True
    hedge_check_before_minutes: int = Field(default=30, ge=0, le=1440)
    post_event_reevaluation: bool = True
    reevaluate_after_minutes: int = Field(default=30, ge=0, le=1440)


class EventRulesConfig(_Section):
    """``[events]``: the macro calendar and what the daemon does around events.

    Attributes:
        enabled: ``false`` turns every event rule off (no blackouts, no extra jobs).
        shipped_calendar: use the packaged FOMC/CPI/PPI calendar (2006-2027).
            Set ``false`` to rely on ``user_calendar`` alone.
        user_calendar: optional CSV of extra or corrected events (format in
            :mod:`daemon.calendars.macro`); a relative path is relative to the
            working directory. ``alvh calendar import`` writes into it.
        session_buffer_minutes: extra jobs fire no earlier than open + this and
            no later than close - this (minutes, 0-60).
        act_before_unscheduled: also block entries and run pre-event hedge
            checks before ``scheduled=false`` events (look-ahead in replay).
        fomc, cpi, ppi: rules for the known kinds.
        other: rules for any other (user-defined) kind.
        custom: rules for named user kinds, keyed by event name
            (case-insensitive), overriding ``other``.
    """

    enabled: bool = True
    shipped_calendar: bool = True
    user_calendar: Path | None = None
    session_buffer_minutes: int = Field(default=10, ge=0, le=60)
    act_before_unscheduled: bool = False
    fomc: EventTypeRules = EventTypeRules(no_entry_before_hours=48.0)
    cpi: EventTypeRules = EventTypeRules(no_entry_before_hours=24.0)
    ppi: EventTypeRules = EventTypeRules(no_entry_before_hours=18.0)
    other: EventTypeRules = EventTypeRules(
        no_entry_before_hours=0.0, pre_event_hedge_check=False, post_event_reevaluation=False
    )
    custom: dict[str, EventTypeRules] = Field(default_factory=dict)

    def rules_for(self, kind: str) -> EventTypeRules:
        """The rules for an event kind (``FOMC``/``CPI``/``PPI``, a custom name, or ``other``)."""
        known = {"FOMC": self.fomc, "CPI": self.cpi, "PPI": self.ppi}
        if kind in known:
            return known[kind]
        folded = kind.casefold()
        for name, rules in self.custom.items():
            if name.casefold() == folded:
                return rules
        return self.other

    def max_blackout(self) -> timedelta:
        """The longest ``no_entry_before_hours`` over every kind, as a timedelta."""
        hours = [self.fomc, self.cpi, self.ppi, self.other, *self.custom.values()]
        return timedelta(hours=max(r.no_entry_before_hours for r in hours))

    def load_calendar(self) -> MacroCalendar:
        """The calendar these settings describe (shipped data and/or ``user_calendar``).

        Raises:
            daemon.calendars.macro.CalendarFileError: a calendar file is missing
                or malformed (names file and line).
        """
        return MacroCalendar.load(shipped=self.shipped_calendar, user_file=self.user_calendar)


# --------------------------------------------------------------------------- entry blackout


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def entry_block_reason(
    now: datetime, calendar: MacroCalendar, rules: EventRulesConfig
) -> str | None:
    """Why no new condor may be entered at ``now``, or ``None`` if entries are allowed.

    Entries are blocked from ``no_entry_before_hours`` (elapsed hours) before an
    event until the event; for an event with an unknown time, from that many
    hours before 00:00 ET of its date until the date ends. The earliest
    blocking event is named, e.g. ``"FOMC 2024-03-20 14:00 ET (grade A) in
    5.5 h: no new condor within 48 h before FOMC"``.

    Args:
        now: timezone-aware current time (any zone).
        calendar: the events.
        rules: the ``[events]`` settings.

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError(f"entry_block_reason needs a timezone-aware time, got {now!r}")
    if not rules.enabled:
        return None
    now_utc = now.astimezone(UTC)
    local = now.astimezone(NEW_YORK)
    horizon = local + rules.max_blackout()
    for event in calendar.events_between(local.date(), horizon.date() + timedelta(days=1)):
        kind_rules = rules.rules_for(event.kind)
        if kind_rules.no_entry_before_hours <= 0:
            continue
        if not event.scheduled and not rules.act_before_unscheduled:
            continue
        window = timedelta(hours=kind_rules.no_entry_before_hours)
        starts = event.starts.astimezone(UTC)
        ends = event.ends.astimezone(UTC)
        if starts - window <= now_utc < ends:
            when = f"in {_hours(starts - now_utc)}" if now_utc < starts else "today"
            return (
                f"{event.label()} {when}: no new condor within "
                f"{kind_rules.no_entry_before_hours:g} h before {event.kind}"
            )
    return None


def make_entry_guard(
    calendar: MacroCalendar, rules: EventRulesConfig, clock: Callable[[], datetime]
) -> Callable[[date], str | None]:
    """An ``entry_guard`` for :class:`daemon.engine.TradingEngine`.

    The engine passes the session date; the guard evaluates
    :func:`entry_block_reason` at ``clock()`` (the engine's own clock, virtual
    in replay), i.e. at the moment the entry job runs.
    """

    def guard(session: date) -> str | None:
        return entry_block_reason(clock(), calendar, rules)

    return guard


# --------------------------------------------------------------------------- extra jobs


class EventJobKind(StrEnum):
    """The one-off jobs scheduled around events."""

    PRE_EVENT_HEDGE_CHECK = "pre_event_hedge_check"
    """Check (and if needed add) the VIX hedge before the event."""
    POST_EVENT_REEVALUATION = "post_event_reevaluation"
    """Re-evaluate positions (management, hedge) once the event is out."""


class EventJob(NamedTuple):
    """One extra fire: when (aware, America/New_York), what, and for which event."""

    fire_time: datetime
    kind: EventJobKind
    event: MacroEvent

    def describe(self) -> str:
        """Why the job runs, e.g. ``"hedge check before FOMC 2024-03-20 14:00 ET (grade A)"``.

        The engine puts this at the start of every decision the job makes.
        """
        what = (
            "hedge check before"
            if self.kind is EventJobKind.PRE_EVENT_HEDGE_CHECK
            else "re-evaluation after"
        )
        return f"{what} {self.event.label()}"

    @property
    def job_id(self) -> str:
        """A stable APScheduler job id.

        E.g. ``"pre_event_hedge_check@2024-03-20T13:30:00-04:00"``.
        """
        return f"{self.kind.value}@{self.fire_time.isoformat()}"


def _band(sessions: ExchangeCalendar, day: date, buffer: timedelta) -> tuple[datetime, datetime]:
    open_, close = sessions.session_open(day), sessions.session_close(day)
    lo, hi = open_ + buffer, close - buffer
    if lo > hi:  # pragma: no cover - buffer <= 60 min and sessions last >= 3.5 h
        lo = hi = open_ + (close - open_) / 2
    return lo, hi


def pre_event_fire_time(
    target: datetime, sessions: ExchangeCalendar, buffer: timedelta = timedelta(minutes=10)
) -> datetime:
    """The latest in-session moment at or before ``target`` (aware, America/New_York).

    In-session means within ``[open + buffer, close - buffer]`` of an exchange
    session; a target before that band (or on a non-session day) moves to the
    end of the band of the previous session.

    Raises:
        CalendarError: the dates are outside ``sessions``' range.
    """
    local = target.astimezone(NEW_YORK)
    day = local.date()
    if sessions.is_session(day):
        lo, hi = _band(sessions, day, buffer)
        if local >= lo:
            return min(local, hi)
    return _band(sessions, sessions.previous_session(day), buffer)[1]


def post_event_fire_time(
    target: datetime, sessions: ExchangeCalendar, buffer: timedelta = timedelta(minutes=10)
) -> datetime:
    """The earliest in-session moment at or after ``target`` (aware, America/New_York).

    A target after the band ``[open + buffer, close - buffer]`` (or on a
    non-session day) moves to the start of the next session's band; one
    before the band moves to its start.

    Raises:
        CalendarError: the dates are outside ``sessions``' range.
    """
    local = target.astimezone(NEW_YORK)
    day = local.date()
    if sessions.is_session(day):
        lo, hi = _band(sessions, day, buffer)
        if local <= hi:
            return max(local, lo)
    return _band(sessions, sessions.next_session(day), buffer)[0]


def _jobs_for(
    event: MacroEvent, rules: EventRulesConfig, sessions: ExchangeCalendar
) -> Iterator[EventJob]:
    kind_rules = rules.rules_for(event.kind)
    buffer = timedelta(minutes=rules.session_buffer_minutes)
    if kind_rules.pre_event_hedge_check and (event.scheduled or rules.act_before_unscheduled):
        target = event.starts.astimezone(UTC) - timedelta(
            minutes=kind_rules.hedge_check_before_minutes
        )
        fire = pre_event_fire_time(target, sessions, buffer)
        yield EventJob(fire, EventJobKind.PRE_EVENT_HEDGE_CHECK, event)
    if kind_rules.post_event_reevaluation:
        target = event.ends.astimezone(UTC) + timedelta(minutes=kind_rules.reevaluate_after_minutes)
        fire = post_event_fire_time(target, sessions, buffer)
        yield EventJob(fire, EventJobKind.POST_EVENT_REEVALUATION, event)


def event_jobs(
    start: datetime,
    end: datetime,
    calendar: MacroCalendar,
    rules: EventRulesConfig,
    sessions: ExchangeCalendar | None = None,
) -> list[EventJob]:
    """Extra one-off jobs with ``start <= fire_time <= end``, in time order.

    For each event: a :attr:`~EventJobKind.PRE_EVENT_HEDGE_CHECK` at
    ``hedge_check_before_minutes`` before it and a
    :attr:`~EventJobKind.POST_EVENT_REEVALUATION` at ``reevaluate_after_minutes``
    after it, each moved into session hours as described in the module
    docstring. Jobs of the same kind landing on the same instant (e.g. CPI and
    PPI both at 08:30 on one day) are coalesced into one, naming the first
    event in calendar order. At equal times pre-event checks come first.

    Args:
        start, end: timezone-aware bounds of the fire times (inclusive).
        calendar: the events.
        rules: the ``[events]`` settings; ``enabled = false`` gives no jobs.
        sessions: the exchange calendar (default: :func:`default_calendar`).

    Raises:
        ValueError: ``start``/``end`` naive or ``end`` before ``start``.
        CalendarError: an event dated inside ``[start, end]`` needs sessions
            outside the exchange calendar's range.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("event_jobs needs timezone-aware start and end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if not rules.enabled:
        return []
    sessions = sessions or default_calendar()
    first = start.astimezone(NEW_YORK).date()
    last = end.astimezone(NEW_YORK).date()
    seen: set[tuple[datetime, EventJobKind]] = set()
    out: list[EventJob] = []
    for event in calendar.events_between(first - _SCAN_PAD, last + _SCAN_PAD):
        try:
            jobs = list(_jobs_for(event, rules, sessions))
        except CalendarError:
            if first <= event.date <= last:
                raise
            continue  # an event outside the range, near the calendar's edge
        for job in jobs:
            key = (job.fire_time, job.kind)
            if start <= job.fire_time <= end and key not in seen:
                seen.add(key)
                out.append(job)
    order = {EventJobKind.PRE_EVENT_HEDGE_CHECK: 0, EventJobKind.POST_EVENT_REEVALUATION: 1}
    out.sort(key=lambda j: (j.fire_time.astimezone(UTC), order[j.kind], j.event.sort_key()))
    return out


def merge_fire_times(
    regular: Iterable[tuple[datetime, T]], extra: Iterable[EventJob]
) -> Iterator[tuple[datetime, T | EventJob]]:
    """Interleave the daily fires with event jobs in time order (for replay).

    ``regular`` is e.g. :func:`daemon.scheduling.jobs.virtual_fire_times`
    (already sorted); at equal times regular jobs come first. Yields
    ``(fire_time, job)`` where ``job`` is the regular item or the
    :class:`EventJob`.
    """
    tagged_regular: Iterator[tuple[tuple[datetime, int], datetime, T | EventJob]] = (
        ((f.astimezone(UTC), 0), f, item) for f, item in regular
    )
    tagged_extra: Iterator[tuple[tuple[datetime, int], datetime, T | EventJob]] = (
        ((j.fire_time.astimezone(UTC), 1), j.fire_time, j) for j in extra
    )
    for _, fire, item in heapq.merge(tagged_regular, tagged_extra, key=lambda t: t[0]):
        yield fire, item
