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

The replay's source also offers :meth:`BundleSignalSource.indicator_tail`: the
RSI and MACD values the signals read, computed for :data:`TAIL_CHUNK` coming
sessions at once (:func:`strategies.signals.batch.indicator_tails`), handed
out only for a window whose VIX and VVIX series are byte for byte the ones
they were computed from. The engine uses it when a source has it
(:meth:`daemon.engine.TradingEngine.current_signals`); the signals are the
same doubles either way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Protocol

import numpy as np

from daemon.marketdata.history import MarketHistory
from daemon.marketdata.visibility import Phase, phase_at, visible_signal_row
from strategies.domain import FloatArray
from strategies.rules import SignalParams
from strategies.signals import SignalHistory
from strategies.signals.batch import indicator_tails
from strategies.signals.hedge_signals import IndicatorTail

#: Sessions of history handed to the signals: enough for the slowest
#: indicator (MACD 26+9 and Wilder RSI smoothing) to settle.
DEFAULT_WINDOW = 250

#: Sessions whose indicator tails are computed together (numpy arrays of
#: TAIL_CHUNK x window rows, ~0.5 MB a series at 250 rows, a few of them while
#: the chunk is computed; smaller chunks cost more numpy calls per session:
#: 2007-2024's 4,507 windows take ~43 ms at 256, ~66 ms at 128, ~115 ms at 64).
TAIL_CHUNK = 256


class _TailChunk:
    """Indicator tails of sessions ``first .. first + len(tails) - 1`` in one phase.

    ``vix_last`` and ``vvix_last``: each session's last window row as visible
    in the phase (the rows before it are the bundle's), to recognise the
    windows the tails were computed from without keeping them.
    """

    __slots__ = ("first", "tails", "vix_last", "vvix_last")

    def __init__(
        self,
        first: int,
        vix_last: FloatArray,
        vvix_last: FloatArray,
        tails: list[IndicatorTail | None],
    ) -> None:
        self.first, self.vix_last, self.vvix_last, self.tails = first, vix_last, vvix_last, tails


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
        # (phase, rows, params) -> the chunk of indicator tails in use
        self._tails: dict[tuple[Phase, int, SignalParams], _TailChunk] = {}

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

    def indicator_tail(self, window: SignalHistory, params: SignalParams) -> IndicatorTail | None:
        """The RSI and MACD values of ``window`` if this source computed them ahead.

        Computed for :data:`TAIL_CHUNK` sessions from the window's session on,
        in the clock's current phase, with the windows :meth:`window` builds
        for them; returned only when ``window``'s VIX and VVIX series are
        byte for byte those (the tail is a pure function of them and
        ``params``), else ``None`` (the caller computes the window alone, as
        it does for a window with a missing value).
        """
        h = self.history
        rows = len(window)
        try:
            i = h.index_of(window.session)
        except KeyError:  # not a session of the bundle: not a window of this source
            return None
        if i + 1 <= rows:
            # the window starts at the bundle's first session (shorter than asked
            # near it): the next sessions' windows are longer, not a chunk's
            return None
        key = (self._phase(window.session), rows, params)
        chunk = self._tails.get(key)
        if chunk is None or not chunk.first <= i < chunk.first + len(chunk.tails):
            chunk = self._tail_chunk(i, rows, key[0], params)
            self._tails[key] = chunk
        k = i - chunk.first
        start = i - rows + 1
        if (
            window.vix[:-1].tobytes() != h.vix_close[start:i].tobytes()
            or window.vvix[:-1].tobytes() != h.vvix[start:i].tobytes()
            or window.vix[-1:].tobytes() != chunk.vix_last[k : k + 1].tobytes()
            or window.vvix[-1:].tobytes() != chunk.vvix_last[k : k + 1].tobytes()
        ):
            return None
        return chunk.tails[k]

    def _tail_chunk(self, first: int, rows: int, phase: Phase, params: SignalParams) -> _TailChunk:
        h = self.history
        stop = min(first + TAIL_CHUNK, len(h.sessions))
        starts = np.arange(first, stop) - (rows - 1)
        index = starts[:, None] + np.arange(rows)[None, :]
        vix = h.vix_close[index]
        vvix = h.vvix[index]
        if phase is not Phase.CLOSE:  # each session's own row: only what is visible then
            for k, i in enumerate(range(first, stop)):
                row = visible_signal_row(h, i, phase)
                vix[k, -1] = row.vix
                vvix[k, -1] = row.vvix
        return _TailChunk(
            first, vix[:, -1].copy(), vvix[:, -1].copy(), indicator_tails(vix, vvix, params)
        )
