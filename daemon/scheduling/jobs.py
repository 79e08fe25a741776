"""The daemon's jobs as APScheduler trigger definitions in America/New_York.

Replay and live use these same definitions: live hands the triggers to
APScheduler's asyncio scheduler; replay asks the same triggers for their fire
times on a virtual clock (:func:`virtual_fire_times`). Each job's
:class:`SessionTrigger` fires on exchange sessions only and moves jobs keyed to
the close with an early close; the engine's session guard
(``TradingEngine(is_session=...)``) is a second line of defence live.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from daemon.clock import NEW_YORK

#: The regular NYSE close; early closes are at 13:00 ET.
REGULAR_CLOSE = time(16, 0)
#: Jobs at or after this time are keyed to the close: on an early-close
#: session they move earlier by as much as the close does (15:30 -> 12:30).
CLOSE_KEYED_FROM = time(13, 0)


class SessionCalendar(Protocol):
    """What the session trigger needs from the exchange calendar."""

    def is_session(self, day: date) -> bool: ...

    def session_close(self, day: date) -> datetime: ...


class SessionTrigger(BaseTrigger):
    """An APScheduler trigger: a Monday-Friday cron time, on exchange sessions only.

    The wall-clock time comes from an APScheduler :class:`CronTrigger` in
    America/New_York. Fires on dates that are not sessions are skipped. A job
    keyed to the close (time at or after :data:`CLOSE_KEYED_FROM`) moves with
    an early close: on a 13:00 ET close, 15:30 becomes 12:30 and 16:15
    becomes 13:15. Replay and live use the same trigger objects.

    Args:
        at: New York wall-clock time of the job.
        calendar: exchange calendar (``is_session``, ``session_close``).
    """

    def __init__(self, at: time, calendar: SessionCalendar) -> None:
        self.at = at
        self.calendar = calendar
        self.cron = CronTrigger(
            day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=NEW_YORK
        )

    def fire_time_on(self, session: date) -> datetime | None:
        """When the job fires on ``session`` (None if not a session)."""
        if not self.calendar.is_session(session):
            return None
        fire = datetime.combine(session, self.at, NEW_YORK)
        if self.at >= CLOSE_KEYED_FROM:
            close = self.calendar.session_close(session).astimezone(NEW_YORK)
            early_by = datetime.combine(session, REGULAR_CLOSE, NEW_YORK) - close
            if early_by > timedelta(0):
                fire = (fire - early_by).astimezone(NEW_YORK)
        return fire

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first session fire at or after ``now`` and after ``previous_fire_time``."""
        probe = now
        for _ in range(31):  # more than any run of non-sessions
            cron_fire = self.cron.get_next_fire_time(None, probe)
            if cron_fire is None:
                return None
            day = cron_fire.astimezone(NEW_YORK).date()
            fire = self.fire_time_on(day)
            if (
                fire is not None
                and fire >= now
                and (previous_fire_time is None or fire > previous_fire_time)
            ):
                return fire
            probe = datetime.combine(day + timedelta(days=1), time(0, 0), NEW_YORK)
        return None

    def __str__(self) -> str:
        return f"session[{self.at:%H:%M} America/New_York, early-close aware]"


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
    trigger: SessionTrigger
    at: time


def job_definitions(
    entry: time,
    hedge_check: time,
    manage: time,
    mark: time,
    calendar: SessionCalendar | None = None,
) -> tuple[JobDefinition, ...]:
    """Session triggers for each job at the given New York wall-clock times.

    ``calendar`` defaults to the shared XNYS calendar.
    """
    if calendar is None:
        from daemon.calendars.exchange import default_calendar

        calendar = default_calendar()
    times = {
        JobName.ENTRY: entry,
        JobName.HEDGE_CHECK: hedge_check,
        JobName.MANAGE: manage,
        JobName.MARK: mark,
    }
    return tuple(
        JobDefinition(name, SessionTrigger(at, calendar), at) for name, at in times.items()
    )


def virtual_fire_times(
    jobs: tuple[JobDefinition, ...], sessions: Iterable[date]
) -> Iterator[tuple[datetime, JobDefinition]]:
    """Yield ``(fire_time, job)`` for every job firing on each of ``sessions``, in time order.

    Each fire time is the one the job's own APScheduler trigger gives when
    asked for its next fire time from midnight (New York) of the session, as
    the live scheduler asks it: :meth:`SessionTrigger.fire_time_on` of that
    session, which is where that search ends on a weekday (a test checks the
    two agree); a trigger that does not fire on the session's date does not
    fire that session. Only the given sessions are visited, so nothing
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
            # What get_next_fire_time(None, midnight) returns when it lands on
            # ``session``: its answer is fire_time_on() of the first Monday-Friday
            # date the cron finds, i.e. of ``session`` itself on a weekday; the
            # cron search cost a tenth of the replay.
            fire = job.trigger.fire_time_on(session) if session.weekday() < 5 else None
            if (
                fire is not None
                and fire >= midnight
                and fire.astimezone(NEW_YORK).date() == session
            ):
                fires.append((fire, order, job))
        fires.sort(key=lambda item: (item[0], item[1]))
        for fire, _, job in fires:
            yield fire, job
