"""Where the hedge signals' daily history comes from (replay: the bundle; live: see below).

The pure signals (:mod:`strategies.signals`) read a :class:`SignalHistory`
window ending at the decision session. A :class:`SignalSource` builds that
window; the engine asks for it once per hedge decision
(:meth:`daemon.engine.TradingEngine.current_signals`).

* :class:`BundleSignalSource` (replay) slices the bundled daily history up to
  and including the decision session, whose row holds only what is visible at
  the clock's time (:mod:`daemon.marketdata.visibility`: before the close, VIX
  and SPX at the open and the close-only series and futures at the previous
  session's values; from the close on, the session's closes): the same values
  the replay's market context uses, never a later one.
* Live trading builds the window from journaled daily rows plus IB historical
  bars (:class:`daemon.marketdata.live_signals.IBSignalSource`, same protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

import numpy as np

from daemon.marketdata.history import MarketHistory
from daemon.marketdata.visibility import Phase, phase_at, visible_signal_row
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
    """Replay's source: the bundled :class:`MarketHistory` up to the decision session.

    ``clock`` (the replay's) and ``session_close`` (the calendar's) place the
    decision within its session; without a clock every window ends at the
    session's close (tools that want end-of-day signals).
    """

    def __init__(
        self,
        history: MarketHistory,
        clock: Callable[[], datetime] | None = None,
        session_close: Callable[[date], datetime] | None = None,
    ) -> None:
        self.history = history
        self._clock = clock
        self._session_close = session_close
        # The hedge check and the manage job of one session ask for the same
        # window; a SignalHistory is immutable, so hand out the one built.
        self._last: tuple[tuple[date, int, Phase], SignalHistory] | None = None

    def _phase(self, session: date) -> Phase:
        if self._clock is None:
            return Phase.CLOSE
        now = self._clock()
        close = self._session_close(session) if self._session_close is not None else None
        return phase_at(now, close)

    async def window(self, session: date, rows: int = DEFAULT_WINDOW) -> SignalHistory:
        key = (session, rows, self._phase(session))
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        built = self._build(session, rows, key[2])
        self._last = (key, built)
        return built

    def _build(self, session: date, rows: int, phase: Phase) -> SignalHistory:
        h = self.history
        i = h.index_of(session)
        end = i + 1
        start = max(0, end - rows)
        columns = {
            "vix": h.vix_close[start:end].copy(),
            "spx": h.spx_close[start:end].copy(),
            "vvix": h.vvix[start:end].copy(),
            "advancing": h.advancing[start:end].copy(),
            "declining": h.declining[start:end].copy(),
            "vix_m1": np.array(h.futures[start:end, 0]),
            "vix_m2": np.array(h.futures[start:end, 1]),
        }
        if phase is not Phase.CLOSE:  # the session's own row: only what is visible now
            row = visible_signal_row(h, i, phase)
            for name, column in columns.items():
                column[-1] = getattr(row, name)
        return SignalHistory.from_arrays(session, h.sessions[start:end], **columns)
