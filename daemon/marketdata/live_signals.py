"""The live signal source: journaled daily rows, back-filled from IB daily bars.

:class:`IBSignalSource` implements :class:`~daemon.marketdata.signal_source.SignalSource`
for ``alvh run`` (paper, live, dry run), so a live hedge decision reads the
same kind of window as replay's :class:`~daemon.marketdata.signal_source.BundleSignalSource`:
one row per exchange session, oldest first, NaN where a value is unknown.

The window for decision session ``S``:

1. **Sessions.** The last ``rows`` exchange sessions that are *settled*:
   every session before ``S``, and ``S`` itself once :data:`SETTLE_DELAY`
   has passed since its close (16:00 New York, earlier on half days; VIX is
   calculated until 16:15, so its close is only final after that). Before
   then the window ends at the previous session: an intraday bar is not a
   close, and no row is ever dated after ``S``.
2. **Journal.** Rows of ``market_daily`` (journal schema v3) for those sessions.
3. **Back-fill.** For sessions the journal lacks, or whose row lacks the VIX
   or SPX close, IB daily bars
   (:mod:`daemon.brokers.ib.history`): one request per index (VIX, VVIX, SPX)
   covering the missing span, and one per VIX futures contract that was front
   or second on a missing session among the last ``futures_sessions`` of the
   window (front = the first monthly expiry *after* the session, rolling on
   expiry day, as in the bundle; :func:`daemon.calendars.vix_expiry.next_vix_expiries`).
   The term-structure signals read only the last two rows, so older futures
   values come from the journal as it accumulates, not from one long back-fill.
   Every back-filled session with at least one value is journaled (source
   ``ib_bars``) so the next start asks for less; a session IB has no bar for
   stays NaN and is asked for again next time.
4. **Breadth.** NYSE advancing/declining issues have no IB history (see
   :mod:`daemon.brokers.ib.history`): they come only from journaled rows,
   written by :meth:`IBSignalSource.record_close` (the mark job, after the
   close); NaN otherwise, so the A/D signals stay false until
   ``divergence_lookback`` sessions have been recorded.

The window is cached per (decision session, last complete session, rows), so
the hedge decisions of one session cost one back-fill.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from daemon.brokers.base import BrokerError
from daemon.calendars.vix_expiry import next_vix_expiries
from daemon.journal import Journal, MarketDayRecord
from daemon.marketdata.signal_source import DEFAULT_WINDOW
from strategies.signals import SignalHistory

__all__ = ["DEFAULT_FUTURES_SESSIONS", "DailyBarSource", "IBSignalSource", "TradingCalendar"]

#: How long after a session's close its index closes are taken as final
#: (VIX is disseminated until 16:15 ET; a 16:00 close plus 20 minutes).
SETTLE_DELAY = timedelta(minutes=20)

#: Sessions at the end of the window whose VIX futures are back-filled from IB.
DEFAULT_FUTURES_SESSIONS = 10

#: Indexes read from daily bars: record field -> IB symbol.
_INDEXES = {"vix": "VIX", "vvix": "VVIX", "spx": "SPX"}


class DailyBarSource(Protocol):
    """Daily history from the broker (the IB adapter implements it)."""

    async def index_daily_closes(
        self, symbol: str, first: date, last: date
    ) -> dict[date, float]: ...

    async def vix_future_daily_closes(
        self, expiry: date, first: date, last: date
    ) -> dict[date, float]: ...

    async def nyse_breadth(self) -> tuple[float, float]: ...


class TradingCalendar(Protocol):
    """The exchange calendar calls the source needs (``ExchangeCalendar`` has them)."""

    def is_session(self, d: date) -> bool: ...

    @property
    def session_dates(self) -> tuple[date, ...]: ...

    def session_index(self, d: date) -> int: ...

    def session_close(self, d: date) -> datetime: ...

    def previous_session(self, d: date) -> date: ...


class IBSignalSource:
    """Journaled daily rows plus IB daily bars, as a ``SignalSource`` (see the module).

    Args:
        bars: the broker's daily history (:class:`DailyBarSource`).
        journal: the open journal (schema v3 ``market_daily``).
        calendar: exchange sessions and closes.
        clock: current timezone-aware time.
        log: structlog-style logger.
        futures_sessions: how many of the window's last sessions get their
            VIX futures back-filled from IB.
    """

    def __init__(
        self,
        bars: DailyBarSource,
        journal: Journal,
        calendar: TradingCalendar,
        clock: Callable[[], datetime],
        log: Any,
        futures_sessions: int = DEFAULT_FUTURES_SESSIONS,
    ) -> None:
        if futures_sessions < 0:
            raise ValueError("futures_sessions must be >= 0")
        self.bars = bars
        self.journal = journal
        self.calendar = calendar
        self.clock = clock
        self.log = log
        self.futures_sessions = futures_sessions
        self._cache: dict[tuple[date, date, int], SignalHistory] = {}

    # ----------------------------------------------------------------- window

    def settled(self, session: date) -> bool:
        """Whether ``session`` is a session whose closes are final (:data:`SETTLE_DELAY`)."""
        if not self.calendar.is_session(session):
            return False
        return self.clock() >= self.calendar.session_close(session) + SETTLE_DELAY

    def complete_sessions(self, session: date, rows: int) -> list[date]:
        """The last ``rows`` settled sessions up to ``session``, oldest first."""
        last = session if self.settled(session) else self.calendar.previous_session(session)
        end = self.calendar.session_index(last) + 1
        return list(self.calendar.session_dates[max(0, end - rows) : end])

    async def window(self, session: date, rows: int = DEFAULT_WINDOW) -> SignalHistory:
        """At most ``rows`` complete sessions ending at or before ``session`` (see the module).

        Raises:
            BrokerError: a back-fill request failed (nothing of it is journaled).
        """
        sessions = self.complete_sessions(session, rows)
        if not sessions:
            return SignalHistory.from_arrays(session, [], vix=[], spx=[])
        key = (session, sessions[-1], rows)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        known = {r.session: r for r in self.journal.market_days(sessions[0], sessions[-1])}
        missing = [d for d in sessions if d not in known or not _has_closes(known[d])]
        if missing:
            fetched = await self._fetch(missing, set(sessions[-self.futures_sessions :]))
            filled = [fetched[day] for day in missing if _has_value(fetched[day])]
            self.journal.record_market_days(filled)
            for row in filled:
                known[row.session] = _merge(known.get(row.session), row)
            self.log.info(
                "signal_history_backfill",
                session=session.isoformat(),
                missing=len(missing),
                journaled=len(filled),
            )
        history = _history(session, sessions, known)
        self._cache = {key: history}  # one decision session at a time
        return history

    async def record_close(self, session: date) -> MarketDayRecord | None:
        """Journal ``session``'s end-of-day row (the mark job calls it after the close).

        NYSE breadth from an ``AD-NYSE`` snapshot (NaN when IB has none) and
        the front two VIX futures from the session's daily bars; VIX, VVIX and
        SPX too once the session is :meth:`settled` (else they are left to the
        next window's back-fill, which asks for a row without them). Nothing
        before the close or on a day that is not a session.

        Raises:
            BrokerError: a bar request failed (nothing is journaled).
        """
        if not self.calendar.is_session(session):
            return None
        if self.clock() < self.calendar.session_close(session):
            return None
        try:
            advancing, declining = await self.bars.nyse_breadth()
        except BrokerError as exc:
            self.log.warning("nyse_breadth_unavailable", reason=str(exc))
            advancing = declining = math.nan
        row = (await self._fetch([session], {session}, indexes=self.settled(session)))[session]
        row = dataclasses.replace(row, advancing=advancing, declining=declining, source="mark")
        self.journal.record_market_day(row)
        self.journal.flush(force=True)
        self._cache.clear()
        self.log.info(
            "market_day_recorded",
            session=session.isoformat(),
            vix=row.vix,
            spx=row.spx,
            advancing=advancing,
            declining=declining,
            vix_m1=row.vix_m1,
            vix_m2=row.vix_m2,
        )
        return row

    # ---------------------------------------------------------------- fetching

    async def _fetch(
        self, missing: list[date], futures_days: set[date], indexes: bool = True
    ) -> dict[date, MarketDayRecord]:
        """Rows for ``missing`` sessions from IB bars (NaN where IB has none)."""
        first, last = missing[0], missing[-1]
        closes: dict[str, dict[date, float]] = {name: {} for name in _INDEXES}
        for name, symbol in _INDEXES.items() if indexes else ():
            closes[name] = await self.bars.index_daily_closes(symbol, first, last)
        fronts: dict[date, tuple[date, date]] = {}
        wanted: dict[date, list[date]] = {}
        for day in missing:
            if day not in futures_days:
                continue
            m1, m2 = next_vix_expiries(day, 2, self.calendar.is_session)
            fronts[day] = (m1, m2)
            wanted.setdefault(m1, []).append(day)
            wanted.setdefault(m2, []).append(day)
        futures: dict[date, dict[date, float]] = {}
        for expiry, days in sorted(wanted.items()):
            futures[expiry] = await self.bars.vix_future_daily_closes(expiry, min(days), max(days))
        out: dict[date, MarketDayRecord] = {}
        for day in missing:
            m1e, m2e = fronts.get(day, (None, None))
            out[day] = MarketDayRecord(
                session=day,
                vix=closes["vix"].get(day, math.nan),
                vvix=closes["vvix"].get(day, math.nan),
                spx=closes["spx"].get(day, math.nan),
                vix_m1=futures[m1e].get(day, math.nan) if m1e else math.nan,
                vix_m1_expiry=m1e,
                vix_m2=futures[m2e].get(day, math.nan) if m2e else math.nan,
                vix_m2_expiry=m2e,
                source="ib_bars",
            )
        return out


def _has_closes(row: MarketDayRecord) -> bool:
    """Whether a journaled row has the closes every signal needs (VIX and SPX)."""
    return math.isfinite(row.vix) and math.isfinite(row.spx)


def _merge(old: MarketDayRecord | None, new: MarketDayRecord) -> MarketDayRecord:
    """``new`` with each value it lacks taken from ``old`` (what the journal's upsert keeps)."""
    if old is None:
        return new
    changes: dict[str, object] = {}
    for field in dataclasses.fields(MarketDayRecord):
        value = getattr(new, field.name)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing:
            changes[field.name] = getattr(old, field.name)
    return dataclasses.replace(new, **changes)  # type: ignore[arg-type]


def _has_value(row: MarketDayRecord) -> bool:
    values = (row.vix, row.vvix, row.spx, row.vix_m1, row.vix_m2, row.advancing, row.declining)
    return any(math.isfinite(v) for v in values)


def _history(
    session: date, sessions: list[date], rows: dict[date, MarketDayRecord]
) -> SignalHistory:
    """The :class:`SignalHistory` of ``sessions`` (NaN for a session without a row)."""
    empty = MarketDayRecord(session=session)

    def series(name: str) -> list[float]:
        return [getattr(rows.get(d, empty), name) for d in sessions]

    return SignalHistory.from_arrays(
        session,
        sessions,
        vix=series("vix"),
        spx=series("spx"),
        vvix=series("vvix"),
        advancing=series("advancing"),
        declining=series("declining"),
        vix_m1=series("vix_m1"),
        vix_m2=series("vix_m2"),
    )
