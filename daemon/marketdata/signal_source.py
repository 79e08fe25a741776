"""Where the hedge signals' daily history comes from (replay: the bundle; live: see below).

The pure signals (:mod:`strategies.signals`) read a :class:`SignalHistory`
window ending at the decision session. A :class:`SignalSource` builds that
window; the engine asks for it once per hedge decision
(:meth:`daemon.engine.TradingEngine.current_signals`).

* :class:`BundleSignalSource` (replay) slices the bundled daily history up to
  and including the decision session: the same end-of-day values the replay's
  market context uses, never a later row.
* Live trading builds the window from journaled daily rows plus IB historical
  bars (:class:`daemon.marketdata.live_signals.IBSignalSource`, same protocol).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from daemon.marketdata.history import MarketHistory
from strategies.signals import SignalHistory

#: Sessions of history handed to the signals: enough for the slowest
#: indicator (MACD 26+9 and Wilder RSI smoothing) to settle.
DEFAULT_WINDOW = 250


class SignalSource(Protocol):
    """Builds the daily window the hedge signals are computed from."""

    async def window(self, session: date, rows: int = DEFAULT_WINDOW) -> SignalHistory:
        """At most ``rows`` daily rows ending at ``session`` (inclusive), oldest first.

        Raises:
            daemon.brokers.base.BrokerError: the data could not be fetched
                (live); the hedge then decides without signals and says so.
        """
        ...


class BundleSignalSource:
    """Replay's source: the bundled :class:`MarketHistory` up to the decision session."""

    def __init__(self, history: MarketHistory) -> None:
        self.history = history
        # The hedge check and the manage job of one session ask for the same
        # window; a SignalHistory is immutable, so hand out the one built.
        self._last: tuple[tuple[date, int], SignalHistory] | None = None

    async def window(self, session: date, rows: int = DEFAULT_WINDOW) -> SignalHistory:
        if self._last is not None and self._last[0] == (session, rows):
            return self._last[1]
        built = self._build(session, rows)
        self._last = ((session, rows), built)
        return built

    def _build(self, session: date, rows: int) -> SignalHistory:
        h = self.history
        end = h.index_of(session) + 1
        start = max(0, end - rows)
        return SignalHistory.from_arrays(
            session,
            h.sessions[start:end],
            vix=h.vix_close[start:end],
            spx=h.spx_close[start:end],
            vvix=h.vvix[start:end],
            advancing=h.advancing[start:end],
            declining=h.declining[start:end],
            vix_m1=h.futures[start:end, 0],
            vix_m2=h.futures[start:end, 1],
        )
