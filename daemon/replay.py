"""Replay: the trading engine over real daily history on a virtual clock.

The same job definitions the live scheduler uses fire on a
:class:`~daemon.clock.VirtualClock` over the exchange sessions in the range,
as fast as the machine allows (no sleeping). The broker is the
:class:`~daemon.brokers.simulated.SimulatedBroker`; everything else is the
live engine.

No look-ahead: each job sees only the part of its session's daily row that
is stamped at or before its fire time (:mod:`daemon.marketdata.visibility`):
jobs before the close see the session's open for SPX and the VIX family and
the previous session's values for the close-only series and the VIX futures;
jobs at or after the close (the 16:15 ET mark) see the close. The market
context, quotes, marks, fills, the risk and margin gates and the hedge
signals all read that visible state. Stops and profit targets are checked
against each closed session's range (:mod:`strategies.exit_path`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from daemon.analytics import JournalSummary
from daemon.brokers.simulated import SimulatedBroker
from daemon.calendars.event_rules import (
    EventJob,
    event_jobs,
    make_entry_guard,
    merge_fire_times,
)
from daemon.calendars.exchange import ExchangeCalendar, default_calendar
from daemon.calendars.macro import CalendarFileError
from daemon.calendars.model_calendar import model_calendar
from daemon.calendars.vix_expiry import vix_expiries_between
from daemon.clock import NEW_YORK, VirtualClock
from daemon.config import AlvhConfig
from daemon.engine import TradingEngine
from daemon.journal import Journal
from daemon.logs import bind_clock
from daemon.marketdata.loader import MarketDataError, MarketHistory, load_history
from daemon.marketdata.signal_memo import SignalMemo
from daemon.marketdata.signal_source import BundleSignalSource
from daemon.marketdata.tbill import cash_rate
from daemon.marketdata.visibility import Phase, SessionRange, session_range, visible_context
from daemon.scheduling.jobs import (
    JobName,
    job_definitions,
    virtual_fire_times,
)
from strategies.domain import MarketContext
from strategies.pricing.market_model import MarketModel
from strategies.pricing.surface_memo import SurfaceMemo
from strategies.signals import compute_signals


class ReplayError(RuntimeError):
    """The replay cannot run as asked (range outside the data, bad input)."""


#: Market contexts :class:`ReplayMarket` keeps (a few sessions' phases).
_CONTEXTS_KEPT = 16


class ReplayMarket:
    """Adapts :class:`MarketHistory` to what the simulated broker needs."""

    def __init__(self, history: MarketHistory, calendar: ExchangeCalendar) -> None:
        self.history = history
        first, last = history.sessions[0], history.sessions[-1]
        horizon = min(last + timedelta(days=400), calendar.last_session)
        self._vix_expiries = vix_expiries_between(first, horizon, calendar.is_session)
        # the contexts of the last sessions asked for: a session's jobs, its mark and
        # its path ask for the same few (immutable) contexts again and again
        self._contexts: dict[tuple[int, Phase | None], MarketContext] = {}

    def index_of(self, session: date) -> int:
        return self.history.index_of(session)

    def context(self, index: int) -> MarketContext:
        key = (index, None)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._remember(key, self.history.context(index))
        return ctx

    def visible_context(self, index: int, phase: Phase) -> MarketContext:
        """What a job in ``phase`` of session ``index`` may see (no look-ahead)."""
        key = (index, phase)
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._remember(key, visible_context(self.history, index, phase))
        return ctx

    def _remember(self, key: tuple[int, Phase | None], ctx: MarketContext) -> MarketContext:
        if len(self._contexts) >= _CONTEXTS_KEPT:
            self._contexts.clear()
        self._contexts[key] = ctx
        return ctx

    def session_range(self, index: int) -> SessionRange | None:
        """The range of session ``index`` (visible from its close)."""
        return session_range(self.history, index)

    def spx_settlement(self, session: date) -> float:
        """SPX close of ``session``: the PM settlement of SPXW options expiring then."""
        return float(self.history.spx_close[self.history.index_of(session)])

    def spx_am_settlement(self, session: date) -> float:
        """Proxy for the SOQ of AM-settled SPX monthlies: the SPX open, else the previous close."""
        i = self.history.index_of(session)
        value = float(self.history.spx_open[i])
        if math.isnan(value) and i > 0:
            value = float(self.history.spx_close[i - 1])
        return value

    def vix_settlement(self, session: date) -> float:
        """Proxy for the VIX SOQ on ``session``: the VIX open, else the previous close."""
        i = self.history.index_of(session)
        value = float(self.history.vix_open[i])
        if math.isnan(value) and i > 0:
            value = float(self.history.vix_close[i - 1])
        return value

    def vix_expiries(self, session: date, min_dte: int, max_dte: int) -> list[date]:
        lo = bisect.bisect_left(self._vix_expiries, session + timedelta(days=min_dte))
        hi = bisect.bisect_right(self._vix_expiries, session + timedelta(days=max_dte))
        return self._vix_expiries[lo:hi]


@dataclass(frozen=True, slots=True)
class ReplayMemo:
    """What the replays of one process (a sweep worker) share: pure functions of market data.

    Attributes:
        signals: the hedge signals by window content and ``[signals]``
            parameters (:mod:`daemon.marketdata.signal_memo`).
        surfaces: the SPX surfaces by their inputs
            (:mod:`strategies.pricing.surface_memo`).

    Both are keyed by every input of the value, never by the run, so a replay
    with a memo journals exactly what it journals without one (tested), and
    both are bounded. Neither depends on the trades.
    """

    signals: SignalMemo = field(default_factory=SignalMemo)
    surfaces: SurfaceMemo = field(default_factory=SurfaceMemo)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a finished replay reports: its run id, sessions replayed and journal summary."""

    run_id: int
    sessions: int
    summary: JournalSummary


