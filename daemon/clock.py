"""Clocks: the only thing besides the broker that differs between live and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (timezone-aware)."""

    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock the replay moves forward explicitly; it never sleeps.

    Raises:
        ValueError: on a naive datetime or an attempt to move backwards.
    """

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, when: datetime) -> None:
        when = _aware(when)
        if when < self._now:
            raise ValueError(f"virtual clock cannot go back from {self._now} to {when}")
        self._now = when


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"clock times must be timezone-aware, got {when!r}")
    return when
