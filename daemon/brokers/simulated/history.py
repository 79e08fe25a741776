"""What the simulated broker reads from the market-data bundle (:class:`History`)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from daemon.marketdata.visibility import Phase, SessionRange
from strategies.domain import MarketContext


class History(Protocol):
    """What the simulated broker needs from the market-data bundle."""

    def index_of(self, session: date) -> int: ...

    def context(self, index: int) -> MarketContext: ...

    def visible_context(self, index: int, phase: Phase) -> MarketContext:
        """Session ``index``'s context as a job in ``phase`` of it sees it."""
        ...

    def spx_settlement(self, session: date) -> float: ...

    def spx_am_settlement(self, session: date) -> float: ...

    def vix_settlement(self, session: date) -> float: ...

    def vix_expiries(self, session: date, min_dte: int, max_dte: int) -> list[date]: ...

    def session_range(self, index: int) -> SessionRange | None:
        """Session ``index``'s SPX open/low/high and VIX open/high (None: no range)."""
        ...
