"""What comes next for ``alvh status``: scheduled job fires and macro events.

:func:`next_job_fires` asks each daily job's own cron trigger for its next
fire on XNYS sessions; :func:`macro_status` lists the next macro events,
whether a condor entry would be blocked now, and the event jobs within the
horizon.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.clock import NEW_YORK
from daemon.config import ScheduleConfig
from daemon.journal import RunInfo
from daemon.scheduling.jobs import job_definitions

__all__ = ["HORIZON_DAYS", "MACRO_EVENTS", "macro_status", "next_job_fires"]

#: How many macro events are listed.
MACRO_EVENTS = 5
#: How far ahead (calendar days) job fire times are searched.
HORIZON_DAYS = 14


def next_job_fires(
    schedule: ScheduleConfig,
    now: datetime,
    calendar: ExchangeCalendar | None = None,
    *,
    horizon_days: int = HORIZON_DAYS,
    notes: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The next fire of each daily job after ``now``, on XNYS sessions only, in time order.

    Each job's own APScheduler cron trigger is asked for its next fire time
    from ``max(now, 00:00 ET of the session)`` for each session from today
    on, so weekends and exchange holidays are skipped exactly as the live
    session guard drops them. A job with no fire within ``horizon_days`` (or
    beyond the calendar's range) is left out and a note says so.

    Returns:
        Dicts ``{job, kind: "daily", fire_time, session, early_close, event: None}``
        (plus an internal ``_utc`` sort key removed by
        :func:`~daemon.status.collect.collect_status`).
    """
    cal = calendar or default_calendar()
    local_now = now.astimezone(NEW_YORK)
    today = local_now.date()
    last = min(today + timedelta(days=horizon_days), cal.last_session)
    sessions: list[date] = []
    if today <= last:
        try:
            sessions = cal.sessions(max(today, cal.first_session), last)
        except CalendarError as exc:
            if notes is not None:
                notes.append(f"next jobs unavailable: {exc}")
    times = schedule.times()
    defs = job_definitions(**times, calendar=cal)
    out: list[dict[str, Any]] = []
    for job in defs:
        for session in sessions:
            midnight = datetime.combine(session, datetime.min.time(), NEW_YORK)
            start = max(midnight, local_now)
            fire = job.trigger.get_next_fire_time(None, start)
            if fire is None or fire.astimezone(NEW_YORK).date() != session or fire <= now:
                continue
            local = fire.astimezone(NEW_YORK)
            out.append(
                {
                    "job": job.name.value,
                    "kind": "daily",
                    "fire_time": local.isoformat(),
                    "session": session.isoformat(),
                    "early_close": cal.is_early_close(session),
                    "event": None,
                    "_utc": local.astimezone(UTC),
                }
            )
            break
        else:
            if notes is not None:
                notes.append(
                    f"job {job.name.value}: no fire within {horizon_days} days "
                    f"(calendar ends {cal.last_session})"
                )
    out.sort(key=lambda j: j["_utc"])
    return out


def macro_status(
    info: RunInfo, now: datetime, cal: ExchangeCalendar, notes: list[str]
) -> tuple[list[dict[str, Any]] | None, str | None, list[dict[str, Any]]]:
    """Next macro events, the entry block now, and event jobs within the horizon."""
    try:
        from daemon.calendars.event_rules import (
            EventRulesConfig,
            entry_block_reason,
            event_jobs,
        )
    except ImportError as exc:  # pragma: no cover - the module ships with alvh
        notes.append(f"macro events unavailable: {exc}")
        return None, None, []
    try:
        stored = info.config.get("events")
        rules = EventRulesConfig(**stored) if isinstance(stored, Mapping) else EventRulesConfig()
        calendar = rules.load_calendar()
    except Exception as exc:  # a bad stored section or a missing user calendar file
        notes.append(f"macro events unavailable: {exc}")
        return None, None, []
    events = [
        {
            "kind": e.kind,
            "date": e.date.isoformat(),
            "time_et": None if e.time_et is None else e.time_et.strftime("%H:%M"),
            "at": None if e.at is None else e.at.isoformat(),
            "scheduled": e.scheduled,
            "grade": e.grade,
            "label": e.label(),
        }
        for e in calendar.next_events(now, MACRO_EVENTS)
    ]
    if not events:
        notes.append(f"no macro events after {now.date()} in the calendar ({calendar.last_date})")
    block: str | None = None
    fires: list[dict[str, Any]] = []
    try:
        block = entry_block_reason(now, calendar, rules)
        horizon = now + timedelta(days=HORIZON_DAYS)
        end = min(horizon, datetime.combine(cal.last_session, datetime.max.time(), NEW_YORK))
        if end > now:
            for job in event_jobs(now, end, calendar, rules, cal):
                if job.fire_time <= now:
                    continue
                local = job.fire_time.astimezone(NEW_YORK)
                fires.append(
                    {
                        "job": job.kind.value,
                        "kind": job.kind.value,
                        "fire_time": local.isoformat(),
                        "session": local.date().isoformat(),
                        "early_close": cal.is_early_close(local.date()),
                        "event": job.event.label(),
                        "_utc": local.astimezone(UTC),
                    }
                )
    except (CalendarError, ValueError) as exc:
        notes.append(f"event jobs unavailable: {exc}")
    return events, block, fires
