"""Trading calendars: NYSE sessions and VIX expiries.

``exchange`` wraps ``exchange_calendars``' XNYS calendar (imported lazily);
``vix_expiry`` implements the Cboe monthly VIX expiry rule on top of any
trading-day predicate.
"""

from daemon.calendars.exchange import CalendarError, ExchangeCalendar, default_calendar
from daemon.calendars.vix_expiry import (
    next_vix_expiries,
    third_friday,
    vix_expiries_between,
    vix_expiry,
)

__all__ = [
    "CalendarError",
    "ExchangeCalendar",
    "default_calendar",
    "next_vix_expiries",
    "third_friday",
    "vix_expiries_between",
    "vix_expiry",
]