async def run_replay(
    config: AlvhConfig,
    start: date,
    end: date,
    journal_path: Path,
    log: Any,
    on_session: Callable[[date], None] | None = None,
    history: MarketHistory | None = None,
    results_only: bool = False,
    memo: ReplayMemo | None = None,
) -> ReplayResult:
    """Replay ``start..end`` (inclusive session dates) and journal everything.

    ``history`` is the bundled market history when ``None`` (a sweep worker
    passes the one it loaded once). ``results_only`` journals only the run,
    its daily rows and positions (:mod:`daemon.journal.results_only`): what a
    sweep needs, without the per-decision rows. ``memo`` holds what a sweep
    worker's replays share (:class:`ReplayMemo`: the same values, computed once).

    Raises:
        ReplayError: the range is empty, reversed or outside the bundled data.
        MarketDataError, JournalError: bad data files or journal file.
    """
    if end < start:
        raise ReplayError(f"--end {end} is before --start {start}")
    calendar = default_calendar()
    if history is None:
        history = load_history(calendar=calendar)
    try:
        indices = history.range_indices(start, end)
    except MarketDataError as exc:
        raise ReplayError(str(exc)) from exc
    if len(indices) == 0:
        raise ReplayError(f"no exchange sessions between {start} and {end}")
    sessions = [history.sessions[i] for i in indices]
    try:
        macro = config.events.load_calendar()
    except CalendarFileError as exc:
        raise ReplayError(str(exc)) from exc
    market = ReplayMarket(history, calendar)
    first = history.sessions[indices[0]]
    last = history.sessions[indices[-1]]
    try:
        rate_of_cash = cash_rate(config.replay.cash_rate, first)
    except MarketDataError as exc:
        raise ReplayError(str(exc)) from exc
    clock = VirtualClock(datetime.combine(first, time(0, 0), NEW_YORK))
    # The variance clock prices with the holidays and events it was fitted with.
    pricing_calendar = model_calendar(calendar, macro, first, last + timedelta(days=400))
    broker = SimulatedBroker(
        market,
        MarketModel.from_config(
            rate=config.replay.rate,
            calendar=pricing_calendar,
            surfaces=memo.surfaces if memo is not None else None,
        ),
        clock.now,
        calendar.is_session,
        config.replay.costs(),
        config.replay.starting_cash,
        session_close=calendar.session_close,
        expiry_targets={config.condor.trading_class: config.condor.target_dte},
        cash_rate=rate_of_cash,
    )
    journal = Journal.open(journal_path, results_only=results_only)
    bind_clock(clock.now)
    try:
        run_id = journal.start_run(
            mode="replay", config_json=config.to_json(), replay_start=first, replay_end=last
        )
        journal.finish_interrupted_runs(run_id)  # the caller holds the journal's lock
        broker.exec_id_prefix = f"sim-r{run_id}-"
        engine = TradingEngine(
            broker,
            journal,
            run_id,
            clock.now,
            config.condor.to_rules(),
            config.hedge.to_rules(),
            log.bind(run_id=run_id),
            entry_guard=(
                make_entry_guard(macro, config.events, clock.now) if config.events.enabled else None
            ),
            is_session=calendar.is_session,
            signal_source=BundleSignalSource(history, clock.now, calendar.session_close),
            signal_params=config.signals.to_params(),
            compute_signals=memo.signals if memo is not None else compute_signals,
            adjust_rules=config.adjust.to_rules(),
            risk_rules=config.risk.to_rules(),
            starting_equity=config.replay.starting_cash,
            order_policy=config.broker.order_policy(),
        )
        replayed = 0
        current: date | None = None
        fires = merge_fire_times(
            virtual_fire_times(
                job_definitions(**config.schedule.times(), calendar=calendar), sessions
            ),
            event_jobs(
                datetime.combine(first, time(0, 0), NEW_YORK),
                datetime.combine(last, time(23, 59), NEW_YORK),
                macro,
                config.events,
                calendar,
            )
            if config.events.enabled
            else (),
        )
        for fire, job in fires:
            clock.advance_to(fire)
            if fire.date() != current:
                current = fire.date()
                replayed += 1
                if on_session is not None:
                    on_session(current)
                # Interest first: it is earned on the balance carried from the previous session.
                credit = broker.accrue_interest() if calendar.is_session(current) else None
                if credit is not None:
                    journal.record_interest(credit, run_id)
            broker.process_settlements()
            if isinstance(job, EventJob):
                await engine.run_job(JobName(job.kind.value), job.describe())
            else:
                await engine.run_job(job.name)
        clock.advance_to(datetime.combine(last, time(23, 59), NEW_YORK))
        broker.process_settlements()
        journal.finish_run(run_id, journal.summary(run_id))
        summary = journal.summary(run_id)
    finally:
        bind_clock(None)
        journal.close()
    return ReplayResult(run_id, replayed, summary)
