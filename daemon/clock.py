"""Every clock the daemon reads, and the exchange time zone.

The clock is the only thing besides the broker that differs between live and
replay: live reads :class:`SystemClock` (or :class:`OffsetClock` in drills),
replay moves a :class:`VirtualClock` forward. Each has ``now() -> datetime``
returning a timezone-aware instant; compare instants freely and convert with
``astimezone(NEW_YORK)`` for exchange dates and wall-clock times.

This module imports nothing from the daemon, so brokers, calendars, the
scheduler and the engine can all depend on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo

__all__ = ["NEW_YORK", "Clock", "OffsetClock", "SystemClock", "VirtualClock"]

#: The exchange time zone (US Eastern, with daylight saving): SPX and VIX
#: sessions, job times, expiries and settlement times are New York wall-clock times.
NEW_YORK: Final = ZoneInfo("America/New_York")


class Clock(Protocol):
    """Source of the current time: ``now()`` returns a timezone-aware instant."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time, as a timezone-aware instant in UTC."""

    def now(self) -> datetime:
        """The current instant (tz = UTC)."""
        return datetime.now(UTC)


class OffsetClock:
    """The wall clock shifted so that it read ``start`` when created (live drills only).

    Time runs at the normal rate from ``start``: ``now()`` is the system time
    in UTC plus the fixed offset ``start - (system time at creation)``.
    ``alvh run --now`` uses it; live trading refuses it.

    Args:
        start: the instant the clock reads at creation; must be timezone-aware.

    Raises:
        ValueError: ``start`` is naive.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("--now needs a timezone-aware time, e.g. 2026-11-20T15:30-05:00")
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        """The shifted current instant (tz = UTC)."""
        return datetime.now(UTC) + self._offset


class VirtualClock:
    """A clock the replay moves forward explicitly; it never sleeps.

    ``now()`` returns the last instant set, in the time zone it was given.

    Args:
        start: the first instant; must be timezone-aware.

    Raises:
        ValueError: on a naive datetime or an attempt to move backwards.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        """The instant the clock was last moved to (tz as given)."""
        return self._now

    def advance_to(self, when: datetime) -> None:
        """Move the clock to ``when`` (timezone-aware, not earlier than :meth:`now`)."""
        when = _aware(when)
        if when < self._now:
            raise ValueError(f"virtual clock cannot go back from {self._now} to {when}")
        self._now = when


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {when!r}")
    return when
