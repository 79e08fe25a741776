"""``alvh run --dry-run``: real market data, simulated fills, nothing sent to the gateway.

:class:`DryRunBroker` wraps the IB adapter. Market data (context, chains,
quotes, settlement values) and the connection come from the gateway; orders
never reach it. :meth:`DryRunBroker.place_order` fills an order itself,
through the replay's fill model (:func:`daemon.brokers.fill_model.simulate_fill`):
every leg at its quoted mid moved against us by ``[replay]
slippage_pct_of_half_spread`` of its half spread, in full when the net is
within the order's worst price, with ``[replay]`` commission and fees. The
fills reach the engine's fill listener like a broker's, so they are journaled
(execution ids ``dry-r<run>-<n>``, never an IB id) and booked, and every rule
that follows a fill (hedge, management, exits, expiry settlement) runs as it
would in paper trading.

The book: runs journaled with mode ``dry-run``. A restart folds only the
dry-run runs of the same account (:func:`daemon.reconcile.book_runs`), so a
dry-run book never reaches a paper or live run and a paper book never reaches
a dry run.

Reconciliation: a dry run holds nothing at the gateway, so the gateway's real
positions and orders are never compared with it. Its "gateway" is its own
journal: :meth:`~DryRunBroker.positions` are the net contracts of the book's
journaled fills and settlements, :meth:`~DryRunBroker.open_orders` is empty (a
simulated order ends inside ``place_order``) and executions need no resync. So
reconciliation checks the in-memory book against the journal: an unrouted fill
or a fold that disagrees halts new risk, exactly as a gateway difference would.

The account (for the mark job's daily row): ``[replay] starting_cash`` plus
the cash of every journaled dry-run fill and settlement of the book, and net
liquidation adds the held options at their quoted mid.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from daemon.brokers.base import (
    AccountSnapshot,
    BrokerError,
    BrokerOrder,
    ComboOrder,
    FatalBrokerError,
    FillListener,
    MarginImpact,
    OrderResult,
    OrderStatus,
    Position,
    SettlementListener,
)
from daemon.brokers.fill_model import SimulationCosts, simulate_fill
from daemon.clock import NEW_YORK
from daemon.journal import Journal
from strategies.domain import OptionContract
from strategies.margin import margin_impact

#: What a dry run asks the gateway: market data, settlement values and the connection.
GATEWAY_READS = frozenset(
    {
        "connect",
        "disconnect",
        "connected",
        "account_id",
        "market_data_type",
        "market_context",
        "option_chain",
        "quote",
        "settlement_price",
    }
)

#: Execution ids of dry-run fills start with this (then ``r<run>-<n>``).
DRY_RUN_EXEC_PREFIX = "dry-"


def journal_book(
    journal: Journal, run_ids: Sequence[int]
) -> tuple[dict[OptionContract, int], float]:
    """Net contracts and cash of the journaled fills and settlements of ``run_ids``.

    Returns:
        (signed contracts per contract, omitting zeros; dollars received minus
        paid: premiums at the contract multiplier, commissions, settlement cash).
    """
    net: dict[OptionContract, int] = {}
    cash = 0.0
    for run_id in run_ids:
        for fill in journal.fills(run_id):
            net[fill.contract] = net.get(fill.contract, 0) + fill.quantity
            cash -= fill.quantity * fill.price * fill.contract.multiplier + fill.commission
        for settlement in journal.settlements(run_id):
            net[settlement.contract] = net.get(settlement.contract, 0) - settlement.quantity
            cash += settlement.cash
    return {c: q for c, q in net.items() if q}, cash


class DryRunBroker:
    """A broker that reads the gateway's market data and fills its own orders.

    Args:
        broker: the IB adapter (or any broker) market data comes from; its
            order methods are never called.
        log: structlog-style logger.
        journal: the run's journal (the dry-run book is read from it).
        run_id: this run; execution ids are ``dry-r<run_id>-<n>``.
        costs: the replay's fill and cost model (``[replay]``).
        starting_cash: dollars the dry-run account starts with (``[replay]``).
        clock: the daemon's clock (fill times).

    Attributes:
        book_runs: returns the runs whose fills make the dry-run book (set by
            ``run_live`` once the account is known; default: this run only).
    """

    def __init__(
        self,
        broker: Any,
        log: Any,
        journal: Journal,
        run_id: int,
        costs: SimulationCosts,
        starting_cash: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._broker = broker
        self._log = log
        self._journal = journal
        self._costs = costs
        self._starting_cash = starting_cash
        self._clock = clock
        self._exec_ids = itertools.count(1)
        self._seen_refs: set[str] = set()
        self._fill_listeners: list[FillListener] = []
        self._settlement_listeners: list[SettlementListener] = []
        self.exec_id_prefix = f"{DRY_RUN_EXEC_PREFIX}r{run_id}-"
        self.book_runs: Callable[[], Sequence[int]] = lambda: [run_id]
        self.name = f"dry-run({broker.name})"

    def __getattr__(self, name: str) -> Any:
        # Only what reads market data or the connection reaches the gateway; anything
        # else (a future order-like request, e.g. a what-if margin order, which IB
        # carries as a placeOrder) must be decided here, not passed through by default.
        if name in GATEWAY_READS:
            return getattr(self._broker, name)
        raise AttributeError(
            f"dry run: {name!r} is not passed to the gateway (daemon/dryrun.py decides "
            "what a dry run may ask it)"
        )

    # -- listeners: only this broker's own fills reach the engine --------------
    def add_fill_listener(self, listener: FillListener) -> None:
        """Listen to simulated fills only: the gateway's executions are not this book's."""
        self._fill_listeners.append(listener)

    def add_settlement_listener(self, listener: SettlementListener) -> None:
        """Accepted for the protocol; the engine settles expired options itself."""
        self._settlement_listeners.append(listener)

    # -- orders -------------------------------------------------------------
    async def place_order(self, order: ComboOrder) -> OrderResult:
        """Fill ``order`` at the legs' quotes through the replay's fill model; send nothing.

        A quote the gateway cannot give ends the order ``CANCELLED`` (nothing
        was sent, so its fate is known); only a :class:`FatalBrokerError` is raised.
        """
        if order.order_ref in self._seen_refs:
            return OrderResult(
                order.order_ref, OrderStatus.REJECTED, 0, None, (), "duplicate order_ref"
            )
        self._seen_refs.add(order.order_ref)
        contracts = [leg.contract for leg in order.legs]
        try:
            quoted = {q.contract: q for q in await self._broker.quote(contracts)}
        except FatalBrokerError:
            raise
        except BrokerError as exc:
            return self._not_filled(order, f"dry run: no quotes: {exc}")
        missing = [c.local_symbol for c in contracts if c not in quoted]
        if missing:
            return self._not_filled(order, f"dry run: no quote for {', '.join(missing)}")
        result = simulate_fill(
            order, [quoted[c] for c in contracts], self._costs, self._next_exec_id, self._clock()
        )
        self._log.info(
            "order_simulated",
            order_ref=order.order_ref,
            legs=[f"{leg.ratio:+d} {leg.contract.local_symbol}" for leg in order.legs],
            quantity=order.quantity,
            limit_price=order.limit_price,
            worst_price=order.worst_price,
            status=result.status.value,
            avg_price=result.avg_price,
            reason=result.reason or "dry run: filled at the quotes, not sent",
        )
        for fill in result.fills:
            for listener in self._fill_listeners:
                listener(fill)
        return result

    def _not_filled(self, order: ComboOrder, reason: str) -> OrderResult:
        self._log.warning("order_not_simulated", order_ref=order.order_ref, reason=reason)
        return OrderResult(order.order_ref, OrderStatus.CANCELLED, 0, None, (), reason)

    def _next_exec_id(self) -> str:
        return f"{self.exec_id_prefix}{next(self._exec_ids)}"

    async def cancel_order(self, order_ref: str) -> OrderStatus:
        """Nothing is ever working: a dry-run order ends inside :meth:`place_order`."""
        return OrderStatus.CANCELLED

    async def open_orders(self) -> list[BrokerOrder]:
        """None: the gateway's orders are not this book's, and a dry-run order never works."""
        return []

    async def resync_executions(self) -> None:
        """Nothing to resync: every simulated fill is journaled as it is made."""

    async def what_if(self, order: ComboOrder) -> MarginImpact | None:
        """The margin gate's what-if, decided here: the Reg-T model of
        :mod:`strategies.margin` on the dry-run book (its journaled holdings and
        cash), as replay does; nothing reaches the gateway (IB would answer for
        the real account, not this book)."""
        net, cash_flow = journal_book(self._journal, self.book_runs())
        commission = sum(
            abs(leg.ratio) * order.quantity * self._costs.per_contract(leg.contract)
            for leg in order.legs
        )
        return margin_impact(
            net,
            self._starting_cash + cash_flow,
            order.legs,
            order.quantity,
            order.limit_price,
            commission,
        )

    # -- the dry-run book ---------------------------------------------------
    async def positions(self) -> list[Position]:
        """The book's positions as its journal holds them (what reconciliation compares)."""
        net, _cash = journal_book(self._journal, self.book_runs())
        return [Position(c, q, math.nan) for c, q in net.items()]

    async def account(self) -> AccountSnapshot:
        """Starting cash plus the book's journaled cash; net liquidation at quoted mids.

        Held options without a usable quote (expired and not yet settled, or
        no two-sided quote) count at zero.
        """
        net, cash_flow = journal_book(self._journal, self.book_runs())
        cash = self._starting_cash + cash_flow
        session = self._clock().astimezone(NEW_YORK).date()
        live = [c for c in net if c.expiry >= session]
        value = 0.0
        if live:
            for quote in await self._broker.quote(live):
                mid = quote.mid
                if math.isfinite(mid) and quote.bid >= 0:
                    value += net.get(quote.contract, 0) * mid * quote.contract.multiplier
        account = getattr(self._broker, "account_id", None) or "DRY-RUN"
        return AccountSnapshot(account, cash, cash + value)
