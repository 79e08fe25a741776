"""The trading engine: one generic engine for live, paper, dry run and replay.

Every job runs the same pipeline: gather the inputs its planner asks for from
the broker, ask the pure planner (:mod:`strategies.planner`) for plans, pass
each decision through the pre-trade gates, then execute it
(:mod:`daemon.execution`: decision journaled, order intent committed, order
sent, every state transition journaled). The portfolio
(:class:`strategies.portfolio.Portfolio`) changes only through journaled fills
and settlements. A planner that raises is journaled as an ERROR decision
naming the rule and the exception, and the job goes on with the other
structures. Only the broker and the clock differ between modes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from daemon import engine_risk, manage
from daemon.alerts import AlertSink
from daemon.brokers.base import Broker, BrokerError, FatalBrokerError, NotListedError
from daemon.clock import NEW_YORK
from daemon.crashpoints import crash_point
from daemon.engine_risk import KILL_SWITCH_RULE
from daemon.execution import Executor, OrderPolicy, RiskGate
from daemon.journal import Journal
from daemon.manage import MANAGE_RULE
from daemon.marketdata.signal_source import SignalSource
from daemon.scheduling.jobs import JobName
from strategies.domain import Action, Decision, LegQuote, OptionContract, Right, Structure
from strategies.execution import Fill, Settlement
from strategies.gates import DrawdownState, RiskSnapshot
from strategies.plan import Plan, error_decision, nothing_to_do
from strategies.planner import (
    ladder_wants_chain,
    open_or_pending,
    plan_entry,
    plan_hedge,
)
from strategies.portfolio import Portfolio, StructurePosition
from strategies.risk import structure_greeks
from strategies.rules import AdjustRules, CondorRules, HedgeRules, RiskRules, SignalParams
from strategies.signals import HedgeSignals, SignalHistory, compute_signals

__all__ = ["KILL_SWITCH_RULE", "MANAGE_RULE", "EventGuard", "OrderPolicy", "TradingEngine"]

HEDGE_CHECK_RULE = "hedge_check"
LADDER_RULE = "hedge_ladder"

#: How old a halt must be before an entry or hedge job reconciles again to see
#: whether it cleared (the manage job always reconciles).
HALT_RECHECK_AFTER = timedelta(minutes=15)

EventGuard = Callable[[date], str | None]
"""Returns a reason to block new condor entries on a session, or None."""


class TradingEngine:
    """Runs the jobs against a broker, a journal and the portfolio.

    Args:
        broker: any :class:`daemon.brokers.base.Broker`.
        journal: open journal; the engine writes decisions, orders and their
            transitions, fills, settlements, positions, marks and daily P&L
            into run ``run_id``.
        clock: returns the current timezone-aware time.
        condor_rules, hedge_rules: the rule parameters.
        log: a structlog-style bound logger (``log.info(event, **fields)``).
        order_policy: limit-price concession bounds.
        entry_guard: optional macro-event guard for new entries.
        is_session: exchange-session predicate; when given, a job that fires
            on a date that is not a session does nothing but log that.
        session_close: the close of a session (tz-aware), for settling
            options that expired that session; default 16:00 New York.
        portfolio: the book to trade (default: a new, empty one).
        settle_expired: whether jobs settle held options past their expiry
            themselves (live: the IB adapter reports no settlements); replay's
            simulated broker settles on its own.
        signal_source: where the hedge signals' daily window comes from
            (replay: the bundle); ``None`` decides without signals.
        signal_params: the signals' parameters.
        compute_signals: computes the signals of a window
            (:func:`strategies.signals.compute_signals`, the default); a sweep
            worker passes a :class:`~daemon.marketdata.signal_memo.SignalMemo`
            shared by its replays (same values, computed once).
        risk_rules: the pre-trade risk gates (:mod:`strategies.gates`);
            ``None`` runs none.
        starting_equity: the floor's base, dollars (replay: the starting
            cash); ``None`` takes the first net liquidation the engine sees.
        alerts: where fills, entry halts and the daily summary are announced
            (default: nowhere; replay never alerts).
        adjust_rules: the condor adjustments (wing shift, roll); default
            :class:`~strategies.rules.AdjustRules` ().
    """

    def __init__(
        self,
        broker: Broker,
        journal: Journal,
        run_id: int,
        clock: Callable[[], datetime],
        condor_rules: CondorRules,
        hedge_rules: HedgeRules,
        log: Any,
        order_policy: OrderPolicy | None = None,
        entry_guard: EventGuard | None = None,
        is_session: Callable[[date], bool] | None = None,
        session_close: Callable[[date], datetime] | None = None,
        portfolio: Portfolio | None = None,
        settle_expired: bool = False,
        signal_source: SignalSource | None = None,
        signal_params: SignalParams | None = None,
        risk_rules: RiskRules | None = None,
        starting_equity: float | None = None,
        alerts: AlertSink | None = None,
        adjust_rules: AdjustRules | None = None,
        compute_signals: Callable[[SignalHistory, SignalParams], HedgeSignals] = compute_signals,
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.run_id = run_id
        self.clock = clock
        self.condor_rules = condor_rules
        self.hedge_rules = hedge_rules
        self.log = log
        self.entry_guard = entry_guard
        self.is_session = is_session
        self.session_close = session_close
        self.portfolio = portfolio if portfolio is not None else Portfolio()
        self.settle_expired_enabled = settle_expired
        self.signal_source = signal_source
        self.signal_params = signal_params or SignalParams()
        self.compute_signals = compute_signals
        #: When each condor's exits were last checked against the market's path
        #: (:func:`daemon.manage._path_since_last_check`), by structure id.
        self.exit_checked: dict[str, datetime] = {}
        self._signals_cache: (
            tuple[tuple[date, tuple[date, float, float] | None, int], HedgeSignals] | None
        ) = None
        self.adjust_rules = adjust_rules if adjust_rules is not None else AdjustRules()
        self.executor = Executor(
            broker,
            journal,
            run_id,
            clock,
            self.portfolio,
            log,
            order_policy or OrderPolicy(),
            alerts,
        )
        self.alerts = self.executor.alerts
        self._peak_net_liq: float | None = None
        self.risk_rules = risk_rules
        self.starting_equity = starting_equity
        #: The drawdown kill switch (None until the first net liquidation is seen).
        self.drawdown: DrawdownState | None = None
        if risk_rules is not None:
            self.executor.risk = RiskGate(risk_rules, condor_rules, self.risk_snapshot)
        #: False while a restart has not yet folded the journal into the portfolio:
        #: fills are then journaled only (the fold books them).
        self.book_ready = True
        #: Called at the start of every manage job (live: reconciliation), and
        #: after a job settled expired options while new risk is halted.
        self.before_manage: Callable[[], Any] | None = None
        #: Called by the mark job with the session (live: the signal source
        #: journals the day's market row); replay leaves it unset.
        self.after_mark: Callable[[date], Awaitable[Any]] | None = None
        broker.add_fill_listener(self.on_fill)
        broker.add_settlement_listener(self.on_settlement)

    # -- state the shell sets ------------------------------------------------
    @property
    def entry_halt(self) -> str | None:
        """Why new risk is refused right now (reconciliation), or ``None``."""
        return self.executor.entry_halt

    @entry_halt.setter
    def entry_halt(self, reason: str | None) -> None:
        self.executor.entry_halt = reason

    # -- jobs ---------------------------------------------------------------
    async def run_job(self, job: JobName, trigger: str | None = None) -> None:
        """Run one job now.

        ``trigger`` names why an extra (event) job runs, e.g. ``"hedge check
        before FOMC 2024-03-20 14:00 ET (grade A)"``; every decision the job
        makes then carries it at the start of its reason and in its inputs,
        and a job with nothing to act on still journals that.
        """
        session = self.session()
        if self.is_session is not None and not self.is_session(session):
            self.log.info("job_skipped", job=job.value, reason=f"{session} is not a session")
            return
        self.log.debug("job", job=job.value, trigger=trigger)
        self.executor.trigger = trigger
        try:
            if self.settle_expired_enabled:
                settled = await self.settle_expired()
                if settled and self.entry_halt and self.before_manage is not None:
                    # the book changed: a halt reconciliation set while the journal
                    # still held the expired options must not outlive them
                    await self.before_manage()
            if job is JobName.POST_EVENT_REEVALUATION:
                await self.manage_job()
                await self.hedge_check_job()
            elif job is JobName.PRE_EVENT_HEDGE_CHECK:
                await self.hedge_check_job(pre_event=True)
            else:
                await {
                    JobName.ENTRY: self.entry_job,
                    JobName.HEDGE_CHECK: self.hedge_check_job,
                    JobName.MANAGE: self.manage_job,
                    JobName.MARK: self.mark_job,
                }[job]()
        finally:
            self.executor.trigger = None

    def session(self) -> date:
        return self.clock().astimezone(NEW_YORK).date()

    async def entry_job(self) -> None:
        """Open an iron condor when the condor rules say so."""
        rules = self.condor_rules
        await self._recheck_halt()
        try:
            ctx = await self.broker.market_context()
            open_condors = open_or_pending(self.portfolio, Structure.CONDOR)
            net_liq: float | None = None
            blocked = self.entry_guard(ctx.session) if self.entry_guard else None
            if self.entry_halt:  # the skip names what is in doubt
                blocked = f"new risk halted: {self.entry_halt}"
            puts, calls = [], []
            if open_condors < rules.max_open_condors and blocked is None:
                net_liq = (await self.broker.account()).net_liquidation  # sizes the entry
                crash_point("before_quotes")
                chain = await self.broker.option_chain(
                    "SPX", rules.trading_class, rules.min_dte, rules.max_dte
                )
                puts = [s for s in chain if s.right is Right.PUT]
                calls = [s for s in chain if s.right is Right.CALL]
        except BrokerError as exc:
            await self._data_unavailable("condor_entry", Structure.CONDOR, exc)
            return
        plan = self._guarded(
            "condor_entry",
            Structure.CONDOR,
            lambda: plan_entry(ctx, puts, calls, self.portfolio, rules, blocked, net_liq),
        )
        await self.executor.execute(plan)

    async def hedge_check_job(self, pre_event: bool = False) -> None:
        """Open the ladder's next rung when the hedge rules say so.

        ``pre_event`` marks the hedge check before a FOMC/CPI/PPI event (the
        ladder may add a rung then, ``[hedge] pre_event_rung``).
        """
        condors = self.portfolio.open_positions(Structure.CONDOR)
        if not condors:
            if self.executor.trigger:
                await self.executor.execute(
                    Plan.of(nothing_to_do(HEDGE_CHECK_RULE, Structure.HEDGE_LAYER))
                )
            return
        await self._recheck_halt()
        rules = self.hedge_rules
        signals = await self.current_signals()
        try:
            quotes = await self._quote_positions(
                condors + self.portfolio.open_positions(Structure.HEDGE_LAYER)
            )
            ctx = await self.broker.market_context()
            calls = []
            if not self.entry_halt and ladder_wants_chain(
                self.portfolio, rules, signals, pre_event
            ):
                calls = await self.broker.option_chain(
                    "VIX", "VIX", rules.min_dte, rules.max_dte, rights=(Right.CALL,)
                )
        except BrokerError as exc:
            await self._data_unavailable(LADDER_RULE, Structure.HEDGE_LAYER, exc)
            return
        plan = self._guarded(
            LADDER_RULE,
            Structure.HEDGE_LAYER,
            lambda: plan_hedge(ctx, calls, self.portfolio, quotes, rules, signals, pre_event),
        )
        await self.executor.execute(plan)

    async def manage_job(self) -> None:
        """Reconcile (live), then apply the exit and adjustment rules to every held structure.

        See :func:`daemon.manage.manage_job`.
        """
        await manage.manage_job(self)

    async def mark_job(self) -> None:
        """Mark positions at mid; journal marks and the day's P&L; flush the journal.

        First, with a broker that reports the market's path (replay), the
        stops and targets the session's range reached are filled
        (:func:`daemon.manage.path_exits`), so the marks see the book after them.
        """
        crash_point("mark")
        await manage.path_exits(self)
        session = self.session()
        held = self.portfolio.open_positions()
        quotes = await self._quote_positions(held) if held else {}
        for position in held:
            view = position.view() if position.is_balanced and position.held_units else None
            greeks = structure_greeks(view, quotes) if view is not None else None
            mark = (
                sum(leg.ratio * quotes[leg.contract].mid for leg in position.legs)
                if all(leg.contract in quotes for leg in position.legs)
                else float("nan")
            )
            self.journal.record_mark(
                self.run_id,
                session,
                position.id,
                mark_price=mark,
                unrealized_pnl=position.pnl(quotes),
                delta=greeks.delta if greeks else math.nan,
                gamma=greeks.gamma if greeks else math.nan,
                vega=greeks.vega if greeks else math.nan,
                theta=greeks.theta if greeks else math.nan,
            )
        account = await self.broker.account()
        self.observe_net_liq(session, account.net_liquidation)
        peak = max(self._peak_net_liq or account.net_liquidation, account.net_liquidation)
        self._peak_net_liq = peak
        unrealized = {
            kind: sum(p.pnl(quotes) for p in held if p.kind is kind) for kind in Structure
        }
        self.journal.record_daily(
            self.run_id,
            session,
            cash=account.cash,
            net_liquidation=account.net_liquidation,
            open_condor_pnl=unrealized[Structure.CONDOR],
            open_hedge_pnl=unrealized[Structure.HEDGE_LAYER],
            drawdown=peak - account.net_liquidation,
        )
        self.log.info(
            "mark",
            session=session.isoformat(),
            net_liquidation=round(account.net_liquidation, 2),
            open_structures=len(held),
        )
        if self.after_mark is not None:
            try:
                await self.after_mark(session)
            except BrokerError as exc:  # the day's market row is retried by the back-fill
                self.log.warning(
                    "market_day_not_recorded", session=session.isoformat(), reason=str(exc)
                )
        self.journal.flush()
        counts = {kind: sum(p.kind is kind for p in held) for kind in Structure}
        self.alerts.notify(
            "daily_summary",
            f"{session.isoformat()} close: net liquidation ${account.net_liquidation:,.2f}",
            f"cash ${account.cash:,.2f}; "
            f"drawdown from peak ${peak - account.net_liquidation:,.2f}; "
            f"open: {counts[Structure.CONDOR]} condor(s) "
            f"(unrealized ${unrealized[Structure.CONDOR]:,.2f}), "
            f"{counts[Structure.HEDGE_LAYER]} hedge layer(s) "
            f"(unrealized ${unrealized[Structure.HEDGE_LAYER]:,.2f})"
            + (f"; new risk halted: {self.entry_halt}" if self.entry_halt else ""),
        )

    # -- settlement -----------------------------------------------------------
    async def settle_expired(self) -> int:
        """Settle held options whose expiry session has closed; returns how many settled.

        SPXW settle at the SPX close of the expiry session, VIX options at the
        broker's SOQ value or its documented proxy
        (:meth:`daemon.brokers.base.Broker.settlement_price`). Each
        structure's own holding becomes one journaled :class:`Settlement`;
        a price the broker does not know yet, or cannot give (a broker
        error), leaves the holding for the next job (logged).
        """
        now = self.clock()
        session = now.astimezone(NEW_YORK).date()
        settled = 0
        for position, contract in self.portfolio.expired_holdings(session):
            if contract.expiry == session and now < self._close_of(session):
                continue
            crash_point("before_settlement")
            try:
                price = await self.broker.settlement_price(contract)
            except BrokerError as exc:  # retried next job; the job goes on
                price, why = None, f"broker error: {exc}"
            else:
                why = "settlement value not available yet"
            if price is None:
                self.log.warning(
                    "settlement_pending",
                    position_id=position.id,
                    contract=contract.local_symbol,
                    reason=why,
                )
                continue
            held = position.held.get(contract, 0)
            cash = held * contract.intrinsic(price) * contract.multiplier
            self.on_settlement(Settlement(contract, held, price, cash, now, position.id))
            settled += 1
        return settled

    def _close_of(self, session: date) -> datetime:
        if self.session_close is not None:
            return self.session_close(session)
        return datetime(session.year, session.month, session.day, 16, 0, tzinfo=NEW_YORK)

    # -- broker events ----------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """Journal a fill exactly once, then book it to its structure."""
        crash_point("before_fill_journaled")
        if not self.journal.record_fill(fill, self.run_id):
            return
        crash_point("after_fill_journaled")
        if (
            fill.order_ref not in self.executor.in_flight
            and fill.order_ref not in self.executor.announced
        ):  # a fill outside its order's own run (at connect, late): announce it alone
            self.alerts.notify(
                "fill",
                f"fill {fill.quantity:+d} {fill.contract.local_symbol} @ {fill.price:.2f}",
                f"order {fill.order_ref}, execution {fill.exec_id}, reported outside the "
                "order's own run (at connect or late)",
            )
        self.log.info(
            "fill",
            exec_id=fill.exec_id,
            order_ref=fill.order_ref,
            contract=fill.contract.local_symbol,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
        )
        if not self.book_ready:
            return
        routed = self.portfolio.structure_of(fill.order_ref)
        was_closed = routed is not None and self.portfolio.structures[routed].is_closed
        legs_before = self.portfolio.structures[routed].legs if routed is not None else None
        position = self.portfolio.apply_fill(fill)
        if position is None:
            self.log.warning(
                "fill_unrouted",
                exec_id=fill.exec_id,
                order_ref=fill.order_ref,
                reason="no structure in this book owns the order",
            )
            return
        if was_closed and not position.is_flat:
            self.journal.reopen_position(position.id)
            self.log.warning(
                "position_reopened",
                position_id=position.id,
                exec_id=fill.exec_id,
                reason=f"a fill of order {fill.order_ref} arrived after the structure closed",
            )
        if position.legs != legs_before and not position.is_closed:
            # the fill completed an adjustment: the row shows the current legs
            # (killed here, the restart's fold rebuilds them and rewrites the row)
            crash_point("after_adjusted")
            self.journal.update_position(
                position.id,
                legs=position.legs,
                quantity=position.held_units,
                open_price=position.open_price,
            )
            self.log.info(
                "position_adjusted",
                position_id=position.id,
                order_ref=fill.order_ref,
                legs=[f"{leg.ratio:+d} {leg.contract.local_symbol}" for leg in position.legs],
                open_price=round(position.open_price, 4),
            )
        if (
            fill.order_ref == position.id
            and not position.is_flat
            and position.open_units
            and fill.order_ref not in self.executor.live_orders
        ):  # a late fill of a settled opening order: the row holds what filled
            self.journal.update_position(
                position.id, quantity=position.open_units, open_price=position.open_price
            )
        self.executor.close_if_done(position, f"closed by order {fill.order_ref}")

    def on_settlement(self, settlement: Settlement) -> None:
        """Journal a cash settlement once and close every structure it leaves flat."""
        if not self.journal.record_settlement(settlement, self.run_id):
            return
        self.log.info(
            "settlement",
            contract=settlement.contract.local_symbol,
            quantity=settlement.quantity,
            settlement_price=settlement.settlement_price,
            cash=settlement.cash,
            structure_id=settlement.structure_id,
        )
        for position in self.portfolio.apply_settlement(settlement):
            self.executor.close_if_done(
                position, f"expired: settled at {settlement.settlement_price:.2f}"
            )

    # -- risk ---------------------------------------------------------------
    def observe_net_liq(self, session: date, net_liq: float) -> None:
        """Fold net liquidation into the kill switch (:func:`.engine_risk.observe_net_liq`)."""
        engine_risk.observe_net_liq(self, session, net_liq)

    def restore_risk(self, daily: Sequence[tuple[date, float]]) -> None:
        """Rebuild the kill switch from the journal (:func:`daemon.engine_risk.restore_risk`)."""
        engine_risk.restore_risk(self, daily)

    async def risk_snapshot(self, decision: Decision) -> RiskSnapshot:
        """What the risk gates look at (:func:`daemon.engine_risk.risk_snapshot`)."""
        return await engine_risk.risk_snapshot(self, decision)

    # -- helpers ------------------------------------------------------------
    async def current_signals(self) -> HedgeSignals | None:
        """The hedge signals of the current session, or ``None`` without a source.

        A source that fails (a broker error, a window it cannot build) is
        logged and the hedge decides without signals; its decisions say so.
        """
        if self.signal_source is None:
            return None
        session = self.session()
        try:
            window = await self.signal_source.window(session)
        except (BrokerError, ValueError, KeyError) as exc:
            self.log.warning("signals_unavailable", session=session.isoformat(), reason=str(exc))
            return None
        # the hedge check and the manage job read the same window most sessions:
        # compute once per (session, last row, length, last values): a replay
        # window's last row changes from the open to the close within a session
        last = (
            (window.dates[-1], float(window.vix[-1]), float(window.spx[-1]))
            if window.dates
            else None
        )
        key = (session, last, len(window))
        if self._signals_cache is None or self._signals_cache[0] != key:
            self._signals_cache = (key, self._signals_of(window))
        return self._signals_cache[1]

    def _signals_of(self, window: SignalHistory) -> HedgeSignals:
        """The signals of ``window``: with the RSI and MACD values the source computed
        ahead for it when it has them (replay's bundle: the same doubles), else
        :attr:`compute_signals` computes them.

        An injected :attr:`compute_signals` (a sweep's memo, which serves a
        window it has seen faster still) is always used as it is.
        """
        ahead = getattr(self.signal_source, "indicator_tail", None)
        if ahead is None or self.compute_signals is not compute_signals:
            return self.compute_signals(window, self.signal_params)
        tail = ahead(window, self.signal_params)
        if tail is None:
            return self.compute_signals(window, self.signal_params)
        return compute_signals(window, self.signal_params, tail)

    async def _recheck_halt(self) -> None:
        """Reconcile again before adding risk while an old halt stands.

        A halt found by the previous day's manage job may have cleared since
        (an order settled, a position came back); one younger than
        :data:`HALT_RECHECK_AFTER` is left alone, so an order that timed out a
        moment ago is not judged before the gateway can have registered it.
        """
        since = self.executor.halt_since
        if (
            self.entry_halt
            and self.before_manage is not None
            and since is not None
            and self.clock() - since >= HALT_RECHECK_AFTER
        ):
            await self.before_manage()

    async def _data_unavailable(self, rule: str, structure: Structure, exc: Exception) -> None:
        """Journal that a job could not get its market data (a SKIP naming why).

        A product not yet listed on the session (replay before its listing
        date) is history, not a failure: the SKIP's reason is the one line
        naming the product and its first date, and nothing is logged as an error.

        Raises:
            FatalBrokerError: ``exc`` itself, when no retry can cure it (the
                daemon stops with its exit status).
        """
        if isinstance(exc, FatalBrokerError):
            raise exc
        if isinstance(exc, NotListedError):
            await self.executor.execute(
                Plan.of(Decision(rule, Action.SKIP, structure, str(exc), {"not_listed": str(exc)}))
            )
            return
        self.log.error("market_data_unavailable", rule=rule, reason=str(exc))
        await self.executor.execute(
            Plan.of(
                Decision(
                    rule,
                    Action.SKIP,
                    structure,
                    f"market data unavailable: {exc}",
                    {"error": type(exc).__name__, "message": str(exc)[:500]},
                )
            )
        )

    def _guarded(self, rule: str, structure: Structure, make: Callable[[], Plan]) -> Plan:
        """Run a planner; if it raises, the plan is one ERROR decision naming it."""
        try:
            return make()
        except Exception as exc:  # a rule's bug must not stop the job or the daemon
            self.log.error("rule_failed", rule=rule, error=f"{type(exc).__name__}: {exc}")
            return Plan.of(error_decision(rule, structure, exc))

    async def _quote_positions(
        self, positions: Sequence[StructurePosition]
    ) -> dict[OptionContract, LegQuote]:
        contracts = list(
            dict.fromkeys(c for p in positions for c, q in p.held.items() if q)
            | dict.fromkeys(leg.contract for p in positions for leg in p.legs)
        )
        contracts = [c for c in contracts if c.expiry >= self.session()]
        if not contracts:
            return {}
        quotes = await self.broker.quote(contracts)
        return {q.contract: q for q in quotes}
