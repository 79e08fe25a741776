"""The daemon's jobs as APScheduler trigger definitions in America/New_York.

Replay and live use these same definitions: live hands the triggers to
APScheduler's asyncio scheduler; replay asks the same triggers for their fire
times on a virtual clock (:func:`virtual_fire_times`). Jobs are defined for
every weekday; replay visits exchange sessions only, and live the engine's
session guard (``TradingEngine(is_session=...)``) drops fires on non-sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

NEW_YORK = ZoneInfo("America/New_York")


class JobName(StrEnum):
    """The daemon's jobs: four daily cron jobs, in session order, and two event jobs."""

    ENTRY = "entry"
    """Open a new iron condor if the rules allow."""
    HEDGE_CHECK = "hedge_check"
    """Size and open the ALVH layer against the condor's short vega."""
    MANAGE = "manage"
    """Apply exits (profit target, stop, DTE floor) to condors and hedge layers."""
    MARK = "mark"
    """Mark every position, journal daily P&L and greeks."""
    PRE_EVENT_HEDGE_CHECK = "pre_event_hedge_check"
    """One-off hedge check before a macro event (see daemon.calendars.event_rules)."""
    POST_EVENT_REEVALUATION = "post_event_reevaluation"
    """One-off re-evaluation (manage, then hedge check) after a macro event."""


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """One scheduled job: its name and its cron trigger (America/New_York)."""

    name: JobName
    trigger: CronTrigger
    at: time


def job_definitions(
    entry: time, hedge_check: time, manage: time, mark: time
) -> tuple[JobDefinition, ...]:
    """Cron triggers for each job at the given New York wall-clock times, Monday-Friday."""
    times = {
        JobName.ENTRY: entry,
        JobName.HEDGE_CHECK: hedge_check,
        JobName.MANAGE: manage,
        JobName.MARK: mark,
    }
    return tuple(
        JobDefinition(
            name,
            CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=NEW_YORK),
            at,
        )
        for name, at in times.items()
    )


def virtual_fire_times(
    jobs: tuple[JobDefinition, ...], sessions: Iterable[date]
) -> Iterator[tuple[datetime, JobDefinition]]:
    """Yield ``(fire_time, job)`` for every job firing on each of ``sessions``, in time order.

    Each fire time comes from the job's own APScheduler trigger, asked for its
    next fire time from midnight (New York) of the session, exactly as the live
    scheduler computes it; a trigger whose next fire falls on a later date does
    not fire that session. Only the given sessions are visited, so nothing
    fires on a weekend or holiday. Within a session, ties keep the definition
    order.

    Raises:
        ValueError: ``sessions`` not strictly increasing.
    """
    previous: date | None = None
    for session in sessions:
        if previous is not None and session <= previous:
            raise ValueError(f"sessions must increase: {session} after {previous}")
        previous = session
        midnight = datetime.combine(session, time(0, 0), NEW_YORK)
        fires = []
        for order, job in enumerate(jobs):
            fire = job.trigger.get_next_fire_time(None, midnight)
            if fire is not None and fire.astimezone(NEW_YORK).date() == session:
                fires.append((fire, order, job))
        fires.sort(key=lambda item: (item[0], item[1]))
        for fire, _, job in fires:
            yield fire, job
