"""The option model's calendar: exchange holidays and scheduled CPI/FOMC days as data.

The SPX surface's variance clock was fitted (``scripts/fit_models.py``) with
the exchange holidays and the CPI/FOMC days of the macro calendar; the
replay must price with the same inputs. :func:`model_calendar` reads them
from the run's :class:`~daemon.calendars.exchange.ExchangeCalendar` and
:class:`~daemon.calendars.macro.MacroCalendar` into the pure core's
:class:`~strategies.pricing.market_model.MarketCalendar`.

Only *scheduled* events are kept: an unscheduled FOMC action (e.g.
2020-03-15) was not known before it happened, so putting it on the clock
earlier would be look-ahead. The fit's chains (2022-2024) span no
unscheduled event, so this matches the calibration.
"""

from __future__ import annotations

from datetime import date, timedelta

from daemon.calendars.exchange import ExchangeCalendar
from daemon.calendars.macro import MacroCalendar
from strategies.pricing.market_model import CLOCK_EVENT_KINDS, MarketCalendar


def model_calendar(
    exchange: ExchangeCalendar, macro: MacroCalendar, start: date, end: date
) -> MarketCalendar:
    """Holidays (weekday non-sessions) and scheduled CPI/FOMC days in ``start..end``.

    Days beyond the exchange calendar's range count as sessions (no holiday
    is known there).
    """
    holidays = set()
    last = min(end, exchange.last_session)
    day = max(start, exchange.first_session)
    while day <= last:
        if day.weekday() < 5 and not exchange.is_session(day):
            holidays.add(day)
        day += timedelta(days=1)
    events: dict[date, tuple[str, ...]] = {}
    for event in macro.events_between(start, end):
        if event.scheduled and event.kind in CLOCK_EVENT_KINDS:
            kinds = events.get(event.date, ())
            if event.kind not in kinds:
                events[event.date] = (*kinds, event.kind)
    return MarketCalendar(frozenset(holidays), events)
