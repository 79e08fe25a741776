"""Restart and reconciliation that act.

:func:`restore` rebuilds the portfolio after a restart by folding the journal:
the structures of earlier runs *of the same mode and account*, the routes of
their orders, then every journaled fill and settlement. Nothing else is
trusted: a structure's holding is what its fills and settlements say.

:class:`Reconciler` runs at start-up and before every manage job:

1. asks the broker for its executions again, so fills made while the daemon
   was down (or during an outage) are journaled exactly once and booked;
2. reads the gateway's open orders (all clients) and settles every journaled
   order whose fate is not final: one still working is adopted (walked to
   its end by the broker) or cancelled, per ``[broker] open_order_policy``;
   one not working any more is filled or cancelled according to the
   executions journaled for it; one whose state cannot be learned stays
   ``unknown``;
3. compares the gateway's positions with the portfolio's.

Every difference is journaled as a ``reconcile`` decision. While an order is
unknown or positions differ, new risk is halted: the engine journals a skip
naming the difference and logs an error.

A dry run (``alvh run --dry-run``, mode ``dry-run``) holds nothing at the
gateway, so its broker (:class:`daemon.dryrun.DryRunBroker`) answers these
questions from its own book: no executions to resync, no open orders (a
simulated order ends inside ``place_order``), and the positions of the book's
journaled fills and settlements. The gateway's real positions and orders are
never compared with a dry-run book; the check is the in-memory book against
its journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from daemon.brokers.base import BrokerError, ComboOrder, OrderStatus
from daemon.crashpoints import crash_point
from daemon.engine import TradingEngine
from daemon.journal import Journal, OrderRecord
from strategies.domain import Action, Decision, OptionContract, Structure
from strategies.execution import OrderState
from strategies.plan import Plan
from strategies.portfolio import Portfolio

RECONCILE_RULE = "reconcile"

OpenOrderPolicy = Literal["adopt", "cancel"]


def book_runs(journal: Journal, mode: str, account: str | None) -> list[int]:
    """Runs whose positions belong to a book of ``mode`` on ``account`` (oldest first)."""
    return [r.id for r in journal.runs() if r.mode == mode and r.account == account]


def restore(journal: Journal, run_ids: Sequence[int], portfolio: Portfolio) -> dict[str, str]:
    """Fold the journal of ``run_ids`` into ``portfolio``.

    Returns:
        order_ref -> structure id of every order whose fate is not final
        (intent, submitted, working, partially filled or unknown).
    """
    closed: list[tuple[str, Any, str]] = []
    for run_id in run_ids:
        for record in journal.positions(run_id):
            if record.id in portfolio.structures:
                continue
            portfolio.register(
                record.id,
                record.structure,
                record.legs,
                record.opened_session,
                parent_id=record.parent_id,
                tag=record.tag,
            )
            if record.closed_session is not None:
                closed.append((record.id, record.closed_session, record.close_reason or ""))
    live: dict[str, str] = {}
    for order in journal.orders(run_ids):
        structure_id = _structure_of(journal, order)
        if structure_id is None or structure_id not in portfolio.structures:
            continue
        portfolio.route(order.order_ref, structure_id)
        if order.state not in (OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED):
            live[order.order_ref] = structure_id
    for run_id in run_ids:
        for fill in journal.fills(run_id):
            portfolio.apply_fill(fill)
    for run_id in run_ids:
        for settlement in journal.settlements(run_id):
            portfolio.apply_settlement(settlement)
    for structure_id, session, reason in closed:
        position = portfolio.structures[structure_id]
        if position.is_flat:
            portfolio.mark_closed(structure_id, session, reason)
        else:  # a fill journaled after it closed (killed before the row was reopened)
            journal.reopen_position(structure_id)
    return live


def _structure_of(journal: Journal, order: OrderRecord) -> str | None:
    if order.structure_id:
        return order.structure_id
    # schema-1 journals: an order's ref is its decision; a close names its position
    try:
        decision = journal.get_decision(order.order_ref).decision
    except Exception:
        return None
    return decision.position_id or order.order_ref


@dataclass(slots=True)
class ReconcileReport:
    """What one reconciliation found; empty lists mean gateway and journal agree."""

    settled_orders: list[str] = field(default_factory=list)
    adopted_orders: list[str] = field(default_factory=list)
    unknown_orders: list[str] = field(default_factory=list)
    foreign_orders: list[str] = field(default_factory=list)
    position_differences: list[tuple[OptionContract, int, int]] = field(default_factory=list)
    error: str | None = None

    @property
    def halt_reason(self) -> str | None:
        """Why new risk must wait, or ``None`` when nothing is in doubt."""
        parts = []
        if self.error:
            parts.append(f"reconciliation failed: {self.error}")
        if self.unknown_orders:
            parts.append(f"order fate unknown: {', '.join(self.unknown_orders)}")
        if self.position_differences:
            parts.append(
                "gateway positions differ from the journal: "
                + "; ".join(
                    f"{c.local_symbol} journal {j:+d} gateway {b:+d}"
                    for c, j, b in self.position_differences
                )
            )
        return " | ".join(parts) or None


class Reconciler:
    """Brings journal, portfolio and gateway into agreement; see the module doc.

    Args:
        engine: the engine whose broker, journal, portfolio and executor it uses.
        policy: what to do with a working order of this journal: ``adopt``
            (let the broker walk it to its end) or ``cancel``.
        log: structlog-style logger.
    """

    def __init__(
        self,
        engine: TradingEngine,
        policy: OpenOrderPolicy,
        log: Any,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.log = log

    async def run(self) -> ReconcileReport:
        """Reconcile once; sets the engine's entry halt from the result."""
        report = ReconcileReport()
        engine = self.engine
        try:
            crash_point("reconcile")
            await engine.broker.resync_executions()
            working = {o.order_ref: o for o in await engine.broker.open_orders()}
            await self._settle_orders(working, report)
            broker_positions = {p.contract: p.quantity for p in await engine.broker.positions()}
        except BrokerError as exc:
            report.error = str(exc)
        else:
            self._close_flat()
            report.foreign_orders = sorted(
                ref for ref in working if not ref or not engine.journal.order_exists(ref)
            )
            held = engine.portfolio.net_contracts()
            for contract in sorted(set(held) | set(broker_positions), key=_key):
                j, b = held.get(contract, 0), broker_positions.get(contract, 0)
                if j != b:
                    report.position_differences.append((contract, j, b))
        report.unknown_orders = sorted(
            ref
            for ref in engine.executor.live_orders
            if ref not in engine.executor.in_flight
            and engine.journal.get_order(ref).state is OrderState.UNKNOWN
        )
        await self._journal(report)
        engine.entry_halt = report.halt_reason
        return report

    async def _settle_orders(self, working: dict[str, Any], report: ReconcileReport) -> None:
        executor = self.engine.executor
        journal = self.engine.journal
        for ref, structure_id in sorted(executor.live_orders.items()):
            if ref in executor.in_flight:
                continue
            record = journal.get_order(ref)
            at_gateway = working.get(ref)
            if at_gateway is not None:
                await self._working(record, structure_id, report)
                continue
            units, avg_price = _filled_units(journal, record)
            state = OrderState.FILLED if units >= record.quantity else OrderState.CANCELLED
            executor.finish(
                ref,
                structure_id,
                state,
                filled=units,
                avg_price=avg_price,
                reason=(
                    f"reconciled: not working at the gateway; executions show {units} of "
                    f"{record.quantity} filled"
                ),
                close_reason=(
                    "not filled (reconciled)" if ref == structure_id else f"closed by order {ref}"
                ),
            )
            report.settled_orders.append(ref)

    def _close_flat(self) -> None:
        """Close structures that hold nothing and have no order that may still fill.

        A daemon killed before an opening order's intent, or between an
        order's end and the structure's close, leaves such a structure open
        in the journal with nothing at the gateway.
        """
        executor = self.engine.executor
        for position in self.engine.portfolio.unsettled():
            if position.is_flat and not executor.has_live_order(position.id):
                executor.close_if_done(
                    position,
                    "flat (reconciled)" if position.open_fills else "not filled (reconciled)",
                )

    async def _working(
        self, record: OrderRecord, structure_id: str, report: ReconcileReport
    ) -> None:
        executor = self.engine.executor
        ref = record.order_ref
        if self.policy == "cancel":
            status = await self.engine.broker.cancel_order(ref)
            if status is OrderStatus.CANCELLED:
                units, avg_price = _filled_units(self.engine.journal, record)
                executor.finish(
                    ref,
                    structure_id,
                    OrderState.CANCELLED,
                    filled=units,
                    avg_price=avg_price,
                    reason="reconciled: working order of an earlier run cancelled (policy cancel)",
                    close_reason=f"order {ref} cancelled at reconciliation",
                )
                report.settled_orders.append(ref)
            else:
                executor.transition(ref, status.lifecycle_state(0), reason="cancel not confirmed")
            return
        executor.transition(
            ref, OrderState.WORKING, reason="reconciled: adopted a working order of an earlier run"
        )
        report.adopted_orders.append(ref)
        order = ComboOrder(
            ref, record.legs, record.quantity, record.limit_price, record.worst_price
        )
        executor.in_flight.add(ref)
        try:
            result = await self.engine.broker.place_order(order)
        finally:
            executor.in_flight.discard(ref)
        executor.record_result(result, structure_id)

    async def _journal(self, report: ReconcileReport) -> None:
        reason = report.halt_reason
        if reason is None and not report.foreign_orders:
            if report.settled_orders or report.adopted_orders:
                self.log.info(
                    "reconciled",
                    settled=report.settled_orders,
                    adopted=report.adopted_orders,
                )
            return
        if reason is not None:
            self.log.error("entry_halted", reason=reason)
        inputs: dict[str, float | int | str | None] = {
            "unknown_orders": ", ".join(report.unknown_orders),
            "foreign_orders": ", ".join(report.foreign_orders),
            "settled_orders": ", ".join(report.settled_orders),
            "position_differences": len(report.position_differences),
        }
        for contract, j, b in report.position_differences:
            inputs[f"position {contract.local_symbol}"] = f"journal {j:+d} gateway {b:+d}"
        text = reason or f"orders at the gateway not from this journal: {inputs['foreign_orders']}"
        await self.engine.executor.execute(
            Plan.of(Decision(RECONCILE_RULE, Action.HOLD, Structure.CONDOR, text, inputs))
        )


def _key(contract: OptionContract) -> str:
    return contract.local_symbol


def _filled_units(journal: Journal, record: OrderRecord) -> tuple[int, float | None]:
    """Combo units of ``record`` that its journaled fills complete, and their average net
    price per unit (index points, + debit / - credit; ``None`` unless the fills are
    exactly those units of every leg)."""
    per_contract: dict[OptionContract, int] = {}
    cash = 0.0
    for fill in journal.fills_for_order(record.order_ref):
        per_contract[fill.contract] = per_contract.get(fill.contract, 0) + fill.quantity
        cash += fill.quantity * fill.price
    units: int | None = None
    for leg in record.legs:
        n = abs(per_contract.get(leg.contract, 0)) // abs(leg.ratio)
        units = n if units is None else min(units, n)
    units = units or 0
    exact = {leg.contract: leg.ratio * units for leg in record.legs}
    whole = units > 0 and {c: q for c, q in per_contract.items() if q} == exact
    return units, round(cash / units, 6) if whole else None
