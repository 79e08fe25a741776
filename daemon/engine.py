"""The trading engine: one engine for live, paper and replay.

Each scheduled job (:class:`daemon.scheduling.jobs.JobName`) asks the broker for
market data, hands it to a pure rule in :mod:`strategies`, journals the
resulting :class:`~strategies.domain.Decision` (always before any order), and
turns order-placing decisions into combo orders tied to the decision id
(``orderRef``). Fills and settlements are journaled exactly once, as the
broker reports them. Only the broker and the clock differ between modes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from daemon.book import BookEntry, StructureBook
from daemon.brokers.base import Broker, ComboOrder, Fill, OrderResult, OrderStatus, Settlement
from daemon.clock import NEW_YORK
from daemon.journal import Journal
from daemon.scheduling.jobs import JobName
from strategies.condor import plan_condor_entry, plan_condor_exit
from strategies.domain import (
    Action,
    Decision,
    LegQuote,
    OptionContract,
    Right,
    Structure,
)
from strategies.hedge import condor_short_vega_dollars, plan_hedge_exit, plan_hedge_layer
from strategies.positions import OpenStructure
from strategies.risk import structure_greeks
from strategies.rules import CondorRules, HedgeRules


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """How far an order may concede from the decision's limit price.

    ``max_concession_pct`` of the absolute limit, but at least
    ``min_concession`` index points, bounds the worst net price an order may
    fill at (see :attr:`daemon.brokers.base.ComboOrder.worst_price`).
    """

    max_concession_pct: float = 10.0
    min_concession: float = 0.10

    def worst_price(self, limit: float) -> float:
        """Worst acceptable net price (+ debit, - credit) for ``limit``, index points."""
        return limit + max(abs(limit) * self.max_concession_pct / 100.0, self.min_concession)


HEDGE_CHECK_RULE = "hedge_check"
MANAGE_RULE = "manage"


def _nothing_to_do(rule: str, structure: Structure) -> Decision:
    return Decision(rule, Action.HOLD, structure, "no open position to act on", {})


EventGuard = Callable[[date], str | None]
"""Returns a reason to block new condor entries on a session, or None."""


class TradingEngine:
    """Runs the jobs against a broker and a journal.

    Args:
        broker: any :class:`daemon.brokers.base.Broker`.
        journal: open journal; the engine writes decisions, orders, fills,
            settlements, positions, marks and daily P&L into run ``run_id``.
        clock: returns the current timezone-aware time.
        condor_rules, hedge_rules: the rule parameters.
        order_policy: limit-price concession bounds.
        log: a structlog-style bound logger (``log.info(event, **fields)``).
        entry_guard: optional macro-event guard for new entries.
        is_session: exchange-session predicate; when given, a job that fires
            on a date that is not a session does nothing but log that.
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
    ) -> None:
        self.broker = broker
        self.journal = journal
        self.run_id = run_id
        self.clock = clock
        self.condor_rules = condor_rules
        self.hedge_rules = hedge_rules
        self.log = log
        self.order_policy = order_policy or OrderPolicy()
        self.entry_guard = entry_guard
        self.is_session = is_session
        self.book = StructureBook()
        self._trigger: str | None = None
        self._seq = itertools.count(1)
        self._peak_net_liq: float | None = None
        broker.add_fill_listener(self.on_fill)
        broker.add_settlement_listener(self.on_settlement)

    # -- jobs -------------------------------------------------------------
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
        self._trigger = trigger
        try:
            if job is JobName.POST_EVENT_REEVALUATION:
                await self.manage_job()
                await self.hedge_check_job()
            else:
                await {
                    JobName.ENTRY: self.entry_job,
                    JobName.HEDGE_CHECK: self.hedge_check_job,
                    JobName.PRE_EVENT_HEDGE_CHECK: self.hedge_check_job,
                    JobName.MANAGE: self.manage_job,
                    JobName.MARK: self.mark_job,
                }[job]()
        finally:
            self._trigger = None

    def session(self) -> date:
        return self.clock().astimezone(NEW_YORK).date()

    async def entry_job(self) -> None:
        """Open an iron condor when the condor rules say so."""
        rules = self.condor_rules
        ctx = await self.broker.market_context()
        open_condors = len(self.book.open_entries(Structure.CONDOR))
        blocked = self.entry_guard(ctx.session) if self.entry_guard else None
        puts, calls = [], []
        if open_condors < rules.max_open_condors and blocked is None:
            chain = await self.broker.option_chain(
                "SPX", rules.trading_class, rules.min_dte, rules.max_dte
            )
            puts = [s for s in chain if s.right is Right.PUT]
            calls = [s for s in chain if s.right is Right.CALL]
        decision = plan_condor_entry(ctx, puts, calls, open_condors, rules, blocked)
        await self.execute(decision)

    async def hedge_check_job(self) -> None:
        """Add the ALVH layer sized against the open condors' short vega."""
        condors = self.book.open_entries(Structure.CONDOR)
        if not condors:
            if self._trigger:
                await self.execute(_nothing_to_do(HEDGE_CHECK_RULE, Structure.HEDGE_LAYER))
            return
        quotes = await self._quote_entries(condors)
        vega = sum(condor_short_vega_dollars(e.structure, quotes) for e in condors)
        ctx = await self.broker.market_context()
        rules = self.hedge_rules
        open_layers = len(self.book.open_entries(Structure.HEDGE_LAYER))
        calls = []
        if open_layers < rules.max_layers and vega < 0:
            calls = await self.broker.option_chain(
                "VIX", "VIX", rules.min_dte, rules.max_dte, rights=(Right.CALL,)
            )
        decision = plan_hedge_layer(ctx, calls, vega, open_layers, rules, ctx.session)
        await self.execute(decision)

    async def manage_job(self) -> None:
        """Apply exit rules to every open condor and hedge layer."""
        session = self.session()
        entries = self.book.open_entries()
        if not entries:
            if self._trigger:
                await self.execute(_nothing_to_do(MANAGE_RULE, Structure.CONDOR))
            return
        quotes = await self._quote_entries(entries)
        condor_open = False
        for entry in self.book.open_entries(Structure.CONDOR):
            legs = [quotes[leg.contract] for leg in entry.structure.legs]
            decision = plan_condor_exit(entry.structure, legs, session, self.condor_rules)
            await self.execute(decision)
            condor_open = condor_open or entry.structure.id in self.book.entries
        for entry in self.book.open_entries(Structure.HEDGE_LAYER):
            quote = quotes[entry.structure.legs[0].contract]
            decision = plan_hedge_exit(
                entry.structure, quote, session, self.hedge_rules, condor_open
            )
            await self.execute(decision)

    async def mark_job(self) -> None:
        """Mark positions at mid; journal marks and the day's P&L; flush the journal."""
        session = self.session()
        entries = self.book.open_entries()
        quotes = await self._quote_entries(entries) if entries else {}
        for entry in entries:
            structure = entry.structure
            mark = sum(leg.ratio * quotes[leg.contract].mid for leg in structure.legs)
            greeks = structure_greeks(structure, quotes)
            self.journal.record_mark(
                self.run_id,
                session,
                structure.id,
                mark_price=mark,
                unrealized_pnl=entry.pnl(quotes),
                delta=greeks.delta,
                gamma=greeks.gamma,
                vega=greeks.vega,
                theta=greeks.theta,
            )
        account = await self.broker.account()
        peak = max(self._peak_net_liq or account.net_liquidation, account.net_liquidation)
        self._peak_net_liq = peak
        unrealized = {
            kind: sum(e.pnl(quotes) for e in entries if e.structure.structure is kind)
            for kind in Structure
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
            open_structures=len(entries),
        )
        self.journal.flush()

    # -- decisions and orders ----------------------------------------------
    async def execute(self, decision: Decision) -> OrderResult | None:
        """Journal ``decision``; if it trades, send the order and book the outcome."""
        now = self.clock()
        if self._trigger:
            decision = replace(
                decision,
                reason=f"{self._trigger}: {decision.reason}",
                inputs={**decision.inputs, "trigger": self._trigger},
            )
        decision_id = f"r{self.run_id}-{next(self._seq)}"
        self.journal.record_decision(decision_id, self.run_id, self.session(), now, decision)
        self.log.info(
            "decision",
            decision_id=decision_id,
            rule=decision.rule,
            action=decision.action.value,
            structure=decision.structure.value,
            quantity=decision.quantity,
            limit_price=decision.limit_price,
            reason=decision.reason,
        )
        if not decision.places_order or decision.limit_price is None:
            return None
        order = ComboOrder(
            decision_id,
            decision.legs,
            decision.quantity,
            decision.limit_price,
            self.order_policy.worst_price(decision.limit_price),
        )
        if decision.action is Action.OPEN:
            self.book.open(
                OpenStructure(
                    decision_id,
                    decision.structure,
                    decision.legs,
                    decision.quantity,
                    decision.limit_price,
                    self.session(),
                )
            )
            structure_id = decision_id
        else:
            if decision.position_id is None or decision.position_id not in self.book.entries:
                raise ValueError(f"close decision {decision_id} names no open position")
            structure_id = decision.position_id
        self.book.expect_order(decision_id, structure_id)
        self.journal.record_order(decision_id, self.run_id, order, now)
        self.log.info(
            "order",
            order_ref=decision_id,
            quantity=order.quantity,
            limit_price=order.limit_price,
            worst_price=order.worst_price,
        )
        result = await self.broker.place_order(order)
        self.journal.update_order(result, self.clock())
        self.log.info(
            "order_status",
            order_ref=decision_id,
            status=result.status.value,
            filled_quantity=result.filled_quantity,
            avg_price=result.avg_price,
            reason=result.reason,
        )
        self._after_order(decision, structure_id, result)
        return result

    def _after_order(self, decision: Decision, structure_id: str, result: OrderResult) -> None:
        entry = self.book.entries[structure_id]
        if decision.action is Action.OPEN:
            if result.filled_quantity == 0:
                self.book.remove(structure_id)
                return
            opened = OpenStructure(
                structure_id,
                decision.structure,
                decision.legs,
                result.filled_quantity,
                result.avg_price if result.avg_price is not None else decision.limit_price or 0.0,
                self.session(),
            )
            entry.structure = opened
            self.journal.open_position(self.run_id, opened)
            return
        if result.status in (OrderStatus.FILLED, OrderStatus.PARTIAL) and entry.is_flat:
            self._close(entry, result.avg_price, decision.reason)

    def _close(self, entry: BookEntry, close_price: float | None, reason: str) -> None:
        structure = entry.structure
        self.book.remove(structure.id)
        self.journal.close_position(
            structure.id, self.session(), close_price, entry.cash_flow, reason
        )
        self.log.info(
            "position_closed",
            position_id=structure.id,
            structure=structure.structure.value,
            realized_pnl=round(entry.cash_flow, 2),
            reason=reason,
        )

    # -- broker events ------------------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """Journal a fill exactly once and book it against its structure."""
        if not self.journal.record_fill(fill, self.run_id):
            return
        self.book.apply_fill(fill)
        self.log.info(
            "fill",
            exec_id=fill.exec_id,
            order_ref=fill.order_ref,
            contract=fill.contract.local_symbol,
            quantity=fill.quantity,
            price=fill.price,
            commission=fill.commission,
        )

    def on_settlement(self, settlement: Settlement) -> None:
        """Journal a cash settlement and close any structure it leaves flat."""
        self.journal.record_settlement(settlement, self.run_id)
        self.log.info(
            "settlement",
            contract=settlement.contract.local_symbol,
            quantity=settlement.quantity,
            settlement_price=settlement.settlement_price,
            cash=settlement.cash,
        )
        for entry in self.book.apply_settlement(settlement):
            if entry.is_flat:
                units = entry.structure.quantity * settlement.contract.multiplier
                self._close(
                    entry,
                    -entry.settlement_cash / units,
                    f"expired: settled at {settlement.settlement_price:.2f}",
                )

    async def _quote_entries(self, entries: Sequence[BookEntry]) -> dict[OptionContract, LegQuote]:
        contracts = list(dict.fromkeys(leg.contract for e in entries for leg in e.structure.legs))
        quotes = await self.broker.quote(contracts)
        return {q.contract: q for q in quotes}
