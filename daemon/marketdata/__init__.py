"""Daily market history: the bundled CSV files and their session-aligned loader.

``bundle/`` holds real daily series (SPX, VIX, VIX9D, VIX3M, VVIX, SKEW, VIX
futures M1..M7, NYSE breadth) with their provenance in ``bundle/SOURCES.md``;
:func:`load_history` turns them into a column-oriented :class:`MarketHistory`
aligned to NYSE sessions.

Modules: :mod:`~daemon.marketdata.files` reads and validates each CSV file,
:mod:`~daemon.marketdata.history` holds the session-aligned
:class:`MarketHistory`, :mod:`~daemon.marketdata.loader` aligns the files and
builds it (and re-exports the names of the other two).
"""

from daemon.marketdata.loader import (
    BUNDLE_DIR,
    MAX_FFILL_SESSIONS,
    Gap,
    MarketDataError,
    MarketHistory,
    NotASessionError,
    load_history,
)

__all__ = [
    "BUNDLE_DIR",
    "MAX_FFILL_SESSIONS",
    "Gap",
    "MarketDataError",
    "MarketHistory",
    "NotASessionError",
    "load_history",
]
