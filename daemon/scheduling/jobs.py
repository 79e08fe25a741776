"""The daemon's jobs as APScheduler trigger definitions in America/New_York.

Replay and live use these same definitions: live hands the triggers to
APScheduler's asyncio scheduler; replay asks the same triggers for their fire
times on a virtual clock (:func:`virtual_fire_times`). Jobs are defined for
every weekday; a fire on a date that is not an exchange session is dropped by
:func:`virtual_fire_times` here and by the engine's session guard live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

NEW_YORK = ZoneInfo("America/New_York")


class JobName(StrEnum):
    """The daemon's scheduled jobs, in their order within a session."""

    ENTRY = "entry"
    """Open a new iron condor if the rules allow."""
    HEDGE_CHECK = "hedge_check"
    """Size and open the ALVH layer against the condor's short vega."""
    MANAGE = "manage"
    """Apply exits (profit target, stop, DTE floor) to condors and hedge layers."""
    MARK = "mark"
    """Mark every position, journal daily P&L and greeks."""


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
    jobs: tuple[JobDefinition, ...],
    start: datetime,
    end: datetime,
    is_session: Callable[[datetime], bool],
) -> Iterator[tuple[datetime, JobDefinition]]:
    """Yield ``(fire_time, job)`` in time order for ``start <= fire_time <= end``.

    Fire times come from each job's own APScheduler trigger, exactly as the live
    scheduler would compute them; fires for which ``is_session(fire_time)`` is
    false (weekday holidays) are skipped. Ties keep the definition order.

    Raises:
        ValueError: ``start``/``end`` naive or ``end`` before ``start``.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("virtual_fire_times needs timezone-aware start and end")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    step = timedelta(microseconds=1)
    upcoming: list[datetime | None] = [j.trigger.get_next_fire_time(None, start) for j in jobs]
    while True:
        candidates = [
            (fire, i) for i, fire in enumerate(upcoming) if fire is not None and fire <= end
        ]
        if not candidates:
            return
        fire, i = min(candidates)
        job = jobs[i]
        upcoming[i] = job.trigger.get_next_fire_time(fire, fire + step)
        if is_session(fire):
            yield fire, job
