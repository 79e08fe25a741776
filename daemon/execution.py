"""Executing plans: gates, the order lifecycle journaled before anything is sent.

For every decision of a plan, in order:

1. the pre-trade gates run: new risk is refused while reconciliation has
   halted entries, and a structure with an order still working or of unknown
   fate is not traded again; then, for an order that adds risk (OPEN, ROLL,
   ADJUST; never a CLOSE), the risk gates of :mod:`strategies.gates` on a
   :class:`~strategies.gates.RiskSnapshot` the engine gathers (account,
   book, quotes, market), the margin gate last on the broker's what-if for
   the order as the other gates sized it. Every gate's result goes into the
   decision's inputs (``gate_*``); a gate that blocks turns the decision into
   a journaled SKIP naming the gate and its numbers;
2. the decision is journaled;
3. a trading decision names its structure (a new one for OPEN and ROLL,
   registered in the portfolio and journaled as a position before any fill),
   its order intent is committed (state ``intent``), then ``submitted``, and
   only then is the order handed to the broker;
4. the broker's outcome is journaled as a transition: ``filled``,
   ``cancelled`` (possibly with a partial fill), ``rejected``, ``working`` or
   ``unknown``. A broker error or a stop while the order works leaves it
   ``unknown``: never assumed cancelled or filled. Reconciliation
   (:mod:`daemon.reconcile`) settles it later through the same path.

A step that does not fill completely stops its plan: the remaining steps are
journaled as skips, so a half-done move never goes on blindly. Fills reach the
portfolio only through the engine's fill listener, after the journal has them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from daemon.alerts import Alerts, AlertSink
from daemon.brokers.base import (
    Broker,
    BrokerError,
    ComboOrder,
    FatalBrokerError,
    OrderResult,
    OrderStatus,
)
from daemon.clock import NEW_YORK
from daemon.crashpoints import crash_point
from daemon.journal import Journal
from daemon.order_policy import OrderPolicy
from strategies.domain import Action, Decision
from strategies.execution import OrderIntent, OrderState
from strategies.gates import RiskSnapshot, adds_risk, evaluate_gates, margin_gate
from strategies.margin import MarginImpact
from strategies.plan import Plan
from strategies.portfolio import Portfolio, StructurePosition
from strategies.positions import OpenStructure
from strategies.rules import CondorRules, RiskRules

__all__ = ["Executor", "OrderPolicy", "RiskGate"]


@dataclass(frozen=True, slots=True)
class RiskGate:
    """The risk gates' parameters and where their snapshot comes from.

    ``snapshot`` (the engine's) gathers a :class:`RiskSnapshot` for a decision;
    a :class:`BrokerError` there blocks the decision (no new risk blind).
    """

    rules: RiskRules
    condor_rules: CondorRules
    snapshot: Callable[[Decision], Awaitable[RiskSnapshot]]


#: order_ref of what-if orders (nothing is placed; the decision has no id yet).
WHAT_IF_REF = "what-if"


class Executor:
    """Gates, journals and sends the decisions of plans; owns the live-order set.

    Args:
        broker, journal, run_id, clock, portfolio, log: as the engine's.
        policy: limit-price concession bounds.
        alerts: where fills and entry halts are announced (default: nowhere).
    """

    def __init__(
        self,
        broker: Broker,
        journal: Journal,
        run_id: int,
        clock: Callable[[], datetime],
        portfolio: Portfolio,
        log: Any,
        policy: OrderPolicy,
        alerts: AlertSink | None = None,
    ) -> None:
        self.broker = broker
        self.alerts: AlertSink = alerts if alerts is not None else Alerts.off()
        #: Orders whose fill was announced with the broker's result (their late
        #: fills are not announced again).
        self.announced: set[str] = set()
        self.journal = journal
        self.run_id = run_id
        self.clock = clock
        self.portfolio = portfolio
        self.log = log
        self.policy = policy
        #: Why an (event) job runs; prefixed to every decision's reason.
        self.trigger: str | None = None
        #: Why new risk is refused right now (set by reconciliation), or None.
        self._entry_halt: str | None = None
        #: When the current halt began (the clock's time), ``None`` without a halt.
        self.halt_since: datetime | None = None
        self._seq = itertools.count(1)
        # order_ref -> structure id, for orders whose fate is not final
        self._live: dict[str, str] = {}
        # order refs being worked by this process right now
        self.in_flight: set[str] = set()
        #: The risk gates; ``None`` runs none (tools and tests that do not test them).
        self.risk: RiskGate | None = None

    @property
    def entry_halt(self) -> str | None:
        """Why new risk is refused right now (reconciliation, an unknown order), or None."""
        return self._entry_halt

    @entry_halt.setter
    def entry_halt(self, reason: str | None) -> None:
        """Set or clear the halt; every change is announced (``entry_halt`` alert).

        The one place a halt is set (reconciliation, an order of unknown
        fate, and any gate that halts entries), so the alert cannot be missed.
        """
        previous = self._entry_halt
        if reason is None:
            self.halt_since = None
        elif previous is None:
            self.halt_since = self.clock()
        self._entry_halt = reason
        if reason is not None and reason != previous:
            self.alerts.notify("entry_halt", "new risk halted", reason)
        elif reason is None and previous is not None:
            self.alerts.notify("entry_halt", "new risk allowed again", f"cleared: {previous}")

    # -- live orders ---------------------------------------------------------
    def track(self, order_ref: str, structure_id: str) -> None:
        """Remember an order whose fate is not final (restored from the journal)."""
        self._live[order_ref] = structure_id

    def untrack(self, order_ref: str) -> None:
        self._live.pop(order_ref, None)

    def has_live_order(self, structure_id: str) -> bool:
        """Whether an order on ``structure_id`` may still fill."""
        return structure_id in self._live.values()

    @property
    def live_orders(self) -> dict[str, str]:
        """order_ref -> structure id of every order whose fate is not final."""
        return dict(self._live)

    # -- plans ---------------------------------------------------------------
    async def execute(self, plan: Plan) -> list[OrderResult | None]:
        """Run ``plan``'s decisions in order; returns one entry per order sent."""
        results: list[OrderResult | None] = []
        stopped: str | None = None
        for decision in plan.decisions:
            decision = self._with_trigger(decision)
            if stopped is not None:
                decision = _as_skip(decision, f"plan stopped: {stopped}")
            else:
                gate = self._gate(decision)
                if gate is None:
                    decision, gate = await self._risk_gates(decision)
                if gate is not None:
                    self.log.error("gate_blocked", rule=decision.rule, reason=gate)
                    decision = _as_skip(decision, gate)
                    if len(plan.decisions) > 1:
                        stopped = gate
            decision_id = self._journal_decision(decision)
            crash_point("after_decision")
            if not decision.places_order:
                continue
            result = await self._send(decision_id, decision)
            results.append(result)
            if result is None or result.status is not OrderStatus.FILLED:
                stopped = (
                    f"order {decision_id} ended {result.status.value if result else 'unknown'}"
                )
        return results

    def _with_trigger(self, decision: Decision) -> Decision:
        if not self.trigger:
            return decision
        return replace(
            decision,
            reason=f"{self.trigger}: {decision.reason}",
            inputs={**decision.inputs, "trigger": self.trigger},
        )

    def _gate(self, decision: Decision) -> str | None:
        """The reason a pre-trade gate refuses ``decision``, or None."""
        if not decision.places_order:
            return None
        if decision.action is not Action.CLOSE and self.entry_halt:
            return f"new risk halted: {self.entry_halt}"
        if decision.position_id is not None and decision.action is not Action.ROLL:
            if decision.position_id not in self.portfolio.structures:
                return f"structure {decision.position_id} is not in the book"
            if self.has_live_order(decision.position_id):
                return f"an order on {decision.position_id} is still working or unknown"
        return None

    async def _risk_gates(self, decision: Decision) -> tuple[Decision, str | None]:
        """Run the risk gates on an order that adds risk.

        Returns the decision with every gate's inputs (and the quantity the
        gates allow) and the reason of the first gate that blocks, or ``None``.

        Raises:
            FatalBrokerError: the broker refused for good while gathering.
        """
        risk = self.risk
        if risk is None or not adds_risk(decision):
            return decision, None
        try:
            snapshot = await risk.snapshot(decision)
        except FatalBrokerError:
            raise
        except BrokerError as exc:
            return decision, f"risk gates: no risk snapshot ({exc})"
        try:
            outcome = evaluate_gates(decision, snapshot, risk.rules, risk.condor_rules)
        except Exception as exc:  # a gate's bug must not send unchecked risk, nor stop the job
            self.log.error(
                "risk_gates_failed", rule=decision.rule, error=f"{type(exc).__name__}: {exc}"
            )
            return decision, f"risk gates failed: {type(exc).__name__}: {exc}"
        inputs = {**decision.inputs, **outcome.inputs}
        reason = outcome.reason
        quantity = outcome.quantity
        if reason is None:
            impact, failure = (
                await self._what_if(decision, quantity)
                if risk.rules.margin_enabled
                else (None, None)
            )
            margin = margin_gate(impact, risk.rules)
            inputs.update(margin.inputs)
            if failure is not None:
                inputs["gate_margin"] = "block"
                reason = f"risk gate margin: {failure}"
            elif margin.blocked:
                reason = f"risk gate margin: {margin.reason}"
        text = decision.reason
        if quantity != decision.quantity and reason is None:
            text = f"{text} Sized down from {decision.quantity} to {quantity} by the hedge cap."
        return replace(decision, inputs=inputs, quantity=quantity, reason=text), reason

    async def _what_if(
        self, decision: Decision, quantity: int
    ) -> tuple[MarginImpact | None, str | None]:
        """The broker's margin estimate for the order (or why it could not be had)."""
        what_if = getattr(self.broker, "what_if", None)
        if what_if is None or decision.limit_price is None:
            return None, None
        order = ComboOrder(
            WHAT_IF_REF,
            decision.legs,
            quantity,
            decision.limit_price,
            self.policy.worst_for(decision),
        )
        try:
            return await what_if(order), None
        except FatalBrokerError:
            raise
        except BrokerError as exc:
            return None, f"no margin estimate from the broker ({exc})"

    def journal_note(self, decision: Decision) -> str:
        """Journal a decision that trades nothing (e.g. the kill switch tripping); its id."""
        return self._journal_decision(self._with_trigger(decision))

    def _journal_decision(self, decision: Decision) -> str:
        decision_id = f"r{self.run_id}-{next(self._seq)}"
        self.journal.record_decision(
            decision_id, self.run_id, self.session(), self.clock(), decision
        )
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
        return decision_id

    def session(self) -> date:
        return self.clock().astimezone(NEW_YORK).date()

    # -- orders --------------------------------------------------------------
    async def _send(self, decision_id: str, decision: Decision) -> OrderResult | None:
        assert decision.limit_price is not None
        session = self.session()
        if decision.action.opens_structure:
            structure_id = decision_id
            parent = decision.position_id if decision.action is Action.ROLL else None
            self.portfolio.register(
                structure_id,
                decision.structure,
                decision.legs,
                session,
                parent_id=parent,
                tag=decision.tag,
            )
            self.journal.open_position(
                self.run_id,
                OpenStructure(
                    structure_id,
                    decision.structure,
                    decision.legs,
                    decision.quantity,
                    decision.limit_price,
                    session,
                ),
                parent_id=parent,
                tag=decision.tag,
            )
        else:
            assert decision.position_id is not None  # the gate checked it
            structure_id = decision.position_id
            if decision.action is Action.ADJUST:
                # the legs change when (and only when) this order's fills complete it
                self.portfolio.expect_adjustment(
                    decision_id, structure_id, decision.legs, decision.quantity
                )
            else:
                self.portfolio.route(decision_id, structure_id)
        order = ComboOrder(
            decision_id,
            decision.legs,
            decision.quantity,
            decision.limit_price,
            self.policy.worst_for(decision),
            resting=decision.resting,
        )
        intent = OrderIntent(
            decision_id,
            decision_id,
            structure_id,
            order.legs,
            order.quantity,
            order.limit_price,
            order.worst_price,
        )
        self.journal.record_order_intent(intent, self.run_id, self.clock())
        self._live[decision_id] = structure_id
        crash_point("after_intent")
        self.transition(decision_id, OrderState.SUBMITTED)
        crash_point("after_submitted")
        self.log.info(
            "order",
            order_ref=decision_id,
            structure_id=structure_id,
            quantity=order.quantity,
            limit_price=order.limit_price,
            worst_price=order.worst_price,
        )
        self.in_flight.add(decision_id)
        try:
            result = await self.broker.place_order(order)
        except BrokerError as exc:
            self.log.error("order_state_unknown", order_ref=decision_id, reason=str(exc))
            self.transition(decision_id, OrderState.UNKNOWN, reason=f"broker error: {exc}")
            if isinstance(exc, FatalBrokerError):
                raise  # no retry cures it: the daemon stops; the next start reconciles
            return None
        except asyncio.CancelledError:
            self.transition(
                decision_id,
                OrderState.UNKNOWN,
                reason="stopped while the order was working; the next start reconciles it",
            )
            raise
        finally:
            self.in_flight.discard(decision_id)
        crash_point("after_order_result")
        self.record_result(result, structure_id)
        crash_point("after_order_state")
        return result

    def transition(
        self,
        order_ref: str,
        state: OrderState,
        *,
        filled: int | None = None,
        avg_price: float | None = None,
        reason: str = "",
    ) -> None:
        """Journal one transition of ``order_ref``; a final state stops tracking it."""
        self.journal.transition_order(
            order_ref,
            self.run_id,
            state,
            self.clock(),
            filled_quantity=filled,
            avg_price=avg_price,
            reason=reason,
        )
        self.log.info("order_state", order_ref=order_ref, state=state.value, reason=reason)
        if state.is_terminal:
            self._live.pop(order_ref, None)
        elif state is OrderState.UNKNOWN:
            # It may still fill: no new risk until reconciliation settles it.
            doubt = f"order fate unknown: {order_ref}"
            if doubt not in (self.entry_halt or ""):
                self.entry_halt = f"{self.entry_halt} | {doubt}" if self.entry_halt else doubt
                self.log.error("entry_halted", reason=self.entry_halt)

    def record_result(self, result: OrderResult, structure_id: str) -> None:
        """Journal the state a broker reported for an order and close what it left flat;
        announce a fill (``fill`` alert)."""
        state = result.status.lifecycle_state(result.filled_quantity)
        if result.filled_quantity > 0:
            self._announce_fill(result, structure_id)
        self.log.info(
            "order_status",
            order_ref=result.order_ref,
            status=result.status.value,
            filled_quantity=result.filled_quantity,
            avg_price=result.avg_price,
            reason=result.reason,
        )
        close_reason = (
            f"not filled: {result.reason or state.value}"
            if result.order_ref == structure_id
            else f"closed by order {result.order_ref}"
        )
        self.finish(
            result.order_ref,
            structure_id,
            state,
            filled=result.filled_quantity,
            avg_price=result.avg_price,
            reason=result.reason,
            close_reason=close_reason,
            close_price=result.avg_price,
        )

    def _announce_fill(self, result: OrderResult, structure_id: str) -> None:
        self.announced.add(result.order_ref)
        position = self.portfolio.structures.get(structure_id)
        kind = position.kind.value if position is not None else "structure"
        price = "" if result.avg_price is None else f" at {result.avg_price:+.2f}"
        legs = "; ".join(
            f"{f.quantity:+d} {f.contract.local_symbol} @ {f.price:.2f}" for f in result.fills
        )
        self.alerts.notify(
            "fill",
            f"{kind} order {result.order_ref} filled {result.filled_quantity}{price}",
            f"{result.status.value}: {result.filled_quantity} unit(s){price} (index points, "
            f"+ debit / - credit), structure {structure_id}"
            + (f"; legs {legs}" if legs else "")
            + (f"; {result.reason}" if result.reason else ""),
        )

    def finish(
        self,
        order_ref: str,
        structure_id: str,
        state: OrderState,
        *,
        filled: int,
        avg_price: float | None,
        reason: str,
        close_reason: str,
        close_price: float | None = None,
    ) -> None:
        """Journal an order's (terminal) state; then record the opening fill on the
        structure's row and close the structure if the order left it flat.

        The one path for the broker's own result and for reconciliation's verdict.
        """
        self.transition(order_ref, state, filled=filled, avg_price=avg_price, reason=reason)
        position = self.portfolio.structures.get(structure_id)
        if position is None:
            return
        if order_ref == structure_id and state.is_terminal and position.open_units:
            self.journal.update_position(
                structure_id, quantity=position.open_units, open_price=position.open_price
            )
        self.close_if_done(position, close_reason, close_price)

    def close_if_done(
        self, position: StructurePosition, reason: str, close_price: float | None = None
    ) -> None:
        """Close ``position`` in book and journal once it is flat and no order on it can fill."""
        if position.is_closed or not position.is_flat or self.has_live_order(position.id):
            return
        self.portfolio.mark_closed(position.id, self.session(), reason)
        self.journal.close_position(
            position.id, self.session(), close_price, position.cash_flow, reason
        )
        self.log.info(
            "position_closed",
            position_id=position.id,
            structure=position.kind.value,
            realized_pnl=round(position.cash_flow, 2),
            reason=reason,
        )


def _as_skip(decision: Decision, reason: str) -> Decision:
    """``decision`` refused: a SKIP carrying what it would have done in its inputs."""
    return replace(
        decision,
        action=Action.SKIP,
        reason=f"{reason} (was: {decision.action.value} — {decision.reason})",
        inputs={**decision.inputs, "blocked_action": decision.action.value, "gate": reason},
        quantity=0,
        limit_price=None,
    )
